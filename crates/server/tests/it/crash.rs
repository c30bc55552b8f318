//! Durability: a message acknowledged with 250 survives `kill -9` of the server at any moment,
//! exactly once, and no half-stored message is ever visible.

use crate::cli::{free_port_base, signal, start_server};
use carepost_config::{Config, dev_config_path};
use carepost_server::Context;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

/// Sends `n` messages from 4 threads, printing `ACK <i>` after each 250.
const SENDER: &str = r#"
import smtplib, sys, threading
port, to, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
def send(start):
    try:
        s = smtplib.SMTP('127.0.0.1', port, timeout=30)
        s.ehlo('peer.example')
        for i in range(start, n, 4):
            msg = ('From: lab@example.org\r\nSubject: crash-%d\r\nMessage-ID: <c%d@example.org>\r\n\r\n' % (i, i)).encode() + b'x' * 2000 + b'\r\n'
            s.sendmail('lab@example.org', [to], msg)
            with lock:
                print('ACK', i, flush=True)
    except Exception as e:
        with lock:
            print('STOP', start, type(e).__name__, flush=True)
ts = [threading.Thread(target=send, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join()
"#;

#[tokio::test]
async fn kill_9_during_delivery_loses_no_acknowledged_message() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let base = free_port_base();
    let (server, _, banner) = start_server(&[
        "serve",
        "--dev",
        "--data",
        data.to_str().unwrap(),
        "--port-base",
        &base.to_string(),
    ]);
    assert!(
        banner.contains(&format!("smtp    127.0.0.1:{}", base + 25)),
        "{banner}"
    );
    let mut sender = Command::new("python3")
        .args([
            "-c",
            SENDER,
            &(base + 25).to_string(),
            "administrator@kaiser.org",
            "1000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut killed = false;
    for line in BufReader::new(sender.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(i) = line.strip_prefix("ACK ") {
            acked.push(i.parse::<u32>().unwrap());
        }
        if acked.len() == 400 && !killed {
            signal(&server, "KILL");
            killed = true;
        }
    }
    sender.wait().unwrap();
    assert!(
        killed,
        "the server was killed mid-stream ({} acknowledged)",
        acked.len()
    );
    assert!(
        acked.len() < 1000,
        "some messages were refused after the kill"
    );

    // Start again on the same data and look at the mailbox.
    let config = Arc::new(Config::load(&dev_config_path(&data)).unwrap());
    let context = Context::open(config).await.unwrap();
    let mail = &context.mail;
    let admin = match mail.resolve("administrator@kaiser.org").await.unwrap() {
        carepost_mail::Recipient::Local { account, .. } => account,
        other => panic!("{other:?}"),
    };
    let mut seen: HashMap<u32, u32> = HashMap::new();
    for m in mail.messages(admin, "INBOX").await.unwrap() {
        let body = mail
            .read_body(&m.blob_id)
            .await
            .expect("every visible message has its body");
        let text = String::from_utf8(body).unwrap();
        let i = text
            .split("Subject: [EXTERNAL] crash-")
            .nth(1)
            .and_then(|r| r.split("\r\n").next())
            .unwrap()
            .parse::<u32>()
            .unwrap();
        *seen.entry(i).or_default() += 1;
    }
    for i in &acked {
        assert_eq!(
            seen.get(i),
            Some(&1),
            "acknowledged message {i} is there exactly once"
        );
    }
    assert!(seen.values().all(|n| *n == 1), "no message twice");
    assert!(context.store.ping().await.is_ok());
}
