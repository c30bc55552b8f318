//! `carepost init` and `carepost serve` through the real binary: configs, listeners, signals.

use crate::cli::{
    fails, free_port_base, init_config, init_serve_and_stop, json, signal, start_server,
};
use carepost_testkit::{TestDb, https_get};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn init_then_serve_on_sqlite() {
    init_serve_and_stop(None).await;
}

#[tokio::test]
async fn init_then_serve_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    init_serve_and_stop(Some(&db.url)).await;
}

#[test]
fn serve_reports_every_config_error_at_once() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("bad.toml");
    std::fs::write(
        &path,
        "[organization]\ndomain = \"not a domain\"\n[store]\nurl = \"mysql://x\"\n\
         [listeners]\nhttps = \"everywhere\"\n[address]\ntemplate = \"{first}.{nick}\"\n",
    )
    .unwrap();
    let e = fails(&["serve", "--config", path.to_str().unwrap()]);
    for key in [
        "organization.name",
        "organization.domain",
        "store.url",
        "listeners.https",
        "address.template",
        "secrets.master_key",
    ] {
        assert!(e.contains(key), "{key} missing from: {e}");
    }
}

#[tokio::test]
async fn serve_dev_runs_on_postgres_with_store_url() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let base = free_port_base();
    let (mut child, https, banner) = start_server(&[
        "serve",
        "--dev",
        "--data",
        data.to_str().unwrap(),
        "--port-base",
        &base.to_string(),
        "--store-url",
        &db.url,
    ]);
    assert!(banner.contains("postgres://"), "{banner}");
    assert_eq!(https.port(), base + 443);
    let (status, _) = https_get(https, "/healthz", &data.join("tls/cert.pem")).await;
    assert_eq!(status, 200);
    // Admin commands given the same --data find the same PostgreSQL store.
    let listed = json(&[
        "--data",
        data.to_str().unwrap(),
        "--json",
        "account",
        "list",
    ]);
    assert_eq!(listed[0]["address"], "administrator@kaiser.org");
    signal(&child, "INT");
    assert!(child.wait().unwrap().success(), "Ctrl-C stops cleanly");
}

#[tokio::test]
async fn serve_dev_on_sqlite_answers_and_stops_on_ctrl_c() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("carepost-data");
    let base = free_port_base();
    let (child, https, banner) = start_server(&[
        "serve",
        "--dev",
        "--data",
        data.to_str().unwrap(),
        "--port-base",
        &base.to_string(),
        "--log-format",
        "json",
    ]);
    assert!(banner.contains("(development mode)"), "{banner}");
    assert!(banner.contains("one-time password"), "{banner}");
    assert!(
        banner.contains(&format!("http    http://127.0.0.1:{}/", base + 80)),
        "{banner}"
    );
    let (status, _) = https_get(https, "/readyz", &data.join("tls/cert.pem")).await;
    assert_eq!(status, 200);
    let listed = json(&[
        "--data",
        data.to_str().unwrap(),
        "--json",
        "account",
        "list",
    ]);
    assert_eq!(listed[0]["address"], "administrator@kaiser.org");
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "Ctrl-C stops cleanly");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in ["master.key", "carepost-dev.toml", "tls/key.pem"] {
            let mode = std::fs::metadata(data.join(secret))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{secret} is readable by others: {mode:o}");
        }
    }
}

#[test]
fn logs_are_json_lines_with_log_format_json() {
    let d = tempfile::tempdir().unwrap();
    let config = init_config(d.path(), None);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("level = \"info\"", "level = \"debug\"");
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_carepost"))
        .args(["serve", "--config", &config, "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Debug logs can fill the stderr pipe before the banner ends: read it alongside, or the
    // server blocks writing a log line and the banner never comes.
    let mut err = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut err, &mut text).unwrap();
        text
    });
    let stdout = BufReader::new(child.stdout.take().unwrap());
    for line in stdout.lines() {
        if line.unwrap().starts_with("Ctrl-C") {
            break;
        }
    }
    signal(&child, "TERM");
    let status = child.wait().unwrap();
    let stderr = logs.join().unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no logs at debug level");
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some(), "{l}");
    }
}

#[test]
fn a_start_that_cannot_listen_creates_no_administrator() {
    let d = tempfile::tempdir().unwrap();
    let config = init_config(d.path(), None);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "https = \"127.0.0.1:0\"",
        &format!("https = \"127.0.0.1:{port}\""),
    );
    std::fs::write(&config, text).unwrap();
    let e = fails(&["serve", "--config", &config]);
    assert!(e.contains("cannot listen for https"), "{e}");
    drop(taken);
    let listed = json(&["--config", &config, "--json", "account", "list"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        0,
        "the password would have been lost"
    );
}
