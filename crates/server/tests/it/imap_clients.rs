//! Real IMAP clients against the server, end to end: mbsync and offlineimap3 syncing a
//! Maildir both ways, and mutt reading over verified TLS from a terminal of its own. Each is
//! skipped when the client is not installed (scripts/install-test-deps installs them).

use crate::auth::GOOD;
use crate::imap::{PRELUDE, line_of};
use crate::smtp::{python, server_with_staff};

const MBSYNC: &str = r#"
import os, subprocess, glob, shutil
imaps, smtp, user, password, other, cert, home = sys.argv[1:8]
local = os.path.join(home, 'mail')
os.makedirs(local, exist_ok=True)
rc = os.path.join(home, 'mbsyncrc')
open(rc, 'w').write('''IMAPAccount carepost
Host 127.0.0.1
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
AuthMechs PLAIN

IMAPStore remote
Account carepost

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel staff
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
Sync All
SyncState *
''' % (imaps, user, password, cert, local, local))
def sync(label):
    r = subprocess.run(['mbsync', '-c', rc, '-a'], capture_output=True, text=True, timeout=60)
    print(label, r.returncode, r.stderr.strip().replace('\n', ' | ')[-300:])
def server_state():
    m = connect(imaps, user, password)
    out = {}
    for b in m.list()[1]:
        name = b.decode().rsplit(' ', 1)[1].strip('"')
        typ, data = m.select(name, readonly=True)
        typ, data = m.fetch('1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])') if int(data[0]) else ('OK', [])
        subjects = sorted((d[1].decode().strip() + ' ' + re.search(rb'FLAGS \(([^)]*)\)', d[0]).group(1).decode()) for d in data if isinstance(d, tuple))
        out[name] = subjects
    m.logout()
    return out
def local_state():
    out = {}
    for d in sorted(glob.glob(local + '/**/cur', recursive=True)) + sorted(glob.glob(local + '/**/new', recursive=True)):
        out[os.path.relpath(d, local)] = sorted(os.listdir(d))
    return out
for i in range(3):
    submit(smtp, other, password, user, 'Ward note %d' % i)
m = connect(imaps, user, password)
m.create('Work')
m.select('INBOX')
m.copy('1', 'Work')
m.logout()
sync('first')
print('local-inbox', len(os.listdir(local + '/INBOX/cur')) + len(os.listdir(local + '/INBOX/new')))
print('local-work', len(os.listdir(local + '/Work/cur')) + len(os.listdir(local + '/Work/new')))
# Changes on both sides.
inbox = sorted(glob.glob(local + '/INBOX/cur/*') + glob.glob(local + '/INBOX/new/*'))
first = inbox[0]
os.rename(first, os.path.join(local, 'INBOX', 'cur', os.path.basename(first).split(':')[0] + ':2,FS'))
trash = inbox[1]
os.rename(trash, os.path.join(local, 'INBOX', 'cur', os.path.basename(trash).split(':')[0] + ':2,ST'))
os.makedirs(local + '/Handover/cur'); os.makedirs(local + '/Handover/new'); os.makedirs(local + '/Handover/tmp')
open(local + '/Handover/new/1.local', 'w').write('From: ' + user + '\nSubject: written offline\n\nnotes\n')
m = connect(imaps, user, password)
m.select('Work')
m.store('1', '+FLAGS', '\\Answered')
m.logout()
submit(smtp, other, password, user, 'Arrived meanwhile')
sync('second')
print('server', server_state())
before = (server_state(), local_state())
sync('third')
after = (server_state(), local_state())
print('stable', before == after)
"#;

#[tokio::test]
async fn mbsync_two_way_sync_converges_and_a_second_sync_changes_nothing() {
    for out in run_client(&["mbsync"], MBSYNC).await {
        let line = |p: &str| line_of(&out, p);
        for run in ["first", "second", "third"] {
            assert!(line(run).starts_with(&format!("{run} 0")), "{out}");
        }
        assert_eq!(line("local-inbox"), "local-inbox 3", "{out}");
        assert_eq!(line("local-work"), "local-work 1", "{out}");
        let server = line("server");
        assert!(
            server.contains("'Handover': ['Subject: written offline '"),
            "local folder and message created on the server: {out}"
        );
        assert!(
            server.contains("Subject: Ward note 0 \\\\Flagged \\\\Seen"),
            "local flags pushed: {out}"
        );
        assert!(
            !server.contains("Ward note 1"),
            "locally trashed message expunged: {out}"
        );
        assert!(
            server.contains("'Work': ['Subject: Ward note 0 \\\\Answered'"),
            "{out}"
        );
        assert_eq!(line("stable"), "stable True", "{out}");
    }
}

/// Runs a client's script (after PRELUDE) against a server with two staff accounts on each
/// backend, with the arguments imaps port, submission port, user, password, other user,
/// certificate file and a scratch directory; the outputs, or none when a client program is
/// missing.
async fn run_client(programs: &[&str], script: &str) -> Vec<String> {
    if let Some(missing) = programs.iter().find(|p| which(p).is_none()) {
        eprintln!("SKIPPED: {missing} is not installed; run scripts/install-test-deps");
        return Vec::new();
    }
    let mut outs = Vec::new();
    for db in carepost_testkit::backends().await {
        let (s, ann, bob) = server_with_staff(db).await;
        let imaps = s.running.imaps.unwrap().port().to_string();
        let smtp = s.running.submission.unwrap().port().to_string();
        let home = tempfile::tempdir().unwrap();
        let args = [
            imaps.as_str(),
            &smtp,
            &ann,
            GOOD,
            &bob,
            s.cert.to_str().unwrap(),
            home.path().to_str().unwrap(),
        ];
        outs.push(python(&format!("{PRELUDE}{script}"), &args).await);
    }
    outs
}

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(cmd))
            .find(|f| f.is_file())
    })
}

/// offlineimap3 checks the host name itself, against the certificate's DNS names only (not
/// its IP addresses), so it connects to `localhost` (a name the generated certificate carries)
/// over IPv4, where the test server listens. Verification stays on: `sslcacertfile` is the
/// server's own certificate.
const OFFLINEIMAP: &str = r#"
import os, subprocess, glob
imaps, smtp, user, password, other, cert, home = sys.argv[1:8]
local = os.path.join(home, 'mail')
rc = os.path.join(home, 'offlineimaprc')
open(rc, 'w').write('''[general]
accounts = carepost
metadata = %s/metadata

[Account carepost]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = %s

[Repository remote]
type = IMAP
remotehost = localhost
ipv6 = no
remoteport = %s
remoteuser = %s
remotepass = %s
ssl = yes
sslcacertfile = %s
''' % (home, local, imaps, user, password, cert))
def sync(label):
    r = subprocess.run(['offlineimap', '-c', rc, '-o', '-u', 'basic'], capture_output=True, text=True, timeout=120)
    lines = (r.stdout + r.stderr).splitlines()
    errors = [l.strip() for l in lines if 'ERROR' in l or 'Error' in l or 'Traceback' in l]
    print(label, r.returncode, len(errors), ' | '.join(errors)[-300:])
    print(label + '-log', ' | '.join(l.strip() for l in lines if l.startswith(('Copy', 'Adding', 'Deleting', 'Creating folder')))[-600:])
def flagged(subject, flags):
    return subject + ' [' + flags + ']'
def server_state():
    m = connect(imaps, user, password)
    out = {}
    for b in m.list()[1]:
        name = b.decode().rsplit(' ', 1)[1].strip('"')
        typ, data = m.select(name, readonly=True)
        typ, data = m.fetch('1:*', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])') if int(data[0]) else ('OK', [])
        out[name] = ' | '.join(sorted(flagged(d[1].decode().split(':', 1)[1].strip(), re.search(rb'FLAGS \(([^)]*)\)', d[0]).group(1).decode()) for d in data if isinstance(d, tuple)))
    m.logout()
    return out
def subject(path):
    for l in open(path, errors='replace'):
        if l.lower().startswith('subject:'):
            return l.split(':', 1)[1].strip()
def files(folder):
    return sorted(glob.glob(os.path.join(local, folder, 'cur', '*')) + glob.glob(os.path.join(local, folder, 'new', '*')))
def local_state():
    out = {}
    for folder in sorted(os.listdir(local)):
        out[folder] = ' | '.join(sorted(flagged(subject(f), f.split(':2,')[1] if ':2,' in f else '') for f in files(folder)))
    return out
def names():
    return {folder: [os.path.relpath(f, local) for f in files(folder)] for folder in os.listdir(local)}
for i in range(3):
    submit(smtp, other, password, user, 'Ward note %d' % i)
m = connect(imaps, user, password)
m.create('Work')
m.select('INBOX')
m.copy('1', 'Work')
m.logout()
sync('first')
state = local_state()
print('local-folders', ' '.join(sorted(state)))
print('local-inbox', state['INBOX'])
print('local-work', state['Work'])
# Changes on both sides: locally a flag (in the file name), a deletion and a new message; on
# the server a flag and a delivery.
by_subject = {subject(f): f for f in files('INBOX')}
note0 = by_subject['Ward note 0']
os.rename(note0, os.path.join(local, 'INBOX', 'cur', os.path.basename(note0).split(':2,')[0] + ':2,FS'))
os.remove(by_subject['Ward note 1'])
open(os.path.join(local, 'INBOX', 'new', '1790000000.offline.laptop'), 'w').write('From: ' + user + '\nTo: ' + user + '\nSubject: written offline\n\nnotes\n')
m = connect(imaps, user, password)
m.select('Work')
m.store('1', '+FLAGS', '\\Answered')
m.logout()
submit(smtp, other, password, user, 'Arrived meanwhile')
sync('second')
state = server_state()
print('server-inbox', state['INBOX'])
print('server-work', state['Work'])
state = local_state()
print('local2-inbox', state['INBOX'])
print('local2-work', state['Work'])
print('offline-uid', [os.path.basename(f).split(',')[1] for f in files('INBOX') if subject(f) == 'written offline'])
before = (server_state(), local_state(), names())
sync('third')
after = (server_state(), local_state(), names())
print('stable', before == after)
"#;

#[tokio::test]
async fn offlineimap_two_way_sync_converges_and_a_third_sync_changes_nothing() {
    for out in run_client(&["offlineimap"], OFFLINEIMAP).await {
        let line = |p: &str| line_of(&out, &format!("{p} "));
        // Exit status 0 and no error in the output, each time.
        for run in ["first", "second", "third"] {
            assert_eq!(line(run), format!("{run} 0 0 "), "{out}");
        }
        // The first sync: every server folder, the copied message in its own.
        assert_eq!(
            line("local-folders"),
            "local-folders Archive Drafts INBOX Junk Sent Trash Work",
            "{out}"
        );
        assert_eq!(
            line("local-inbox"),
            "local-inbox Ward note 0 [] | Ward note 1 [] | Ward note 2 []",
            "{out}"
        );
        assert_eq!(line("local-work"), "local-work Ward note 0 []", "{out}");
        // The second: local flags, deletion and message reached the server...
        assert_eq!(
            line("server-inbox"),
            r"server-inbox Arrived meanwhile [] | Ward note 0 [\Flagged \Seen] | Ward note 2 [] | written offline []",
            "{out}"
        );
        assert_eq!(
            line("server-work"),
            r"server-work Ward note 0 [\Answered]",
            "{out}"
        );
        // ...and the server's flag and delivery reached the Maildir.
        assert_eq!(
            line("local2-inbox"),
            "local2-inbox Arrived meanwhile [] | Ward note 0 [FS] | Ward note 2 [] | written offline []",
            "{out}"
        );
        assert_eq!(line("local2-work"), "local2-work Ward note 0 [R]", "{out}");
        // The local message learnt the UID the server gave it (APPENDUID): after the three
        // delivered notes and "Arrived meanwhile".
        assert_eq!(line("offline-uid"), "offline-uid ['U=5']", "{out}");
        assert_eq!(
            line("third-log"),
            "third-log ",
            "the third sync copies and flags nothing: {out}"
        );
        assert_eq!(line("stable"), "stable True", "{out}");
    }
}

/// mutt needs a terminal: `script` gives it one, `timeout` bounds it. It must never stop at a
/// prompt, so its folder directory exists (no "Create it?"), the certificate verifies against
/// the server's own (no "accept (o)nce"), and the password is in the config.
const MUTT: &str = r#"
import os, subprocess, shlex
imaps, smtp, user, password, other, cert, home = sys.argv[1:8]
def deliver(subject, body):
    s = smtplib.SMTP('127.0.0.1', int(smtp)); s.starttls(context=ctx); s.login(other, password)
    s.sendmail(other, [user], ('From: ' + other + '\r\nTo: ' + user + '\r\nSubject: ' + subject + '\r\n\r\n' + body + '\r\n').encode())
    s.quit()
deliver('Night ward', 'Bed 12 needs a review.')
deliver('Rota', 'Swap on Friday?')
saved = os.path.join(home, 'saved.mbox')
rc = os.path.join(home, 'muttrc')
open(rc, 'w').write('''set folder = "%s"
set imap_user = "%s"
set imap_pass = "%s"
set ssl_ca_certificates_file = "%s"
set certificate_file = "%s/certificates"
set ssl_force_tls = yes
set ssl_verify_host = yes
set header_cache = ""
set message_cachedir = ""
set mbox_type = mbox
set confirmappend = no
set confirmcreate = no
set move = no
set quit = yes
set wait_key = no
set record = ""
push "<display-message><exit><tag-pattern>~A<enter><tag-prefix><copy-message>%s<enter><quit>"
''' % (home, user, password, cert, home, saved))
cmd = 'mutt -d 2 -n -F %s -f %s' % (shlex.quote(rc), shlex.quote('imaps://127.0.0.1:%s/INBOX' % imaps))
env = dict(os.environ, TERM='xterm', HOME=home)
r = subprocess.run(['timeout', '60', 'script', '-qec', cmd, '/dev/null'], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
print('mutt', r.returncode)
screen = r.stdout + r.stderr
print('prompts', [w.decode() for w in (b'Certificate', b'(r)eject', b'Create it', b'Press any key', b'not bound') if w in screen])
if os.path.exists(saved):
    text = open(saved, errors='replace').read()
    print('saved', len(re.findall(r'^From ', text, re.M)), re.findall(r'^Subject: .*$', text, re.M))
    print('body', 'Bed 12 needs a review.' in text, 'Swap on Friday?' in text)
else:
    debug = os.path.join(home, '.muttdebug0')
    print('nothing saved', open(debug, errors='replace').read()[-3000:] if os.path.exists(debug) else '', screen[-2000:])
m = connect(imaps, user, password)
m.select('INBOX', readonly=True)
print('flags', m.fetch('1:*', '(FLAGS)')[1])
m.logout()
"#;

#[tokio::test]
async fn mutt_reads_a_message_and_saves_the_mailbox_over_verified_tls() {
    for out in run_client(&["mutt", "script"], MUTT).await {
        let line = |p: &str| line_of(&out, &format!("{p} "));
        assert_eq!(line("mutt"), "mutt 0", "finished, not timed out: {out}");
        assert_eq!(line("prompts"), "prompts []", "{out}");
        assert_eq!(
            line("saved"),
            "saved 2 ['Subject: Night ward', 'Subject: Rota']",
            "{out}"
        );
        assert_eq!(line("body"), "body True True", "{out}");
        // Displaying the first message marked it read on the server; copying did not, and
        // mutt keeps the unread one it has listed as its keyword "Old" ($mark_old), which the
        // server accepts (PERMANENTFLAGS has \*) and keeps.
        assert_eq!(
            line("flags"),
            r"flags [b'1 (FLAGS (\\Seen))', b'2 (FLAGS (Old))']",
            "{out}"
        );
    }
}
