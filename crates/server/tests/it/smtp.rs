//! The SMTP listeners driven by real clients: python3's smtplib and swaks, and a raw socket
//! where a client library would hide what is tested (pipelining, BDAT, bad input).

use crate::auth::GOOD;
use carepost_identity::{Actor, Protocol, Refusal, SignIn};
use carepost_mail::MailStore;
use carepost_testkit::{TestDb, TestServer};
use carepost_types::AccountId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

fn admin() -> Actor {
    Actor::local_cli("tester")
}

/// A server with two staff members who have passwords: (server, ann, bob).
pub(crate) async fn server_with_staff(db: TestDb) -> (TestServer, String, String) {
    let s = TestServer::start(db).await;
    let (ann, bob) = add_staff(&s).await;
    (s, ann, bob)
}

/// Two staff members with passwords, in a new department Cardiology: (ann, bob).
pub(crate) async fn add_staff(s: &TestServer) -> (String, String) {
    let dir = &s.running.context.directory;
    dir.create_department(&admin(), "Cardiology", None)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (first, last, id) in [("Ann", "Lee", "E1"), ("Bob", "Stone", "E2")] {
        let new = crate::support::new_account(first, None, last, id, "Cardiology");
        let a = dir.create_account(&admin(), &new).await.unwrap().address;
        dir.set_password(&admin(), &a, GOOD).await.unwrap();
        out.push(a);
    }
    let bob = out.pop().unwrap();
    let ann = out.pop().unwrap();
    (ann, bob)
}

fn mail(s: &TestServer) -> &MailStore {
    &s.running.context.mail
}

async fn account_of(s: &TestServer, address: &str) -> AccountId {
    crate::mail::account(mail(s), address).await
}

/// The bodies in one of the account's mailboxes, oldest first.
pub(crate) async fn bodies(s: &TestServer, address: &str, mailbox: &str) -> Vec<String> {
    let account = account_of(s, address).await;
    let mut out = Vec::new();
    for m in mail(s).messages(account, mailbox).await.unwrap_or_default() {
        let raw = mail(s).read_body(&m.blob_id).await.unwrap();
        out.push(String::from_utf8(raw).unwrap());
    }
    out
}

/// Runs a python3 script with arguments; its stdout, or a panic with its stderr. (Async: the
/// server under test runs on this test's runtime.)
pub(crate) async fn python(script: &str, args: &[&str]) -> String {
    python_with("python3", script, args).await
}

/// As `python`, with another interpreter (a virtual environment's).
pub(crate) async fn python_with(interpreter: &str, script: &str, args: &[&str]) -> String {
    let out = Command::new(interpreter)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .await
        .expect("python3 is installed by scripts/install-test-deps");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const SUBMIT: &str = r#"
import smtplib, ssl, sys
port, user, password, to = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port)
s.ehlo('laptop')
print('auth-before-tls', s.has_extn('auth'))
print('mail-before-auth', s.docmd('MAIL FROM:<' + user + '>')[0])
s.starttls(context=ctx)
s.ehlo('laptop')
print('auth-after-tls', s.has_extn('auth'))
try:
    s.login(user, 'wrong password here')
except smtplib.SMTPAuthenticationError as e:
    print('bad-login', e.smtp_code)
s.login(user, password)
msg = 'From: ' + user + '\r\nTo: ' + to + '\r\nSubject: Handover\r\n\r\nBed 12 needs a review.\r\n'
print('sent', s.sendmail(user, [to], msg.encode()))
for env_from, hdr_from in [('ceo@kaiser.org', user), (user, 'ceo@kaiser.org')]:
    try:
        s.sendmail(env_from, [to], ('From: ' + hdr_from + '\r\nSubject: x\r\n\r\nx\r\n').encode())
        print('spoof accepted')
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as e:
        print('spoof', e.smtp_code, e.smtp_error.decode())
print('remote', s.sendmail(user, ['someone@elsewhere.example'], ('From: ' + user + '\r\n\r\nx\r\n').encode()))
s.quit()
"#;

#[tokio::test]
async fn rfc6409_submission_needs_tls_and_auth_then_delivers_with_a_sent_copy() {
    for db in carepost_testkit::backends().await {
        // A next hop that refuses connections: the remote copy stays queued, whatever DNS
        // this machine has for the example domain.
        let s = TestServer::start_with(db, |c| {
            c.mail.relay_host = Some(("127.0.0.1".into(), 9));
        })
        .await;
        let (ann, bob) = add_staff(&s).await;
        let port = s.running.submission.unwrap().port().to_string();
        let out = python(SUBMIT, &[&port, &ann, GOOD, &bob]).await;
        assert!(out.contains("auth-before-tls False"), "{out}");
        assert!(out.contains("mail-before-auth 530"), "{out}");
        assert!(out.contains("auth-after-tls True"), "{out}");
        assert!(out.contains("bad-login 535"), "{out}");
        assert!(out.contains("sent {}"), "{out}");
        assert!(
            out.contains("spoof 550 5.7.1 You may only send as your own address"),
            "{out}"
        );
        assert!(
            out.contains("spoof 550 5.7.1 The From: and Sender: headers must be your own"),
            "{out}"
        );
        assert!(out.contains("remote {}"), "queued for the outside: {out}");
        let queued = mail(&s).queue().await.unwrap();
        assert_eq!(
            queued[0].recipients[0].recipient,
            "someone@elsewhere.example"
        );
        let inbox = bodies(&s, &bob, "INBOX").await;
        assert_eq!(inbox.len(), 1, "{inbox:?}");
        let m = &inbox[0];
        assert!(m.contains("Bed 12 needs a review."), "{m}");
        assert!(
            m.contains("\r\nMessage-ID: <") || m.starts_with("Received:"),
            "{m}"
        );
        assert!(
            m.contains("Message-ID: <") && m.contains("@mail.kaiser.org>"),
            "added: {m}"
        );
        assert!(m.contains("\r\nDate: "), "added: {m}");
        assert!(m.contains("with ESMTPSA"), "{m}");
        assert!(
            !m.contains("[EXTERNAL]"),
            "internal mail is not tagged: {m}"
        );
        let sent = bodies(&s, &ann, "Sent").await;
        assert_eq!(sent.len(), 2, "the handover and the message to the outside");
        let ann_id = account_of(&s, &ann).await;
        let sent_rows = mail(&s).messages(ann_id, "Sent").await.unwrap();
        assert_eq!(sent_rows[0].flags, "\\Seen");
        assert_eq!(
            sent_rows[0].blob_id,
            mail(&s)
                .messages(account_of(&s, &bob).await, "INBOX")
                .await
                .unwrap()[0]
                .blob_id,
            "one body for both copies"
        );
    }
}

/// Signs in, sends one message, waits for a line on stdin, then starts another.
const SUBMIT_TWICE: &str = r#"
import smtplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port)
s.starttls(context=ctx)
s.login(user, password)
s.sendmail(user, [user], 'From: ' + user + '\r\nTo: ' + user + '\r\nSubject: one\r\n\r\nfirst\r\n')
print('first sent', flush=True)
sys.stdin.readline()
code, text = s.docmd('MAIL FROM:<' + user + '>')
print('then', code, text.decode())
"#;

/// Runs a Python client that prints one line and then waits for a line on stdin; `change`
/// runs in between. Returns that first line and the rest of what the client printed.
pub(crate) async fn python_paused(
    script: &str,
    args: &[&str],
    change: impl std::future::Future<Output = ()>,
) -> (String, String) {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(script).args(args);
    paused(cmd, change).await
}

/// Runs `cmd`, which prints one line and then waits for a line on stdin; `change` runs in
/// between. Returns that first line and the rest of what it printed.
pub(crate) async fn paused(
    mut cmd: Command,
    change: impl std::future::Future<Output = ()>,
) -> (String, String) {
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut first)
        .await
        .unwrap();
    change.await;
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"\n")
        .await
        .unwrap();
    drop(stdin);
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut rest)
        .await
        .unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{first}{rest}");
    (first, rest)
}

#[tokio::test]
async fn a_submission_connection_stops_sending_once_the_password_is_reset() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let port = s.running.submission.unwrap().port().to_string();
        let reset = async {
            s.clock.advance(std::time::Duration::from_secs(1));
            let cli = carepost_identity::Actor::local_cli("tester");
            s.running
                .context
                .directory
                .set_password(&cli, &ann, "a fresh horse battery staple 7")
                .await
                .unwrap();
        };
        let (first, rest) = python_paused(SUBMIT_TWICE, &[&port, &ann, GOOD], reset).await;
        assert_eq!(first.trim(), "first sent");
        assert!(
            rest.contains("then 421 4.7.0 Your account, password or app password has changed"),
            "{rest}"
        );
    }
}

const MX: &str = r#"
import smtplib, sys
port, to = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP('127.0.0.1', port)
s.ehlo('mx.example.org')
print('size', s.esmtp_features.get('size'))
print('auth', s.has_extn('auth'))
msg = b'From: Lab <lab@example.org>\r\nTo: ' + to.encode() + b'\r\nSubject: Results ready\r\nMessage-ID: <lab1@example.org>\r\n\r\nSee the portal.\r\n'
print('sent', s.sendmail('lab@example.org', [to], msg))
for rcpt in ['nobody@kaiser.org', 'someone@gmail.com']:
    try:
        s.sendmail('lab@example.org', [rcpt], b'Subject: x\r\n\r\nx\r\n')
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        print('refused', rcpt, code, text.decode())
code, text = s.docmd('MAIL FROM:<lab@example.org> SIZE=999999999')
print('declared-size', code, text.decode())
s.rset()
s.mail('lab@example.org')
s.rcpt(to)
print('oversize', s.data(b'Subject: big\r\n\r\n' + b'x' * 5000 + b'\r\n')[0])
print('vrfy', s.docmd('VRFY ' + to)[0], 'expn', s.docmd('EXPN all')[0])
s.quit()
"#;

#[tokio::test]
async fn the_mx_takes_mail_for_the_organization_only_and_marks_it_external() {
    for db in carepost_testkit::backends().await {
        let s = TestServer::start_with(db, |c| c.mail.max_message_size = 4096).await;
        let dir = &s.running.context.directory;
        dir.create_department(&admin(), "Lab", None).await.unwrap();
        let new = crate::support::new_account("Ann", None, "Lee", "E1", "Lab");
        let ann = dir.create_account(&admin(), &new).await.unwrap().address;
        let port = s.running.smtp.unwrap().port().to_string();
        let out = python(MX, &[&port, &ann]).await;
        assert!(out.contains("size 4096"), "{out}");
        assert!(out.contains("auth False"), "{out}");
        assert!(out.contains("sent {}"), "{out}");
        assert!(out.contains("refused nobody@kaiser.org 550 5.1.1"), "{out}");
        assert!(
            out.contains("refused someone@gmail.com 550 5.7.1 Relaying denied"),
            "{out}"
        );
        assert!(out.contains("declared-size 552 5.3.4"), "{out}");
        assert!(out.contains("oversize 552"), "{out}");
        assert!(out.contains("vrfy 252 expn 550"), "{out}");
        let inbox = bodies(&s, &ann, "INBOX").await;
        assert_eq!(inbox.len(), 1);
        let m = &inbox[0];
        assert!(m.starts_with("Return-Path: <lab@example.org>\r\nReceived: from mx.example.org (127.0.0.1) by mail.kaiser.org with ESMTP"), "{m}");
        assert!(m.contains("X-Carepost-External: yes\r\n"), "{m}");
        assert!(m.contains("Subject: [EXTERNAL] Results ready\r\n"), "{m}");
    }
}

#[tokio::test]
async fn swaks_submits_over_implicit_tls_and_starttls() {
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    for (port, tls) in [
        (s.running.submissions.unwrap().port(), "--tls-on-connect"),
        (s.running.submission.unwrap().port(), "--tls"),
    ] {
        let out = Command::new("swaks")
            .args(["--server", "127.0.0.1", "--port", &port.to_string(), tls])
            .args([
                "--auth",
                "PLAIN",
                "--auth-user",
                &ann,
                "--auth-password",
                GOOD,
            ])
            .args([
                "--from",
                &ann,
                "--to",
                &bob,
                "--header",
                &format!("From: {ann}"),
            ])
            .args(["--body", "Sent with swaks", "--helo", "ward-pc"])
            .output()
            .await
            .expect("swaks is installed by scripts/install-test-deps");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("235 2.7.0"), "{text}");
        assert!(text.contains("250 2.0.0 Message accepted"), "{text}");
    }
    assert_eq!(bodies(&s, &bob, "INBOX").await.len(), 2);
}

#[tokio::test]
async fn swaks_pipelines_to_the_mx() {
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    let port = s.running.smtp.unwrap().port().to_string();
    let out = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &port, "--pipeline"])
        .args([
            "--from",
            "nurse@partner.example",
            "--to",
            &format!("{ann},{bob}"),
        ])
        .args(["--helo", "partner.example"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(bodies(&s, &ann, "INBOX").await.len(), 1);
    assert_eq!(bodies(&s, &bob, "INBOX").await.len(), 1);
}

/// Sends `input` at once and reads until the reply to QUIT.
pub(crate) async fn raw_session(addr: std::net::SocketAddr, input: &[u8]) -> String {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(input).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tcp.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.windows(4).any(|w| w == b"221 ") {
            break;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn rfc3030_bdat_chunks_and_bad_input_get_protocol_answers() {
    let (s, ann, _) = server_with_staff(TestDb::sqlite()).await;
    let addr = s.running.smtp.unwrap();
    let chunk1 = "From: x@peer.example\r\nSubject: chunked\r\n\r\nfirst ";
    let chunk2 = "second\r\n";
    let input = format!(
        "EHLO peer.example\r\nMAIL FROM:<x@peer.example> BODY=8BITMIME\r\nRCPT TO:<{ann}>\r\nBDAT {} \r\n{chunk1}BDAT {} LAST\r\n{chunk2}\
         FOO\r\nMAIL FROM:<<>\r\nRCPT TO:<{ann}>\r\nDATA\r\n{}\r\nQUIT\r\n",
        chunk1.len(),
        chunk2.len(),
        "N".repeat(5000),
    );
    let out = raw_session(addr, input.as_bytes()).await;
    assert!(out.contains("250 2.0.0 Chunk received"), "{out}");
    assert!(out.contains("250 2.0.0 Message accepted"), "{out}");
    assert!(out.contains("500 5.5.1 Unknown command"), "{out}");
    assert!(out.contains("501 5.1.7"), "{out}");
    assert!(out.contains("503 5.5.1 Need MAIL before RCPT"), "{out}");
    assert!(
        out.contains("503 5.5.1 Need MAIL and RCPT before DATA"),
        "{out}"
    );
    assert_eq!(
        out.matches("\r\n500 ").count(),
        2,
        "the 5000-byte line too: {out}"
    );
    assert!(out.contains("221 2.0.0"), "{out}");
    let inbox = bodies(&s, &ann, "INBOX").await;
    assert_eq!(inbox.len(), 1);
    assert!(
        inbox[0].ends_with("Subject: [EXTERNAL] chunked\r\n\r\nfirst second\r\n"),
        "{}",
        inbox[0]
    );
}

#[tokio::test]
async fn an_ehlo_name_that_is_no_domain_is_never_written_raw() {
    let (s, ann, _) = server_with_staff(TestDb::sqlite()).await;
    let addr = s.running.smtp.unwrap();
    let input = format!(
        "EHLO a(b)c;d\r\nMAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nDATA\r\n\
         From: x@peer.example\r\nSubject: hi\r\n\r\nhello\r\n.\r\nQUIT\r\n"
    );
    let out = raw_session(addr, input.as_bytes()).await;
    assert!(out.contains("250 2.0.0 Message accepted"), "{out}");
    let inbox = bodies(&s, &ann, "INBOX").await;
    assert!(
        inbox[0].contains("Received: from unknown (127.0.0.1 helo=a\\(b\\)c;d) by "),
        "{}",
        inbox[0]
    );
}

#[tokio::test]
async fn a_large_message_cannot_pass_a_nearly_full_mailbox() {
    let s = TestServer::start_with(TestDb::sqlite(), |c| c.mail.quota = 4096).await;
    let (ann, _) = add_staff(&s).await;
    let addr = s.running.smtp.unwrap();
    let message = |size: usize| {
        format!(
            "MAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nDATA\r\nFrom: x@peer.example\r\nSubject: s\r\n\r\n{}\r\n.\r\n",
            "y".repeat(size)
        )
    };
    // A small message fits; then a large one would go past the quota: the RCPT is accepted
    // (the mailbox is not full yet) and the message is refused once its size is known.
    let input = format!(
        "EHLO peer.example\r\n{}{}QUIT\r\n",
        message(100),
        message(5000)
    );
    let out = raw_session(addr, input.as_bytes()).await;
    assert_eq!(out.matches("250 2.1.5").count(), 2, "{out}");
    assert!(out.contains("250 2.0.0 Message accepted"), "{out}");
    assert!(
        out.contains("452 4.2.2 A recipient's mailbox is too full"),
        "{out}"
    );
    assert_eq!(bodies(&s, &ann, "INBOX").await.len(), 1);
}

#[tokio::test]
async fn numbers_past_64_bits_get_a_refusal_and_nothing_waits() {
    let (s, ann, _) = server_with_staff(TestDb::sqlite()).await;
    let addr = s.running.smtp.unwrap();
    // Each out-of-range number is refused at once, and the next command is read as one.
    let input = format!(
        "EHLO peer.example\r\nMAIL FROM:<x@peer.example> SIZE=99999999999999999999999\r\n\
         MAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nBDAT 99999999999999999999999 LAST\r\n\
         BDAT 1000000000000000000000 LAST\r\nNOOP\r\nQUIT\r\n"
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        raw_session(addr, input.as_bytes()),
    )
    .await
    .expect("nothing waits for bytes that cannot come");
    assert!(out.contains("552 5.3.4"), "{out}");
    assert_eq!(
        out.matches("501 5.5.4 Chunk size out of range").count(),
        2,
        "{out}"
    );
    assert!(
        out.contains("250 2.0.0 OK") || out.matches("\r\n250").count() >= 3,
        "{out}"
    );
    assert!(out.contains("221 2.0.0"), "{out}");
    assert!(
        bodies(&s, &ann, "INBOX").await.is_empty(),
        "no empty message was taken"
    );
}

#[tokio::test]
async fn rfc3207_commands_pipelined_after_starttls_are_dropped() {
    let (s, _, _) = server_with_staff(TestDb::sqlite()).await;
    let addr = s.running.submission.unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"EHLO x\r\nSTARTTLS\r\nRSET\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("220 2.0.0") {
        let n = tcp.read(&mut buf).await.unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    // No reply to the injected RSET may arrive in the clear.
    let extra =
        tokio::time::timeout(std::time::Duration::from_millis(300), tcp.read(&mut buf)).await;
    assert!(
        !matches!(extra, Ok(Ok(n)) if n > 0),
        "plaintext after STARTTLS: {:?}",
        extra
    );
}

#[tokio::test]
async fn smtp_auth_failures_lock_the_account_everywhere() {
    let (s, ann, _) = server_with_staff(TestDb::sqlite()).await;
    let port = s.running.submissions.unwrap().port().to_string();
    let script = r#"
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for i in range(6):
    s = smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[1]), context=ctx)
    try:
        s.login(sys.argv[2], 'not the password %d' % i)
    except smtplib.SMTPAuthenticationError as e:
        print(e.smtp_code, e.smtp_error.decode())
    s.quit()
s = smtplib.SMTP_SSL('127.0.0.1', int(sys.argv[1]), context=ctx)
try:
    s.login(sys.argv[2], sys.argv[3])
    print('signed in')
except smtplib.SMTPAuthenticationError as e:
    print('locked', e.smtp_code, e.smtp_error.decode())
"#;
    let out = python(script, &[&port, &ann, GOOD]).await;
    assert!(out.contains("535 5.7.8 Invalid credentials"), "{out}");
    assert!(
        out.contains("locked 535 5.7.8 Invalid credentials"),
        "the same answer: {out}"
    );
    // The same lockout state answers the web sign-in from that source.
    let attempt = SignIn {
        login: &ann,
        secret: GOOD,
        protocol: Protocol::Web,
        source: Some("127.0.0.1".parse().unwrap()),
    };
    let web = s.running.context.directory.sign_in(&attempt).await.unwrap();
    assert_eq!(web, Err(Refusal::Invalid));
}

/// A partner organization that signs its mail: its DKIM key and DNS records.
pub(crate) struct Partner {
    signer:
        mail_auth::dkim::DkimSigner<mail_auth::common::crypto::Ed25519Key, mail_auth::dkim::Done>,
    pub(crate) public: String,
}

impl Partner {
    pub(crate) fn new(domain: &str) -> Partner {
        use base64::Engine;
        use mail_auth::common::crypto::Ed25519Key;
        let pkcs8 = Ed25519Key::generate_pkcs8().unwrap();
        let key = Ed25519Key::from_pkcs8_der(&pkcs8).unwrap();
        let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
        let signer = mail_auth::dkim::DkimSigner::from_key(key)
            .domain(domain)
            .selector("s1")
            .headers(["From", "To", "Subject"]);
        Partner { signer, public }
    }

    pub(crate) fn sign(&self, msg: &str) -> String {
        use mail_auth::common::headers::HeaderWriter;
        format!(
            "{}{msg}",
            self.signer.sign(msg.as_bytes()).unwrap().to_header()
        )
    }
}

pub(crate) const PARTNER_SEND: &str = r#"
import smtplib, sys
port, rcpt = int(sys.argv[1]), sys.argv[2]
for env_from, path in zip(sys.argv[3::2], sys.argv[4::2]):
    s = smtplib.SMTP('127.0.0.1', port)
    s.ehlo('mx.partner.example')
    try:
        s.sendmail(env_from, [rcpt], open(path, 'rb').read())
        print('accepted', path)
    except smtplib.SMTPDataError as e:
        print('refused', path, e.smtp_code, e.smtp_error.decode())
    s.quit()
"#;

#[tokio::test]
async fn spf_dkim_and_dmarc_decide_what_the_mx_does_with_outside_mail() {
    let s = TestServer::start(TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    dir.create_department(&admin(), "Lab", None).await.unwrap();
    let new = crate::support::new_account("Ann", None, "Lee", "E1", "Lab");
    let ann = dir.create_account(&admin(), &new).await.unwrap().address;
    let partner = Partner::new("partner.example");
    let ours = Partner::new("kaiser.org");
    let auth = s
        .running
        .smtp_service
        .as_ref()
        .unwrap()
        .sender_auth()
        .unwrap();
    let dkim = |p: &Partner| format!("v=DKIM1; k=ed25519; p={}", p.public);
    auth.preload_txt("s1._domainkey.partner.example", &dkim(&partner))
        .unwrap();
    auth.preload_txt("partner.example", "v=spf1 ip4:127.0.0.1 -all")
        .unwrap();
    auth.preload_txt("_dmarc.partner.example", "v=DMARC1; p=reject")
        .unwrap();
    auth.preload_txt("spoofer.example", "v=spf1 -all").unwrap();
    auth.preload_txt("_dmarc.spoofer.example", "v=DMARC1; p=reject")
        .unwrap();
    auth.preload_txt("careless.example", "v=spf1 -all").unwrap();
    auth.preload_txt("_dmarc.careless.example", "v=DMARC1; p=quarantine")
        .unwrap();
    auth.preload_txt("s1._domainkey.kaiser.org", &dkim(&ours))
        .unwrap();
    auth.preload_txt("kaiser.org", "v=spf1 -all").unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, content: String| {
        let path = tmp.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_string()
    };
    let text = |from: &str, subject: &str| {
        format!("From: {from}\r\nTo: {ann}\r\nSubject: {subject}\r\n\r\nbody\r\n")
    };
    let good = write("good", partner.sign(&text("lab@partner.example", "good")));
    let forged = write("forged", text("lab@spoofer.example", "forged"));
    let careless = write("careless", text("news@careless.example", "careless"));
    let fake_ceo = write("fake-ceo", text("ceo@kaiser.org", "pay this invoice"));
    let real_ours = write("real-ours", ours.sign(&text("ceo@kaiser.org", "real-ours")));
    let port = s.running.smtp.unwrap().port().to_string();
    let out = python(
        PARTNER_SEND,
        &[
            &port,
            &ann,
            "lab@partner.example",
            &good,
            "lab@spoofer.example",
            &forged,
            "news@careless.example",
            &careless,
            "ceo@kaiser.org",
            &fake_ceo,
            "bounce@partner.example",
            &real_ours,
        ],
    )
    .await;
    assert!(out.contains(&format!("accepted {good}")), "{out}");
    assert!(
        out.contains(&format!(
            "refused {forged} 550 5.7.1 Rejected by the DMARC policy of spoofer.example"
        )),
        "{out}"
    );
    assert!(out.contains(&format!("accepted {careless}")), "{out}");
    assert!(
        out.contains(&format!(
            "refused {fake_ceo} 550 5.7.1 Mail from outside may not claim"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("accepted {real_ours}")),
        "signed with the organization's key: {out}"
    );

    let inbox = bodies(&s, &ann, "INBOX").await;
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    let good_msg = inbox
        .iter()
        .find(|m| m.contains("Subject: [EXTERNAL] good"))
        .unwrap();
    assert!(
        good_msg.contains("Authentication-Results: mail.kaiser.org;\r\n\tdkim=pass"),
        "{good_msg}"
    );
    assert!(good_msg.contains("spf=pass"), "{good_msg}");
    assert!(good_msg.contains("dmarc=pass"), "{good_msg}");
    let junk = bodies(&s, &ann, "Junk").await;
    assert_eq!(junk.len(), 1, "DMARC quarantine goes to Junk");
    assert!(junk[0].contains("dmarc=fail"), "{}", junk[0]);
}

const TRICKS: &str = r#"
import smtplib, ssl, sys
port, user, password, colleague = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx)
s.login(user, password)
cases = {
    'two-froms': 'From: ' + colleague + '\r\nFrom: ' + user + '\r\nSubject: x\r\n\r\nx\r\n',
    'two-addresses': 'From: ' + user + ', ' + colleague + '\r\nSubject: x\r\n\r\nx\r\n',
    'sender': 'From: ' + user + '\r\nSender: ' + colleague + '\r\nSubject: x\r\n\r\nx\r\n',
    'two-subjects': 'From: ' + user + '\r\nSubject: a\r\nSubject: b\r\n\r\nx\r\n',
}
for name, msg in cases.items():
    try:
        s.sendmail(user, [colleague], msg.encode())
        print(name, 'accepted')
    except smtplib.SMTPDataError as e:
        print(name, e.smtp_code, e.smtp_error.decode())
for rcpt in ['x@localhost', 'x@[10.0.0.5]', 'x@10.0.0.5', 'intranet-host@printer']:
    try:
        s.sendmail(user, [rcpt], ('From: ' + user + '\r\n\r\nx\r\n').encode())
        print(rcpt, 'accepted')
    except smtplib.SMTPRecipientsRefused as e:
        print(rcpt, list(e.recipients.values())[0][0])
msg = 'From: ' + user + '\r\nBcc: secret@kaiser.org\r\nSubject: bcc\r\n\r\nx\r\n'
print('bcc', s.sendmail(user, [colleague], msg.encode()))
s.quit()
"#;

#[tokio::test]
async fn rfc5322_duplicate_senders_and_unsafe_recipients_are_refused_and_bcc_removed() {
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    let port = s.running.submissions.unwrap().port().to_string();
    let out = python(TRICKS, &[&port, &ann, GOOD, &bob]).await;
    assert!(
        out.contains("two-froms 554 5.6.0 The message has more than one From: header"),
        "{out}"
    );
    assert!(out.contains("two-addresses 554 5.6.0"), "{out}");
    assert!(
        out.contains("sender 550 5.7.1 The From: and Sender: headers"),
        "{out}"
    );
    assert!(out.contains("two-subjects 554 5.6.0"), "{out}");
    for rcpt in ["x@localhost", "x@10.0.0.5", "intranet-host@printer"] {
        assert!(out.contains(&format!("{rcpt} 553")), "{out}");
    }
    assert!(
        out.contains("x@[10.0.0.5] 501"),
        "the parser refuses literals: {out}"
    );
    assert!(out.contains("bcc {}"), "{out}");
    let inbox = bodies(&s, &bob, "INBOX").await;
    assert_eq!(inbox.len(), 1, "only the Bcc test arrived");
    assert!(!inbox[0].contains("secret@kaiser.org"), "{}", inbox[0]);
    use carepost_store::AuditRepo;
    let denied = s
        .running
        .context
        .store
        .read()
        .await
        .unwrap()
        .list_audit(&carepost_store::AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "mail.submit" && e.outcome == "denied")
        .count();
    assert_eq!(denied, 1, "the Sender: attempt is on record");
}

#[tokio::test]
async fn a_session_past_its_time_limit_is_closed_with_421() {
    let s = TestServer::start(TestDb::sqlite()).await;
    let svc = s
        .running
        .smtp_service
        .clone()
        .unwrap()
        .with_timeouts(carepost_smtp::Timeouts {
            command: std::time::Duration::from_secs(300),
            handshake: std::time::Duration::from_secs(30),
            session: std::time::Duration::from_millis(300),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(svc.serve(listener, carepost_smtp::Listener::Mx, stopped));
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A client that keeps talking, slowly, never finishing anything.
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let _ = tcp.write_all(b"NOOP\r\n").await;
            match tokio::time::timeout(std::time::Duration::from_millis(100), tcp.read(&mut buf))
                .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the session ended");
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.contains("421 4.4.2 Session time limit reached"),
        "{text}"
    );
}
