//! Mail leaving the organization: queued in the same commit as the local copies, DKIM-signed,
//! delivered to the next hop (a local sink standing in for the other organization), retried
//! after a deferral, returned to the sender with a delivery status notification when refused
//! or when the queue gives up.

use crate::auth::GOOD;
use carepost_identity::Actor;
use carepost_mail::{MailStore, Origin, SenderAuth};
use carepost_testkit::{SinkMode, SmtpSink, TestDb, TestServer};
use std::time::Duration;
use tokio::process::Command;

const SEND: &str = r#"
import smtplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx)
s.login(user, password)
to = sys.argv[4:]
msg = 'From: ' + user + '\r\nTo: ' + ', '.join(to) + '\r\nSubject: Referral\r\n\r\nPlease see the attached referral.\r\n'
print(s.sendmail(user, to, msg.encode()))
s.quit()
"#;

pub(crate) async fn start(db: TestDb, sink: &SmtpSink) -> (TestServer, String, tempfile::TempDir) {
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("dkim.pem");
    carepost_mail::generate_key_file(&key).unwrap();
    let relay = ("127.0.0.1".to_string(), sink.addr.port());
    let s = TestServer::start_with(db, |c| {
        c.mail.relay_host = Some(relay);
        c.mail.dkim_key = Some(key);
    })
    .await;
    let dir = &s.running.context.directory;
    let admin = Actor::local_cli("tester");
    dir.create_department(&admin, "Cardiology", None)
        .await
        .unwrap();
    let new = crate::support::new_account("Ann", None, "Lee", "E1", "Cardiology");
    let ann = dir.create_account(&admin, &new).await.unwrap().address;
    dir.set_password(&admin, &ann, GOOD).await.unwrap();
    (s, ann, keys)
}

async fn send(s: &TestServer, from: &str, to: &[&str]) {
    let port = s.running.submissions.unwrap().port().to_string();
    let out = Command::new("python3")
        .args(["-c", SEND, &port, from, GOOD])
        .args(to)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn mail(s: &TestServer) -> &MailStore {
    &s.running.context.mail
}

/// Waits (bounded) until the queue worker has settled every recipient or `until` holds.
pub(crate) async fn settle(
    s: &TestServer,
    until: impl Fn(&[carepost_mail::QueuedMessage]) -> bool,
) {
    let wait = async {
        loop {
            let q = mail(s).queue().await.unwrap();
            if until(&q) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the queue settles");
}

async fn inbox_of(s: &TestServer, address: &str) -> Vec<String> {
    crate::smtp::bodies(s, address, "INBOX").await
}

#[tokio::test]
async fn submitted_mail_leaves_dkim_signed_and_verifies_on_the_way_back_in() {
    for db in carepost_testkit::backends().await {
        let sink = SmtpSink::start().await;
        let (s, ann, keys) = start(db, &sink).await;
        send(&s, &ann, &["dr.who@clinic.example", "nurse@clinic.example"]).await;
        settle(&s, |q| q.is_empty()).await;
        let got = sink.messages();
        assert_eq!(
            got.len(),
            1,
            "one transaction for both recipients of the domain"
        );
        assert_eq!(got[0].from, ann);
        assert_eq!(got[0].to.len(), 2);
        let raw = &got[0].data;
        let text = String::from_utf8_lossy(raw);
        assert!(text.starts_with("DKIM-Signature: "), "{text}");
        assert!(
            text.contains("d=kaiser.org") && text.contains("s=carepost"),
            "{text}"
        );

        // The record `carepost dkim show` prints lets an independent verifier check it.
        let verdict = verify_elsewhere(&keys, &ann, raw).await;
        assert!(verdict.results.contains("dkim=pass"), "{}", verdict.results);
        assert!(dkimpy_verifies(&keys, raw).await, "dkimpy refuses: {text}");
        assert!(
            verdict.results.contains("dmarc=pass"),
            "{}",
            verdict.results
        );
    }
}

/// Whether dkimpy, a verifier independent of the mail-auth crate that signs, accepts `raw`
/// with the record `carepost dkim show` prints.
async fn dkimpy_verifies(keys: &tempfile::TempDir, raw: &[u8]) -> bool {
    const VERIFY: &str = r#"
import dkim, sys
msg = open(sys.argv[1], 'rb').read()
name, record = sys.argv[2].rstrip('.'), sys.argv[3]
def dns(qname, timeout=5):
    q = qname.decode() if isinstance(qname, bytes) else qname
    return record.encode() if q.rstrip('.') == name else None
print(dkim.verify(msg, dnsfunc=dns))
"#;
    let key = carepost_mail::DkimKey::load(&keys.path().join("dkim.pem"), "kaiser.org", "carepost")
        .unwrap();
    let path = keys.path().join("relayed.eml");
    std::fs::write(&path, raw).unwrap();
    let path = path.display().to_string();
    let out = crate::smtp::python(VERIFY, &[&path, &key.dns_name(), &key.dns_record()]).await;
    out.trim() == "True"
}

/// What the next organization's verifier says of `raw` from `sender`, with the DNS records
/// `carepost dkim show` prints and an SPF record for this host.
async fn verify_elsewhere(
    keys: &tempfile::TempDir,
    sender: &str,
    raw: &[u8],
) -> carepost_mail::Verdict {
    let key = carepost_mail::DkimKey::load(&keys.path().join("dkim.pem"), "kaiser.org", "carepost")
        .unwrap();
    let verifier =
        SenderAuth::from_system("mx.clinic.example", vec!["clinic.example".into()]).unwrap();
    verifier
        .preload_txt(&key.dns_name(), &key.dns_record())
        .unwrap();
    verifier
        .preload_txt("kaiser.org", "v=spf1 ip4:127.0.0.1 -all")
        .unwrap();
    verifier
        .preload_txt("_dmarc.kaiser.org", "v=DMARC1; p=reject")
        .unwrap();
    let origin = Origin {
        ip: "127.0.0.1".parse().unwrap(),
        helo: "mail.kaiser.org",
        mail_from: sender,
        header_from: sender,
        header_sender: None,
    };
    verifier.verify(raw, origin).await
}

#[tokio::test]
async fn a_submitted_body_with_bare_line_breaks_leaves_signed_as_it_is_sent() {
    let sink = SmtpSink::start().await;
    let (s, ann, keys) = start(TestDb::sqlite(), &sink).await;
    let raw = format!(
        "From: {ann}\r\nTo: dr.who@clinic.example\r\nSubject: lines\r\n\r\none\ntwo\rthree\n\nfour"
    );
    let out =
        crate::spoofing::submit_raw(&s, &ann, "dr.who@clinic.example", &[raw.into_bytes()]).await;
    assert!(crate::imap::line_of(&out, "msg0 ").contains("250"), "{out}");
    settle(&s, |q| q.is_empty()).await;
    let got = sink.messages();
    let sent = &got[0].data;
    let text = String::from_utf8_lossy(sent);
    assert!(text.contains("one\r\ntwo\r\nthree\r\n\r\nfour"), "{text:?}");
    let verdict = verify_elsewhere(&keys, &ann, sent).await;
    assert!(verdict.results.contains("dkim=pass"), "{}", verdict.results);
    assert!(
        dkimpy_verifies(&keys, sent).await,
        "dkimpy refuses: {text:?}"
    );
}

#[tokio::test]
async fn a_copy_relayed_outside_does_not_name_a_local_recipient() {
    let sink = SmtpSink::start().await;
    let (s, ann, _keys) = start(TestDb::sqlite(), &sink).await;
    let dir = &s.running.context.directory;
    let bob = crate::support::add_person(dir, ("Bob", "Marsh", "E2"), "Cardiology", "nurse").await;
    // One recipient outside, one inside (a Bcc, say).
    send(&s, &ann, &["dr.who@clinic.example", &bob]).await;
    settle(&s, |q| q.is_empty()).await;
    let got = sink.messages();
    let text = String::from_utf8_lossy(&got[0].data);
    let received = text
        .split("\r\n")
        .skip_while(|l| !l.starts_with("Received:"))
        .take_while(|l| l.starts_with("Received:") || l.starts_with('\t'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!received.is_empty(), "{text}");
    assert!(!received.contains("for <"), "{received}");
    // Bob's own copy may say it was for him; it does not either, being the same message.
    let inbox = inbox_of(&s, &bob).await;
    assert_eq!(inbox.len(), 1);
}

#[tokio::test]
async fn a_deferred_recipient_is_retried_and_a_refused_one_comes_back_as_a_dsn() {
    for db in carepost_testkit::backends().await {
        let sink = SmtpSink::start().await;
        let (s, ann, _keys) = start(db, &sink).await;
        sink.set_mode(SinkMode::Defer);
        send(&s, &ann, &["later@clinic.example"]).await;
        settle(&s, |q| {
            q.first().is_some_and(|m| {
                m.recipients[0].attempts >= 1 && m.recipients[0].last_error.is_some()
            })
        })
        .await;
        let q = mail(&s).queue().await.unwrap();
        assert_eq!(q[0].recipients[0].status, "pending");
        assert!(
            q[0].recipients[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("451"),
            "{q:?}"
        );
        assert!(sink.messages().is_empty());

        sink.set_mode(SinkMode::Accept);
        mail(&s)
            .retry_queued(&carepost_audit::Actor::System, None)
            .await
            .unwrap();
        settle(&s, |q| q.is_empty()).await;
        assert_eq!(sink.messages().len(), 1, "delivered on retry");

        sink.set_mode(SinkMode::Refuse);
        send(&s, &ann, &["nobody@clinic.example"]).await;
        settle(&s, |q| q.is_empty()).await;
        let inbox = inbox_of(&s, &ann).await;
        assert_eq!(inbox.len(), 1, "the notice is in the sender's INBOX");
        let dsn = &inbox[0];
        assert!(dsn.contains("multipart/report"), "{dsn}");
        assert!(
            dsn.contains("report-type=\"delivery-status\"")
                || dsn.contains("report-type=delivery-status"),
            "{dsn}"
        );
        assert!(
            dsn.contains("Final-Recipient: rfc822; nobody@clinic.example"),
            "{dsn}"
        );
        assert!(
            dsn.contains("Status: 5.1.1"),
            "the receiver's own code: {dsn}"
        );
        assert!(dsn.contains("550 5.1.1 no such user here"), "{dsn}");
        assert!(
            dsn.contains("Subject: Referral"),
            "the original header comes back: {dsn}"
        );
    }
}

#[tokio::test]
async fn the_queue_gives_up_after_its_lifetime_and_says_so() {
    let sink = SmtpSink::start().await;
    let (s, ann, _keys) = start(TestDb::sqlite(), &sink).await;
    sink.set_mode(SinkMode::Defer);
    send(&s, &ann, &["slow@clinic.example"]).await;
    settle(&s, |q| {
        q.first()
            .is_some_and(|m| m.recipients[0].last_error.is_some())
    })
    .await;
    s.clock.advance(Duration::from_secs(6 * 86_400));
    mail(&s)
        .retry_queued(&carepost_audit::Actor::System, None)
        .await
        .unwrap();
    settle(&s, |q| q.is_empty()).await;
    let inbox = inbox_of(&s, &ann).await;
    assert_eq!(inbox.len(), 1);
    assert!(inbox[0].contains("Status: 4.4.7"), "{}", inbox[0]);
    assert!(inbox[0].contains("gave up after"), "{}", inbox[0]);
}

#[tokio::test]
async fn a_domain_that_does_not_exist_or_takes_no_mail_is_returned_at_once() {
    // A local DNS server stands in for the world's (`mail.dns_servers`).
    let (_dns, server) = crate::delivery_tls::dns_server(None).await;
    let s = TestServer::start_with(TestDb::sqlite(), |c| c.mail.dns_servers = vec![server]).await;
    let dir = &s.running.context.directory;
    let admin = Actor::local_cli("tester");
    dir.create_department(&admin, "Cardiology", None)
        .await
        .unwrap();
    let new = crate::support::new_account("Ann", None, "Lee", "E1", "Cardiology");
    let ann = dir.create_account(&admin, &new).await.unwrap().address;
    dir.set_password(&admin, &ann, GOOD).await.unwrap();
    for to in [
        "lab@nosuch.example",
        "lab@nullmx.example",
        "lab@nomx.example",
    ] {
        send(&s, &ann, &[to]).await;
    }
    // The first two come back at once; the third is tried at the domain's own address
    // (RFC 5321 section 5.1), which refuses here, so it waits for its next try.
    settle(&s, |q| {
        q.len() == 1
            && q[0].recipients[0].recipient == "lab@nomx.example"
            // A claimed recipient counts its attempt before the attempt ends: wait for its
            // outcome too.
            && q[0].recipients[0].last_error.is_some()
    })
    .await;
    let q = mail(&s).queue().await.unwrap();
    let error = q[0].recipients[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("nomx.example:25"), "{error}");
    assert_eq!(q[0].recipients[0].status, "pending");
    let inbox = inbox_of(&s, &ann).await;
    let dsns: Vec<&String> = inbox
        .iter()
        .filter(|m| m.contains("Undelivered mail"))
        .collect();
    assert_eq!(dsns.len(), 2, "{inbox:?}");
    assert!(
        dsns.iter()
            .any(|m| m.contains("5.1.2") && m.contains("nosuch.example does not exist"))
    );
    assert!(
        dsns.iter()
            .any(|m| m.contains("5.1.10") && m.contains("null MX"))
    );
}
