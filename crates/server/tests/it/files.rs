//! The WebDAV file space (`/dav/files/ADDRESS/`): Debian's `litmus` WebDAV suite passes every
//! test that applies to a server without locking (basic, copymove, props, http; it skips
//! the lock tests itself), and raw
//! requests check what litmus does not: the space is off unless the policy turns it on, an
//! account reaches only its own, the quota and the size limit hold, a Destination elsewhere is
//! refused, protected properties are refused all or nothing, and content is sealed at rest.

use crate::auth::GOOD;
use crate::smtp::{add_staff, python};
use carepost_testkit::{TestDb, TestServer};

async fn server(db: TestDb, quota: u64, max_file: u64) -> (TestServer, String, String) {
    let s = TestServer::start_with(db, |c| {
        c.files.enabled = true;
        c.files.quota = quota;
        c.files.max_file_size = max_file;
    })
    .await;
    let (ann, bob) = add_staff(&s).await;
    (s, ann, bob)
}

#[tokio::test]
async fn litmus_passes_against_the_file_space() {
    if std::process::Command::new("litmus")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: litmus is not installed; run scripts/install-test-deps");
        return;
    }
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, _) = server(db, 1 << 30, 25 << 20).await;
        let url = format!(
            "https://127.0.0.1:{}/dav/files/{ann}/",
            s.running.https.unwrap().port()
        );
        // Every suite litmus has by default; it skips the locking tests itself, since the
        // server does not claim class 2, and the 100-continue test over TLS.
        // litmus leaves debug.log and child.log where it runs.
        let logs = tempfile::tempdir().unwrap();
        let out = tokio::process::Command::new("litmus")
            .args(["-k", &url, &ann, GOOD])
            .env_remove("TESTS")
            .current_dir(logs.path())
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        for suite in ["basic", "copymove", "props", "locks", "http"] {
            let summary = text
                .lines()
                .find(|l| l.contains(&format!("summary for `{suite}'")))
                .unwrap_or_else(|| panic!("no summary for {suite} in:\n{text}"));
            assert!(summary.contains(" 0 failed"), "{summary}\n{text}");
        }
        assert!(!text.contains("FAIL"), "{text}");
        assert!(out.status.success(), "{text}");
    }
}

const RAW: &str = r#"
import base64, http.client, ssl, sys
port, user, password, other = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
auth = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
def req(method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = auth
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
home = "/dav/files/" + user + "/"
s, h, _ = req("OPTIONS", home)
print("options", s, h.get("dav"))
print("other", req("PUT", "/dav/files/" + other + "/x.txt", b"x")[0])
print("other-list", req("PROPFIND", "/dav/files/" + other + "/", None, {"Depth": "1"})[0])
s, h, _ = req("PUT", home + "note.txt", "ward 3 handover\n".encode(), {"Content-Type": "text/plain"})
print("put", s, h.get("etag") is not None)
etag = h.get("etag")
s, h, body = req("GET", home + "note.txt")
print("get", s, h.get("content-type"), h.get("etag") == etag, body == "ward 3 handover\n")
print("not-modified", req("GET", home + "note.txt", None, {"If-None-Match": etag})[0])
print("stale", req("PUT", home + "note.txt", b"y", {"If-Match": '"nope"'})[0])
print("no-folder", req("PUT", home + "missing/x.txt", b"y")[0])
print("big", req("PUT", home + "big.bin", b"z" * 3000)[0])
print("mkcol", req("MKCOL", home + "a")[0], req("MKCOL", home + "a")[0])
print("fill", req("PUT", home + "a/1.bin", b"1" * 1500)[0])
s, h, body = req("PUT", home + "a/2.bin", b"2" * 1500)
print("quota", s, "quota-not-exceeded" in body)
print("copy-full", req("COPY", home + "a", None, {"Destination": home + "b"})[0])
print("move", req("MOVE", home + "a", None, {"Destination": "https://127.0.0.1:%d%sb" % (port, home)})[0])
print("moved", req("GET", home + "b/1.bin")[0], req("GET", home + "a/1.bin")[0])
print("away", req("MOVE", home + "b", None, {"Destination": "/dav/files/" + other + "/b"})[0])
print("elsewhere", req("COPY", home + "note.txt", None, {"Destination": "https://example.org" + home + "n2"})[0])
print("into-itself", req("MOVE", home + "b", None, {"Destination": home + "b/c"})[0])
print("onto-parent", req("MKCOL", home + "b/c")[0], req("MOVE", home + "b/c", None, {"Destination": home + "b"})[0], req("GET", home + "b/1.bin")[0])
print("no-overwrite", req("COPY", home + "note.txt", None, {"Destination": home + "b/1.bin", "Overwrite": "F"})[0])
print("slash", req("GET", home + "b%2F1.bin")[0])
print("dotdot", req("GET", home + "b/%2e%2e/note.txt")[0])
print("root-delete", req("DELETE", home)[0])
patch = ('<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
         '<D:getetag>x</D:getetag><Z:color xmlns:Z="urn:z">red</Z:color></D:prop></D:set>'
         '</D:propertyupdate>')
s, _, body = req("PROPPATCH", home + "note.txt", patch)
print("protected", s, "403 Forbidden" in body, "424 Failed Dependency" in body)
s, _, body = req("PROPFIND", home + "note.txt", '<D:propfind xmlns:D="DAV:"><D:prop><Z:color xmlns:Z="urn:z"/></D:prop></D:propfind>', {"Depth": "0"})
print("unset", "404 Not Found" in body)
print("infinity", req("PROPFIND", home, None, {"Depth": "infinity"})[0])
print("bad-xml", req("PROPFIND", home, "<D:propfind", {"Depth": "0"})[0])
s, _, body = req("PROPFIND", home, '<D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/><D:quota-available-bytes/></D:prop></D:propfind>', {"Depth": "0"})
print("usage", s, "<d:quota-used-bytes>1516</d:quota-used-bytes>" in body)
print("delete", req("DELETE", home + "b")[0], req("GET", home + "b/1.bin")[0])
"#;

#[tokio::test]
async fn the_file_space_keeps_to_its_owner_its_quota_and_its_limits() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server(db, 3000, 2000).await;
        let port = s.running.https.unwrap().port().to_string();
        let out = python(RAW, &[&port, &ann, GOOD, &bob]).await;
        for want in [
            "options 200 1, 3",
            "other 403",
            "other-list 403",
            "put 201 True",
            "get 200 text/plain True True",
            "not-modified 304",
            "stale 412",
            "no-folder 409",
            "big 413",
            "mkcol 201 405",
            "fill 201",
            "quota 507 True",
            "copy-full 507",
            "move 201",
            "moved 200 404",
            "away 403",
            "elsewhere 502",
            "into-itself 403",
            "onto-parent 201 403 200",
            "no-overwrite 412",
            "slash 400",
            "dotdot 400",
            "root-delete 403",
            "protected 207 True True",
            "unset True",
            "infinity 403",
            "bad-xml 400",
            "usage 207 True",
            "delete 204 404",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
        // Sealed at rest: the database holds no plain text of the file.
        let ctx = &s.running.context;
        let files = &ctx.files;
        let ann_id = ctx
            .directory
            .find_account(&crate::support::admin(), &ann)
            .await
            .unwrap()
            .id;
        let path = carepost_files::FilePath::new(vec!["note.txt".into()]).unwrap();
        let (_, plain) = files.read(ann_id, &path).await.unwrap();
        assert_eq!(plain, b"ward 3 handover\n");
        let mut tx = ctx.store.read().await.unwrap();
        let row = carepost_store::FileRepo::file(&mut tx, ann_id, "note.txt")
            .await
            .unwrap()
            .unwrap();
        let sealed = carepost_store::FileRepo::file_content(&mut tx, row.id)
            .await
            .unwrap()
            .unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"handover"));
    }
}

#[tokio::test]
async fn the_file_space_is_off_unless_the_policy_turns_it_on() {
    let s = TestServer::start(TestDb::sqlite()).await;
    let (ann, _) = add_staff(&s).await;
    let port = s.running.https.unwrap().port().to_string();
    let out = python(
        r#"
import base64, http.client, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
auth = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
c.request("PUT", "/dav/files/" + user + "/x.txt", body=b"x", headers={"Authorization": auth})
r = c.getresponse(); r.read()
print("off", r.status)
c.request("PUT", "/dav/files/" + user + "/x.txt", body=b"x")
r = c.getresponse(); r.read()
print("anonymous", r.status)
"#,
        &[&port, &ann, GOOD],
    )
    .await;
    assert!(out.contains("off 404"), "{out}");
    assert!(out.contains("anonymous 401"), "{out}");
}
