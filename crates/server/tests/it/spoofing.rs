//! Mail that cannot lie about its sender (issue 18, points 1, 3 and 4), through the real
//! listeners: From: read as a mail client reads it (comments, spaces and folding), exactly one
//! clean mailbox or a refusal, bare CR and LF in the header section refused, display names
//! that show another address refused on submission and flagged on the MX, and bare line
//! breaks in a submitted body made CRLF before it is signed.

use crate::auth::GOOD;
use crate::smtp::{bodies, python, raw_session, server_with_staff};
use carepost_testkit::TestDb;

/// Sends raw messages over implicit-TLS submission with AUTH PLAIN, byte for byte (smtplib
/// would mend their line breaks): one line per message, `code text` of its final reply.
pub(crate) const RAW_SUBMIT: &str = r#"
import base64, socket, ssl, sys
port, user, password, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)))
f = s.makefile('rb')
def reply():
    while True:
        l = f.readline().decode(errors='replace').rstrip()
        if len(l) < 4 or l[3] != '-':
            return l
reply()
s.sendall(b'EHLO client.example\r\n'); reply()
token = base64.b64encode(('\0%s\0%s' % (user, password)).encode()).decode()
s.sendall(('AUTH PLAIN %s\r\n' % token).encode()); print('auth', reply())
for i, path in enumerate(sys.argv[5:]):
    s.sendall(('MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n' % (user, rcpt)).encode())
    reply(); reply(); reply()
    s.sendall(open(path, 'rb').read() + b'\r\n.\r\n')
    print('msg%d' % i, reply())
s.sendall(b'QUIT\r\n')
"#;

/// Writes `messages` to files in `dir` and submits them as `user` to `rcpt`.
pub(crate) async fn submit_raw(
    s: &carepost_testkit::TestServer,
    user: &str,
    rcpt: &str,
    messages: &[Vec<u8>],
) -> String {
    let mut paths = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let p = s.db.dir.path().join(format!("raw-{i}.eml"));
        std::fs::write(&p, m).unwrap();
        paths.push(p.display().to_string());
    }
    let port = s.running.submissions.unwrap().port().to_string();
    let mut args = vec![port.as_str(), user, GOOD, rcpt];
    args.extend(paths.iter().map(String::as_str));
    python(RAW_SUBMIT, &args).await
}

#[tokio::test]
async fn outside_mail_cannot_claim_an_internal_from_through_rfc_5322_syntax() {
    let (s, ann, _) = server_with_staff(TestDb::sqlite()).await;
    let addr = s.running.smtp.unwrap();
    let variants = [
        "administrator@ kaiser.org",
        "administrator @ kaiser.org",
        "administrator@(x)kaiser.org",
        "administrator@\r\n kaiser.org",
        "The IT team <administrator(it)@Kaiser.Org>",
    ];
    let mut input = String::from("EHLO mx.peer.example\r\n");
    for from in variants {
        input.push_str(&format!(
            "MAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nDATA\r\nFrom: {from}\r\nSubject: urgent\r\n\r\npay this\r\n.\r\n"
        ));
    }
    // Not one clean mailbox, and a bare CR hiding a second From: field.
    for header in [
        "From: a@peer.example, b@peer.example",
        "From: Lab <lab@peer.example",
        "Subject: x\rFrom: administrator@kaiser.org\r\nFrom: x@peer.example",
    ] {
        input.push_str(&format!(
            "MAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nDATA\r\n{header}\r\nSubject: s\r\n\r\nbody\r\n.\r\n"
        ));
    }
    input.push_str("QUIT\r\n");
    let out = raw_session(addr, input.as_bytes()).await;
    assert_eq!(
        out.matches("\r\n550 5.7.1 ").count(),
        variants.len(),
        "{out}"
    );
    assert_eq!(out.matches("\r\n554 5.6.0 ").count(), 3, "{out}");
    assert!(
        out.contains("554 5.6.0 The From: header must hold exactly one address"),
        "{out}"
    );
    assert!(
        out.contains("554 5.6.0 The header section has a CR or LF"),
        "{out}"
    );
    assert!(bodies(&s, &ann, "INBOX").await.is_empty());
}

#[tokio::test]
async fn a_display_name_that_shows_another_address_is_flagged_from_outside_and_refused_inside() {
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    // From outside: delivered, with a warning the reader sees.
    let input = format!(
        "EHLO mx.peer.example\r\nMAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nDATA\r\n\
         From: \"administrator@kaiser.org\" <x@peer.example>\r\nSubject: invoice\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    );
    let out = raw_session(s.running.smtp.unwrap(), input.as_bytes()).await;
    assert!(out.contains("250 2.0.0 Message accepted"), "{out}");
    let inbox = bodies(&s, &ann, "INBOX").await;
    assert!(
        inbox[0]
            .contains("Subject: [WARNING: the sender's name shows an address] [EXTERNAL] invoice")
            || inbox[0].contains("[WARNING: the sender's name shows an address]"),
        "{}",
        inbox[0]
    );

    // On submission: another address in the name is refused, plain or encoded; one's own
    // address as the name (what some clients write when no name is set) is not.
    let msg =
        |from: &str| format!("From: {from}\r\nTo: {bob}\r\nSubject: s\r\n\r\nbody").into_bytes();
    let out = submit_raw(
        &s,
        &ann,
        &bob,
        &[
            msg(&format!("\"administrator@kaiser.org\" <{ann}>")),
            msg(&format!("=?utf-8?q?administrator=40kaiser.org?= <{ann}>")),
            msg(&format!("\"{ann}\" <{ann}>")),
            msg(&format!("Ann <{ann}>")),
        ],
    )
    .await;
    assert!(out.contains("auth 235"), "{out}");
    let line = |i: usize| crate::imap::line_of(&out, &format!("msg{i} "));
    assert!(line(0).contains("550 5.7.1 The name in From:"), "{out}");
    assert!(line(1).contains("550 5.7.1 The name in From:"), "{out}");
    assert!(line(2).contains("250"), "{out}");
    assert!(line(3).contains("250"), "{out}");
}

#[tokio::test]
async fn a_bare_cr_cannot_hide_a_second_from_and_a_bare_lf_in_the_body_is_mended() {
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    let hidden = format!(
        "Subject: x\rFrom: administrator@kaiser.org\r\nFrom: {ann}\r\nTo: {bob}\r\n\r\nbody"
    );
    let lf_body = format!("From: {ann}\r\nTo: {bob}\r\nSubject: lines\r\n\r\none\ntwo\rthree");
    let out = submit_raw(&s, &ann, &bob, &[hidden.into_bytes(), lf_body.into_bytes()]).await;
    let line = |i: usize| crate::imap::line_of(&out, &format!("msg{i} "));
    assert!(
        line(0).contains("554 5.6.0 The header section has a CR or LF"),
        "{out}"
    );
    assert!(line(1).contains("250"), "{out}");
    let inbox = bodies(&s, &bob, "INBOX").await;
    assert_eq!(inbox.len(), 1, "only the clean message");
    assert!(
        inbox[0].ends_with("one\r\ntwo\r\nthree\r\n"),
        "{:?}",
        inbox[0]
    );
}

#[tokio::test]
async fn names_that_hide_an_address_in_commas_brackets_or_comments_are_caught() {
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    let msg =
        |from: &str| format!("From: {from}\r\nTo: {bob}\r\nSubject: s\r\n\r\nbody").into_bytes();
    let out = submit_raw(
        &s,
        &ann,
        &bob,
        &[
            msg(&format!("\"Help Desk, administrator@kaiser.org\" <{ann}>")),
            msg(&format!(
                "\"Administrator <administrator@kaiser.org>\" <{ann}>"
            )),
            msg(&format!("{ann} (administrator@kaiser.org)")),
            msg(&format!("\"Lee, Ann\" <{ann}>")),
        ],
    )
    .await;
    let line = |i: usize| crate::imap::line_of(&out, &format!("msg{i} "));
    for i in 0..3 {
        assert!(
            line(i).contains("550 5.7.1 The name in From:"),
            "{i}: {out}"
        );
    }
    assert!(line(3).contains("250"), "{out}");
    // From outside, a Sender: of ours is a claim like a From: of ours.
    let input = format!(
        "EHLO mx.peer.example\r\nMAIL FROM:<x@peer.example>\r\nRCPT TO:<{ann}>\r\nDATA\r\n\
         From: x@peer.example\r\nSender: administrator@kaiser.org\r\nSubject: s\r\n\r\nbody\r\n.\r\nQUIT\r\n"
    );
    let out = raw_session(s.running.smtp.unwrap(), input.as_bytes()).await;
    assert!(out.contains("550 5.7.1"), "{out}");
}
