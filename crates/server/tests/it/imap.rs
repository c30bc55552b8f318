//! The IMAP listeners driven by real clients: python3's imaplib for the commands a mail app
//! uses, and a raw TLS socket where a client library would hide what is tested (pipelining,
//! literals, bad input, IDLE).

use crate::auth::GOOD;
use crate::smtp::{python, server_with_staff};
use carepost_testkit::TestServer;

/// The output of `script` (after PRELUDE), run against a server with staff on `db` with the
/// arguments imaps port, ann's address and her password.
async fn ann_runs(db: carepost_testkit::TestDb, script: &str) -> String {
    let (s, ann, _) = server_with_staff(db).await;
    let imaps = s.running.imaps.unwrap().port().to_string();
    python(&format!("{PRELUDE}{script}"), &[&imaps, &ann, GOOD]).await
}

/// The first line of a script's output that starts with `prefix` ("" when none does).
pub(crate) fn line_of(out: &str, prefix: &str) -> String {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_default()
        .to_string()
}

/// A message delivered to `to` over SMTP from `from` (both staff).
async fn send(s: &TestServer, from: &str, to: &str, subject: &str, body: &str) {
    let port = s.running.submission.unwrap().port().to_string();
    python(
        r#"
import smtplib, ssl, sys
port, user, password, to, subject, body = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port); s.starttls(context=ctx); s.login(user, password)
s.sendmail(user, [to], ('From: ' + user + '\r\nTo: ' + to + '\r\nSubject: ' + subject + '\r\n\r\n' + body + '\r\n').encode())
s.quit()
"#,
        &[&port, from, GOOD, to, subject, body],
    )
    .await;
}

pub(crate) const PRELUDE: &str = r#"
import imaplib, ssl, sys, re, socket, smtplib
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def connect(port, user, password):
    m = imaplib.IMAP4_SSL('127.0.0.1', int(port), ssl_context=ctx)
    m.login(user, password)
    return m
class Raw:
    def __init__(self, port):
        self.s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(port))))
        self.s.settimeout(10)
        self.f = self.s.makefile('rb')
        self.greeting = self.f.readline().decode().rstrip()
    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())
    def line(self):
        return self.f.readline().decode(errors='replace').rstrip()
    def cmd(self, tag, text):
        self.send(tag + ' ' + text + '\r\n')
        return self.until(tag)
    def until(self, tag):
        out = []
        while True:
            l = self.line()
            out.append(l)
            if l.startswith(tag + ' ') or l == '':
                return out
def submit(port, user, password, to, subject):
    s = smtplib.SMTP('127.0.0.1', int(port)); s.starttls(context=ctx); s.login(user, password)
    s.sendmail(user, [to], ('From: ' + user + '\r\nTo: ' + to + '\r\nSubject: ' + subject + '\r\n\r\nhello\r\n').encode())
    s.quit()
"#;

const MAIL_APP: &str = r#"
port, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
m = connect(port, user, password)
print('caps', m.capability()[1][0].decode())
typ, boxes = m.list()
print('list', sorted(b.decode() for b in boxes))
typ, data = m.select('INBOX')
print('select', typ, data)
typ, data = m.fetch('1', '(FLAGS RFC822.SIZE ENVELOPE)')
print('fetch1', data)
typ, data = m.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
print('peek', data[0][1])
typ, data = m.fetch('1', '(FLAGS)')
print('still-unseen', data)
typ, data = m.fetch('1', '(BODY[TEXT])')
print('text', data[0][1])
typ, data = m.fetch('1', '(FLAGS)')
print('now-seen', data)
typ, data = m.search(None, 'SUBJECT', 'ward')
print('search-subject', data)
typ, data = m.search(None, 'BODY', '"BED 12"')
print('search-body', data)
typ, data = m.uid('SEARCH', 'UNSEEN')
print('search-unseen', data)
typ, data = m.store('2', '+FLAGS', '(\\Flagged $Urgent)')
print('store', data)
typ, data = m.create('Work/Rota')
print('create', typ)
typ, data = m.uid('COPY', '1', 'Work/Rota')
print('copy', typ, data, m.untagged_responses.get('COPYUID'))
typ, data = m._simple_command('UID', 'MOVE', '2', 'Archive')
print('move', typ, m.untagged_responses.pop('EXPUNGE', None))
typ, data = m.status('Archive', '(MESSAGES UNSEEN UIDNEXT SIZE)')
print('status', data)
typ, data = m.append('Drafts', '(\\Draft)', None, b'From: ' + user.encode() + b'\r\nSubject: draft\r\n\r\nunfinished\r\n')
print('append', typ, data)
typ, data = m.store('1', '+FLAGS', '\\Deleted')
typ, data = m.expunge()
print('expunge', data)
typ, data = m.select('INBOX')
print('after', data)
typ, data = m.rename('Work', 'Team')
print('rename', typ)
typ, boxes = m.list('""', 'Team*')
print('renamed', sorted(b.decode() for b in boxes))
typ, data = m.delete('Team/Rota')
print('delete', typ)
typ, data = m.select('Nowhere')
print('missing', typ, data)
m.logout()
try:
    connect(port, user, 'wrong password')
except imaplib.IMAP4.error as e:
    print('badlogin', e)
"#;

#[tokio::test]
async fn rfc9051_a_mail_app_reads_files_and_cleans_up_its_mail() {
    for db in carepost_testkit::backends().await {
        let (s, ann, bob) = server_with_staff(db).await;
        send(&s, &bob, &ann, "Night ward", "Bed 12 needs a review.").await;
        send(&s, &bob, &ann, "Rota", "Swap on Friday?").await;
        let port = s.running.imaps.unwrap().port().to_string();
        let script = format!("{PRELUDE}{MAIL_APP}");
        let out = python(&script, &[&port, &ann, GOOD]).await;
        let line = |prefix: &str| -> String {
            out.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {out}"))
                .to_string()
        };
        for cap in [
            "IMAP4rev2",
            "IDLE",
            "MOVE",
            "UIDPLUS",
            "CONDSTORE",
            "QRESYNC",
        ] {
            assert!(line("caps ").contains(cap), "{out}");
        }
        assert!(
            line("list ").contains(r#"(\\HasNoChildren \\Sent) "/" "Sent""#),
            "{out}"
        );
        assert!(line("select ").contains("[b'2']"), "{out}");
        assert!(line("fetch1 ").contains("Night ward"), "{out}");
        assert!(line("peek ").contains("Subject: Night ward"), "{out}");
        assert!(!line("still-unseen ").contains("Seen"), "{out}");
        assert!(line("text ").contains("Bed 12 needs a review."), "{out}");
        assert!(line("now-seen ").contains("\\\\Seen"), "{out}");
        assert_eq!(line("search-subject "), "search-subject [b'1']", "{out}");
        assert_eq!(line("search-body "), "search-body [b'1']", "{out}");
        assert_eq!(line("search-unseen "), "search-unseen [b'2']", "{out}");
        assert!(line("store ").contains("$Urgent"), "{out}");
        assert_eq!(line("create "), "create OK", "{out}");
        assert!(
            line("copy ").contains("[b'1790000001 1 1']"),
            "COPYUID: {out}"
        );
        assert!(
            line("move ").contains("OK") && line("move ").contains("[b'2']"),
            "{out}"
        );
        assert!(line("status ").contains("MESSAGES 1 UNSEEN 1"), "{out}");
        assert!(line("append ").contains("APPENDUID"), "{out}");
        assert!(line("expunge ").contains("[b'1']"), "{out}");
        assert!(line("after ").contains("[b'0']"), "{out}");
        assert_eq!(line("rename "), "rename OK", "{out}");
        assert!(line("renamed ").contains("Team/Rota"), "{out}");
        assert_eq!(line("delete "), "delete OK", "{out}");
        assert!(line("missing ").contains("NO"), "{out}");
        assert!(line("badlogin ").contains("AUTHENTICATIONFAILED"), "{out}");
    }
}

const STARTTLS: &str = r#"
port, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
m = imaplib.IMAP4('127.0.0.1', int(port))
print('before', ' '.join(sorted(m.capabilities)))
try:
    m.login(user, password)
    print('plain login accepted')
except imaplib.IMAP4.error as e:
    print('plain', e)
m.starttls(ssl_context=ctx)
print('after', ' '.join(sorted(m.capabilities)))
print('login', m.login(user, password)[0])
m.logout()
"#;

#[tokio::test]
async fn rfc9051_port_143_refuses_sign_in_until_starttls() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let port = s.running.imap.unwrap().port().to_string();
        let out = python(&format!("{PRELUDE}{STARTTLS}"), &[&port, &ann, GOOD]).await;
        assert!(
            out.contains("before") && out.contains("LOGINDISABLED"),
            "{out}"
        );
        assert!(
            out.contains("STARTTLS") && !out.lines().next().unwrap().contains("AUTH=PLAIN"),
            "{out}"
        );
        assert!(
            out.contains("plain") && out.contains("PRIVACYREQUIRED"),
            "{out}"
        );
        let after = out.lines().find(|l| l.starts_with("after")).unwrap();
        assert!(
            after.contains("AUTH=PLAIN") && !after.contains("LOGINDISABLED"),
            "{out}"
        );
        assert!(out.contains("login OK"), "{out}");
    }
}

const IDLE: &str = r#"
imaps, smtp, user, password, other = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
a = Raw(imaps)
a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
a.cmd('a2', 'ENABLE CONDSTORE')
print('select', a.cmd('a3', 'SELECT INBOX'))
a.send('a4 IDLE\r\n')
print('idle', a.line())
submit(smtp, other, password, user, 'While you wait')
print('pushed', a.line())
print('recent', a.line())
b = connect(imaps, user, password)
b.select('INBOX')
b.store('1', '+FLAGS', '\\Flagged')
print('flagged', a.line())
a.send('DONE\r\n')
print('done', a.until('a4'))
print('logout', a.cmd('a5', 'LOGOUT'))
"#;

#[tokio::test]
async fn rfc2177_idle_reports_a_delivery_and_another_sessions_flag_change() {
    for db in carepost_testkit::backends().await {
        let (s, ann, bob) = server_with_staff(db).await;
        let imaps = s.running.imaps.unwrap().port().to_string();
        let smtp = s.running.submission.unwrap().port().to_string();
        let out = python(
            &format!("{PRELUDE}{IDLE}"),
            &[&imaps, &smtp, &ann, GOOD, &bob],
        )
        .await;
        assert!(out.contains("'* 0 EXISTS'"), "{out}");
        assert!(out.contains("idle + idling"), "{out}");
        assert!(out.contains("pushed * 1 EXISTS"), "{out}");
        assert!(out.contains("recent * 1 RECENT"), "{out}");
        assert!(
            out.contains("flagged * 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent) MODSEQ ("),
            "{out}"
        );
        assert!(out.contains("a4 OK IDLE terminated"), "{out}");
        assert!(out.contains("* BYE"), "{out}");
    }
}

const QRESYNC: &str = r#"
imaps, smtp, user, password, other = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
for i in range(3):
    submit(smtp, other, password, user, 'Message %d' % i)
a = Raw(imaps)
a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
print('enable', a.cmd('a2', 'ENABLE QRESYNC'))
sel = a.cmd('a3', 'SELECT INBOX')
validity = re.search(r'UIDVALIDITY (\d+)', '\n'.join(sel)).group(1)
modseq = re.search(r'HIGHESTMODSEQ (\d+)', '\n'.join(sel)).group(1)
a.cmd('a4', 'LOGOUT')
b = connect(imaps, user, password)
b.select('INBOX')
b.uid('STORE', '1', '+FLAGS', '(\\Seen)')
b.uid('STORE', '2', '+FLAGS', '(\\Deleted)')
b.expunge()
b.logout()
c = Raw(imaps)
c.cmd('c1', 'LOGIN "%s" "%s"' % (user, password))
c.cmd('c2', 'ENABLE QRESYNC')
print('resync', c.cmd('c3', 'SELECT INBOX (QRESYNC (%s %s 1:3))' % (validity, modseq)))
print('changed', c.cmd('c4', 'UID FETCH 1:* (FLAGS) (CHANGEDSINCE %s VANISHED)' % modseq))
print('move', c.cmd('c5', 'UID MOVE 3 Archive'))
print('esearch', c.cmd('c6', 'UID SEARCH RETURN (MIN MAX COUNT SAVE) ALL'))
print('saved', c.cmd('c7', 'UID FETCH $ (UID)'))
"#;

#[tokio::test]
async fn rfc7162_qresync_tells_a_returning_client_only_what_changed() {
    for db in carepost_testkit::backends().await {
        let (s, ann, bob) = server_with_staff(db).await;
        let imaps = s.running.imaps.unwrap().port().to_string();
        let smtp = s.running.submission.unwrap().port().to_string();
        let out = python(
            &format!("{PRELUDE}{QRESYNC}"),
            &[&imaps, &smtp, &ann, GOOD, &bob],
        )
        .await;
        let line = |p: &str| line_of(&out, p);
        assert!(line("enable").contains("* ENABLED QRESYNC"), "{out}");
        let resync = line("resync");
        assert!(resync.contains("* VANISHED (EARLIER) 2"), "{out}");
        assert!(
            resync.contains("FETCH (UID 1 FLAGS (\\\\Seen) MODSEQ"),
            "{out}"
        );
        assert!(
            !resync.contains("UID 3 FLAGS"),
            "unchanged messages are not sent: {out}"
        );
        let changed = line("changed");
        assert!(changed.contains("VANISHED (EARLIER) 2"), "{out}");
        assert!(changed.contains("UID 1 FLAGS"), "{out}");
        let moved = line("move");
        assert!(
            moved.contains("[COPYUID ") && moved.contains("* VANISHED 3"),
            "{out}"
        );
        assert!(
            line("esearch").contains("ESEARCH (TAG \"c6\") UID MIN 1 MAX 1 COUNT 1"),
            "{out}"
        );
        assert!(line("saved").contains("* 1 FETCH (UID 1)"), "{out}");
    }
}

const BAD_INPUT: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
a = Raw(imaps)
print('early', a.cmd('a0', 'SELECT INBOX'))
print('login', a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password)))
a.cmd('a2', 'SELECT INBOX')
for i, text in enumerate(['FROB', 'FETCH 1 FLAGS', 'SELECT', 'UID FETCH 1:* (BODY[HEADER', 'STORE 1 +FLAGS (\\Recent)', 'SEARCH NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT NOT ALL']):
    print('bad%d' % i, a.cmd('b%d' % i, text))
a.send('big APPEND INBOX {999999999}\r\n')
print('toobig', a.line())
print('alive', a.cmd('n1', 'NOOP'))
a.send(b'lit APPEND Nowhere {5+}\r\nhello\r\n')
print('nowhere', a.until('lit'))
a.send('x' * 70000 + '\r\n')
print('long', a.line())
"#;

#[tokio::test]
async fn malformed_commands_get_bad_and_the_session_survives() {
    for db in carepost_testkit::backends().await {
        let out = ann_runs(db, BAD_INPUT).await;
        let line = |p: &str| line_of(&out, p);
        assert!(line("early").contains("a0 BAD"), "{out}");
        assert!(line("login").contains("a1 OK"), "{out}");
        for i in 0..6 {
            assert!(
                line(&format!("bad{i}")).contains(&format!("b{i} BAD")),
                "{out}"
            );
        }
        assert!(line("toobig").contains("big NO [TOOBIG]"), "{out}");
        assert!(line("alive").contains("n1 OK"), "{out}");
        assert!(line("nowhere").contains("lit NO [TRYCREATE]"), "{out}");
        assert!(line("long").contains("* BYE"), "{out}");
    }
}

const RIGHT_AND_WRONG: &str = r#"
imaps, user, password, smtp = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
for name, secret in [('right', password), ('wrong', 'not-' + password)]:
    a = Raw(imaps)
    print(name, a.cmd('t', 'LOGIN "%s" "%s"' % (user, secret))[-1])
    s = smtplib.SMTP('127.0.0.1', int(smtp)); s.starttls(context=ctx)
    try:
        s.login(user, secret)
        print(name + '-smtp', 'accepted')
    except smtplib.SMTPAuthenticationError as e:
        print(name + '-smtp', e.smtp_code, e.smtp_error.decode())
"#;

#[tokio::test]
async fn a_mail_app_cannot_tell_a_right_password_from_a_wrong_one() {
    // Ann has an authenticator: a mail app must use an app password, and her real password
    // is refused like any wrong one, in the same words, on IMAP and SMTP.
    let (s, ann, _) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    crate::support::give_factor(&s, &ann).await;
    let imaps = s.running.imaps.unwrap().port().to_string();
    let smtp = s.running.submission.unwrap().port().to_string();
    let out = python(
        &format!("{PRELUDE}{RIGHT_AND_WRONG}"),
        &[&imaps, &ann, GOOD, &smtp],
    )
    .await;
    let after = |p: &str| {
        line_of(&out, &format!("{p} "))
            .split_once(' ')
            .unwrap()
            .1
            .to_string()
    };
    assert!(after("right").starts_with("t NO [AUTHENTICATIONFAILED] Invalid credentials. A mail app signs in with an app password"), "{out}");
    assert_eq!(after("right"), after("wrong"), "{out}");
    assert!(
        after("right-smtp").starts_with("535 5.7.8 Invalid credentials"),
        "{out}"
    );
    assert_eq!(after("right-smtp"), after("wrong-smtp"), "{out}");
}

const HUGE_LITERALS: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
a = Raw(imaps)
a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
a.send('big APPEND INBOX {99999999999999999999999}\r\n')
print('sync', a.line())
print('alive', a.cmd('n1', 'NOOP'))
a.send(b'odd APPEND INBOX {99999999999999999999999+}\r\nodd2 NOOP\r\n')
print('nonsync', a.line())
rest = []
while True:
    l = a.line()
    if l == '':
        break
    rest.append(l)
print('after', rest)
"#;

#[tokio::test]
async fn a_literal_size_past_64_bits_is_refused_and_its_bytes_never_run_as_commands() {
    let out = ann_runs(carepost_testkit::TestDb::sqlite(), HUGE_LITERALS).await;
    let line = |p: &str| line_of(&out, p);
    // Synchronising: refused, nothing was sent, the session goes on.
    assert!(
        line("sync").contains("big NO [TOOBIG]") || line("sync").contains("big BAD"),
        "{out}"
    );
    assert!(line("alive").contains("n1 OK"), "{out}");
    // Non-synchronising: the bytes are already coming, so the connection ends.
    assert!(line("nonsync").starts_with("nonsync * BYE"), "{out}");
    assert!(
        !out.contains("odd2 OK"),
        "the literal's bytes ran as a command: {out}"
    );
}

const CUT_OFF: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
a = Raw(imaps)
a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
print('first', a.cmd('a2', 'NOOP'))
sys.stdout.flush()
input()
print('after', a.cmd('a3', 'NOOP'))
"#;

/// Signs `user` in over IMAP, runs `change` while the session is open, lets more than the
/// 5-minute re-check pass, and returns what the session's next command got.
async fn after_change_in_session<F: std::future::Future<Output = ()>>(
    s: &TestServer,
    user: &str,
    password: &str,
    change: F,
) -> String {
    let imaps = s.running.imaps.unwrap().port().to_string();
    let script = format!("{PRELUDE}{CUT_OFF}");
    let change = async {
        change.await;
        s.clock.advance(std::time::Duration::from_secs(6 * 60));
    };
    let (first, after) =
        crate::smtp::python_paused(&script, &[&imaps, user, password], change).await;
    assert!(first.contains("a2 OK"), "{first}");
    after
}

#[tokio::test]
async fn a_disabled_accounts_open_session_is_cut_off() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let dir = &s.running.context.directory;
        let disable = async {
            let cli = carepost_identity::Actor::local_cli("tester");
            dir.set_status(&cli, &ann, carepost_identity::AccountStatus::Disabled)
                .await
                .unwrap();
        };
        let after = after_change_in_session(&s, &ann, GOOD, disable).await;
        assert!(
            after.contains("BYE Your account, password or app password has changed, or your password has expired; sign in again"),
            "{after}"
        );
    }
}

#[tokio::test]
async fn a_password_session_ends_once_the_password_expires() {
    for db in carepost_testkit::backends().await {
        // Nobody needs a second factor here, so only the expiry can end the session.
        let s = TestServer::start_with(db, |c| c.mfa.required_categories.clear()).await;
        let (ann, _) = crate::smtp::add_staff(&s).await;
        let expire = async { s.clock.advance(366 * crate::support::DAY) };
        let after = after_change_in_session(&s, &ann, GOOD, expire).await;
        assert!(after.contains("or your password has expired"), "{after}");
    }
}

#[tokio::test]
async fn a_password_session_ends_once_the_account_enrolls_a_second_factor() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let dir = &s.running.context.directory;
        let enroll = async {
            let id = dir
                .find_account(&crate::support::admin(), &ann)
                .await
                .unwrap()
                .id;
            let e = dir.begin_totp(id).await.unwrap();
            let now = {
                use carepost_types::Clock;
                (s.clock.now().0 / 1000) as u64
            };
            let code = crate::auth::totp_code(&e.secret, now);
            dir.confirm_totp(id, &code).await.unwrap();
        };
        let after = after_change_in_session(&s, &ann, GOOD, enroll).await;
        assert!(after.contains("BYE Your account, password"), "{after}");
    }
}

#[tokio::test]
async fn a_password_session_ends_once_the_password_is_reset() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let dir = &s.running.context.directory;
        let reset = async {
            // The reset comes after the sign-in (the test's clock stands still otherwise).
            s.clock.advance(std::time::Duration::from_secs(1));
            let cli = carepost_identity::Actor::local_cli("tester");
            dir.set_password(&cli, &ann, "a fresh horse battery staple 7")
                .await
                .unwrap();
        };
        let after = after_change_in_session(&s, &ann, GOOD, reset).await;
        assert!(
            after.contains("BYE Your account, password or app password has changed"),
            "{after}"
        );
        // A session opened with the new password goes on.
        let fresh =
            after_change_in_session(&s, &ann, "a fresh horse battery staple 7", async {}).await;
        assert!(fresh.contains("a3 OK"), "{fresh}");
    }
}

#[tokio::test]
async fn a_revoked_app_passwords_open_session_is_cut_off() {
    for db in carepost_testkit::backends().await {
        let (s, ann, _) = server_with_staff(db).await;
        let dir = &s.running.context.directory;
        let id = crate::mail::account(&s.running.context.mail, &ann).await;
        let imap = [carepost_identity::Protocol::Imap];
        let (phone, phone_secret) = dir
            .create_app_password(id, "lost phone", &imap, None)
            .await
            .unwrap();
        let (_, desk_secret) = dir
            .create_app_password(id, "desktop", &imap, None)
            .await
            .unwrap();
        // The phone's session ends at its next look once its app password is revoked...
        let cut = after_change_in_session(&s, &ann, &phone_secret, async {
            dir.revoke_app_passwords(id, Some(phone)).await.unwrap();
        })
        .await;
        assert!(
            cut.contains("BYE Your account, password or app password has changed, or your password has expired; sign in again"),
            "{cut}"
        );
        // ... while the desktop's, on another app password, goes on.
        let untouched = after_change_in_session(&s, &ann, &desk_secret, async {}).await;
        assert!(untouched.contains("a3 OK"), "{untouched}");
    }
}

const IDLE_CUT: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
a = Raw(imaps)
a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
a.cmd('a2', 'SELECT INBOX')
a.send('a3 IDLE\r\n')
print('idle', a.line())
sys.stdout.flush()
print('then', a.line())
"#;

#[tokio::test]
async fn an_idle_session_is_cut_off_on_time_though_no_mail_comes() {
    for db in carepost_testkit::backends().await {
        let s = TestServer::start_with(db, |c| {
            c.imap.recheck_interval = std::time::Duration::from_millis(300);
        })
        .await;
        let (ann, _) = crate::smtp::add_staff(&s).await;
        let dir = &s.running.context.directory;
        let id = crate::mail::account(&s.running.context.mail, &ann).await;
        let (phone, secret) = dir
            .create_app_password(id, "phone", &[carepost_identity::Protocol::Imap], None)
            .await
            .unwrap();
        let imaps = s.running.imaps.unwrap().port().to_string();
        let mut child = tokio::process::Command::new("python3")
            .arg("-c")
            .arg(format!("{PRELUDE}{IDLE_CUT}"))
            .args([&imaps, &ann, &secret])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut first)
            .await
            .unwrap();
        assert!(first.contains("idle + idling"), "{first}");
        dir.revoke_app_passwords(id, Some(phone)).await.unwrap();
        s.clock.advance(std::time::Duration::from_secs(60));
        let mut then = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut then)
            .await
            .unwrap();
        assert!(child.wait().await.unwrap().success(), "{then}");
        assert!(
            then.contains(
                "then * BYE Your account, password or app password has changed, or your password has expired; sign in again"
            ),
            "{then}"
        );
    }
}

const QUOTA: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
r = Raw(imaps)
r.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
r.cmd('a2', 'CREATE Kept')
body = 'Subject: scan\r\n\r\n' + 'x' * 4000 + '\r\n'
for i in range(2):
    r.send('a3%d APPEND INBOX {%d+}\r\n%s\r\n' % (i, len(body), body))
    print('append', r.until('a3%d' % i)[-1])
r.cmd('a4', 'SELECT INBOX')
print('copy', r.cmd('a5', 'COPY 1:2 Kept')[-1])
print('move', r.cmd('a6', 'MOVE 1:2 Kept')[-1])
print('third', r.cmd('a7', 'APPEND INBOX {%d+}\r\n%s' % (len(body), body))[-1])
"#;

#[tokio::test]
async fn copy_and_append_past_the_quota_get_overquota_and_move_does_not() {
    for db in carepost_testkit::backends().await {
        let s = TestServer::start_with(db, |c| c.mail.quota = 10_000).await;
        let (ann, _) = crate::smtp::add_staff(&s).await;
        let imaps = s.running.imaps.unwrap().port().to_string();
        let out = python(&format!("{PRELUDE}{QUOTA}"), &[&imaps, &ann, GOOD]).await;
        assert_eq!(out.matches("append a3").count(), 2, "{out}");
        assert!(
            !out.contains("append a30 NO") && !out.contains("append a31 NO"),
            "{out}"
        );
        // Two 4 KB messages fit 10 KB; their copies would not.
        assert!(line_of(&out, "copy").contains("a5 NO [OVERQUOTA]"), "{out}");
        assert!(line_of(&out, "move").contains("a6 OK"), "{out}");
        assert!(
            line_of(&out, "third").contains("a7 NO [OVERQUOTA]"),
            "{out}"
        );
    }
}

const SORT_THREAD: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
m = connect(imaps, user, password)
m.create('Threads')
mails = [
    ('a', '<a@x>', '', 'Fri, 22 Feb 2008 10:00:00 +0000', 'zed@x.org'),
    ('Re: a', '<b@x>', '<a@x>', 'Fri, 22 Feb 2008 09:00:00 +0000', 'amy@x.org'),
    ('[list]  C', '<c@x>', '', 'Fri, 22 Feb 2008 11:00:00 +0000', 'bea@x.org'),
    ('Re: c', '<d@x>', '<gone@x>', 'Fri, 22 Feb 2008 12:00:00 +0000', 'cid@x.org'),
]
for subject, mid, refs, date, sender in mails:
    msg = 'From: ' + sender + '\r\nSubject: ' + subject + '\r\nMessage-ID: ' + mid + '\r\n'
    if refs:
        msg += 'References: ' + refs + '\r\n'
    msg += 'Date: ' + date + '\r\n\r\nbody\r\n'
    m.append('Threads', None, None, msg.encode())
m.select('Threads')
print('subject', m.sort('(SUBJECT)', 'UTF-8', 'ALL'))
print('rdate', m.sort('(REVERSE DATE)', 'UTF-8', 'ALL'))
print('from', m.sort('(FROM)', 'UTF-8', 'ALL'))
print('uidsort', m.uid('SORT', '(REVERSE DATE)', 'UTF-8', '2:*'))
print('refs', m.thread('REFERENCES', 'UTF-8', 'ALL'))
print('ordered', m.thread('ORDEREDSUBJECT', 'UTF-8', 'ALL'))
print('charset', m._simple_command('SORT', '(DATE)', 'KOI8-R', 'ALL'))
r = Raw(imaps)
r.cmd('e1', 'LOGIN "%s" "%s"' % (user, password))
r.cmd('e2', 'SELECT Threads')
print('esort', r.cmd('e3', 'SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL'))
r.cmd('e4', 'STORE 2 +FLAGS (\\Flagged)')
print('modsort', r.cmd('e5', 'SORT (DATE) UTF-8 MODSEQ 1'))
"#;

#[tokio::test]
async fn rfc5256_sort_and_thread_order_by_base_subject_date_and_references() {
    for db in carepost_testkit::backends().await {
        let out = ann_runs(db, SORT_THREAD).await;
        let line = |p: &str| line_of(&out, p);
        // Base subjects "a", "a", "C", "c": ties keep mailbox order.
        assert!(line("subject ").contains("[b'1 2 3 4']"), "{out}");
        assert!(line("rdate").contains("[b'4 3 1 2']"), "{out}");
        // By the first From address's local part: amy, bea, cid, zed.
        assert!(line("from").contains("[b'2 3 4 1']"), "{out}");
        assert!(line("uidsort").contains("[b'4 3 2']"), "{out}");
        // 2 answers 1; 4's parent is missing, so it joins 3 by its base subject.
        assert!(line("refs").contains("[b'(1 2)(3 4)']"), "{out}");
        assert!(line("ordered").contains("[b'(2 1)(3 4)']"), "{out}");
        assert!(line("charset").contains("BADCHARSET"), "{out}");
        assert!(
            line("esort").contains("ESEARCH (TAG \"e3\") MIN 2 MAX 4 ALL 2,1,3:4 COUNT 4"),
            "{out}"
        );
        // With a MODSEQ key, the highest modseq comes along (RFC 7162 section 3.1.5).
        let modsort = line("modsort");
        assert!(modsort.contains("* SORT 2 1 3 4 (MODSEQ "), "{out}");
    }
}

const RECENT: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
m = connect(imaps, user, password)
m.create('Fresh')
m.append('Fresh', None, None, b'Subject: one\r\n\r\nx\r\n')
m.append('Fresh', None, None, b'Subject: two\r\n\r\nx\r\n')
print('status', m.status('Fresh', '(RECENT)'))
a = Raw(imaps)
a.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
print('examine', a.cmd('a2', 'EXAMINE Fresh'))
print('afterexamine', m.status('Fresh', '(RECENT)'))
print('select', a.cmd('a3', 'SELECT Fresh'))
print('search', a.cmd('a4', 'SEARCH RECENT'))
print('fetch', a.cmd('a5', 'FETCH 1 FLAGS'))
b = Raw(imaps)
b.cmd('b1', 'LOGIN "%s" "%s"' % (user, password))
print('second', b.cmd('b2', 'SELECT Fresh'))
m.append('Fresh', None, None, b'Subject: three\r\n\r\nx\r\n')
print('noop', b.cmd('b3', 'NOOP'))
print('other', a.cmd('a6', 'NOOP'))
print('new', b.cmd('b4', 'SEARCH NEW'))
e = Raw(imaps)
e.cmd('e1', 'LOGIN "%s" "%s"' % (user, password))
e.cmd('e2', 'ENABLE IMAP4rev2')
print('rev2', e.cmd('e3', 'SELECT Fresh'))
"#;

#[tokio::test]
async fn rfc3501_recent_goes_to_the_first_session_that_selects() {
    for db in carepost_testkit::backends().await {
        let out = ann_runs(db, RECENT).await;
        let line = |p: &str| line_of(&out, p);
        assert!(line("status").contains("RECENT 2"), "{out}");
        assert!(line("examine").contains("* 2 RECENT"), "{out}");
        assert!(
            line("afterexamine").contains("RECENT 2"),
            "EXAMINE does not claim: {out}"
        );
        assert!(line("select").contains("* 2 RECENT"), "{out}");
        assert!(line("search").contains("* SEARCH 1 2"), "{out}");
        assert!(line("fetch").contains("FLAGS (\\\\Recent)"), "{out}");
        assert!(line("second").contains("* 0 RECENT"), "claimed once: {out}");
        // The new message goes to the one session that notices it first.
        let noop = line("noop");
        assert!(
            noop.contains("* 3 EXISTS") && noop.contains("* 1 RECENT"),
            "{out}"
        );
        let other = line("other");
        assert!(
            other.contains("* 3 EXISTS") && other.contains("* 2 RECENT"),
            "{out}"
        );
        assert!(line("new").contains("* SEARCH 3'"), "{out}");
        assert!(
            !line("rev2").contains("RECENT"),
            "IMAP4rev2 has no \\Recent: {out}"
        );
    }
}

const MUTF7: &str = r#"
imaps, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
r = Raw(imaps)
r.cmd('a1', 'LOGIN "%s" "%s"' % (user, password))
print('create', r.cmd('a2', 'CREATE "Befunde/p&AOQA5A-"'))
print('list', r.cmd('a3', 'LIST "" "Befunde/*"'))
print('status', r.cmd('a4', 'STATUS "Befunde/p&AOQA5A-" (MESSAGES)'))
print('bad', r.cmd('a5', 'CREATE "broken&AOQ"'))
print('amp', r.cmd('a6', 'CREATE "R&-D"'))
u = Raw(imaps)
u.cmd('u1', 'LOGIN "%s" "%s"' % (user, password))
u.cmd('u2', 'ENABLE UTF8=ACCEPT')
u.send('u3 LIST "" "*"\r\n')
print('utf8', [l.encode('utf-8') for l in u.until('u3')])
"#;

#[tokio::test]
async fn rfc3501_rev1_clients_name_mailboxes_in_modified_utf7() {
    for db in carepost_testkit::backends().await {
        let out = ann_runs(db, MUTF7).await;
        let line = |p: &str| line_of(&out, p);
        assert!(line("create").contains("a2 OK"), "{out}");
        assert!(line("list").contains("\"Befunde/p&AOQA5A-\""), "{out}");
        assert!(line("status").contains("MESSAGES 0"), "{out}");
        assert!(line("bad").contains("a5 NO [CANNOT]"), "{out}");
        assert!(line("amp").contains("a6 OK"), "{out}");
        // Stored as UTF-8: a client that accepts UTF-8 sees the real name.
        let utf8 = line("utf8");
        assert!(utf8.contains("Befunde/p\\xc3\\xa4\\xc3\\xa4"), "{out}");
        assert!(utf8.contains("\"R&D\""), "{out}");
    }
}
