//! CalDAV (issue 19, first part) through real clients: python's `caldav` library finds the
//! calendars from the well-known URL, makes a calendar, stores and finds events by time range
//! and syncs by token; raw requests check the edges (another person's calendar, a stale ETag,
//! no credentials, bad XML, escaping paths, Depth: infinity, an object over the size limit).
//! A path names its owner and another account's is refused before anything is looked up.

use crate::auth::GOOD;
use crate::smtp::{python, python_with, server_with_staff};

/// Runs `script` with the python of the `caldav` client's own environment (made by
/// scripts/install-test-deps, apart from the system's packages).
async fn caldav_python(script: &str, args: &[&str]) -> String {
    let cache = std::env::var("XDG_CACHE_HOME")
        .unwrap_or_else(|_| format!("{}/.cache", std::env::var("HOME").unwrap_or_default()));
    python_with(
        &format!("{cache}/carepost/caldav-venv/bin/python"),
        script,
        args,
    )
    .await
}

const CLIENT: &str = r#"
import caldav, datetime, sys
url, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
utc = datetime.timezone.utc
client = caldav.DAVClient(url=url + "/.well-known/caldav", username=user, password=password,
                          ssl_verify_cert=False)
p = client.principal()
print("home", sorted(c.get_display_name() for c in p.calendars()))
rota = p.make_calendar(name="Ward rota", cal_id="rota")
rota.save_event(dtstart=datetime.datetime(2026, 12, 8, 9, 0, tzinfo=utc),
                dtend=datetime.datetime(2026, 12, 8, 10, 0, tzinfo=utc),
                summary="Handover", uid="handover-1")
rota.save_event(dtstart=datetime.datetime(2026, 12, 1, 7, 0, tzinfo=utc),
                dtend=datetime.datetime(2026, 12, 1, 7, 30, tzinfo=utc),
                summary="Weekly huddle", uid="huddle", rrule={"FREQ": "WEEKLY", "COUNT": 10})
day = rota.search(start=datetime.datetime(2026, 12, 8, tzinfo=utc),
                  end=datetime.datetime(2026, 12, 9, tzinfo=utc), event=True, expand=False)
print("dec8", sorted(str(e.icalendar_component["summary"]) for e in day))
later = rota.search(start=datetime.datetime(2027, 1, 26, tzinfo=utc),
                    end=datetime.datetime(2027, 1, 27, tzinfo=utc), event=True, expand=False)
print("jan26", sorted(str(e.icalendar_component["summary"]) for e in later))
none = rota.search(start=datetime.datetime(2027, 6, 1, tzinfo=utc),
                   end=datetime.datetime(2027, 6, 2, tzinfo=utc), event=True, expand=False)
print("june", len(none))
synced = rota.objects_by_sync_token(load_objects=True)
token = synced.sync_token
print("sync", len(list(synced)))
again = rota.objects_by_sync_token(sync_token=token, load_objects=False)
print("unchanged", len(list(again)))
rota.event_by_uid("handover-1").delete()
after = rota.objects_by_sync_token(sync_token=token, load_objects=False)
print("after-delete", len(list(after)))
print("names", sorted(c.get_display_name() for c in p.calendars()))
"#;

const RAW: &str = r#"
import base64, http.client, ssl, sys
port, user, password, other = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
auth = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
def req(method, path, body=None, headers=None, authed=True):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    if authed:
        h["Authorization"] = auth
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data
ev = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u1\r\n"
      "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\nSUMMARY:A\r\nEND:VEVENT\r\n"
      "END:VCALENDAR\r\n")
home = "/dav/calendars/" + user + "/calendar/"
s, h, _ = req("PUT", home + "u1.ics", ev, {"Content-Type": "text/calendar", "If-None-Match": "*"})
print("put", s, h.get("etag") is not None)
etag = h.get("etag")
s, _, _ = req("PUT", home + "u1.ics", ev, {"Content-Type": "text/calendar", "If-None-Match": "*"})
print("put-again", s)
s, h, body = req("GET", home + "u1.ics")
print("get", s, body == ev, h.get("etag") == etag)
s, _, _ = req("PUT", home + "u1.ics", ev.replace("SUMMARY:A", "SUMMARY:B"), {"If-Match": etag})
print("update", s)
s, _, _ = req("PUT", home + "u1.ics", ev, {"If-Match": etag})
print("stale", s)
s, _, body = req("PUT", home + "u2.ics", ev)
print("uid-conflict", s, "no-uid-conflict" in body)
two = ev.replace("END:VCALENDAR", "BEGIN:VEVENT\r\nUID:other\r\nDTSTART:20261210T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR")
s, _, body = req("PUT", home + "two.ics", two)
print("two-uids", s, "valid-calendar-object-resource" in body)
s, _, _ = req("PUT", home + "big.ics", ev.replace("SUMMARY:A", "SUMMARY:" + "x" * (1 << 20)))
print("too-large", s)
s, h, _ = req("PROPFIND", "/dav/", "", {"Depth": "0"}, authed=False)
print("anonymous", s, h.get("www-authenticate", "").startswith("Basic"))
wrong = "Basic " + base64.b64encode((user + ":wrong").encode()).decode()
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
c.request("PROPFIND", "/dav/", headers={"Authorization": wrong, "Depth": "0"})
print("wrong-password", c.getresponse().status)
s, _, _ = req("PROPFIND", "/dav/calendars/" + other + "/calendar/", "", {"Depth": "1"})
print("other", s)
s, _, _ = req("GET", "/dav/calendars/" + other + "/calendar/u1.ics")
print("other-get", s)
s, _, _ = req("PROPFIND", "/dav/calendars/" + user + "/%2e%2e/" + other + "/", "", {"Depth": "1"})
print("escape", s)
s, _, _ = req("PROPFIND", "/dav/calendars/" + user + "/", "", {"Depth": "infinity"})
print("infinity", s)
s, _, _ = req("PROPFIND", home, "<d:propfind xmlns:d='DAV:'><d:prop>", {"Depth": "0"})
print("bad-xml", s)
s, _, body = req("REPORT", home, "<d:sync-collection xmlns:d='DAV:'><d:sync-token>urn:carepost:sync:999:1</d:sync-token><d:prop><d:getetag/></d:prop></d:sync-collection>", {"Depth": "1"})
print("forged-token", s, "valid-sync-token" in body)
s, _, _ = req("DELETE", home + "u1.ics", None, {"If-Match": etag})
print("delete-stale", s)
s, _, _ = req("DELETE", home + "u1.ics")
print("delete", s)
s, _, _ = req("GET", home + "u1.ics")
print("gone", s)
"#;

#[tokio::test]
async fn a_caldav_client_finds_makes_stores_queries_and_syncs() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, _) = server_with_staff(db).await;
        let url = format!("https://127.0.0.1:{}", s.running.https.unwrap().port());
        let out = caldav_python(CLIENT, &[&url, &ann, GOOD]).await;
        let line = |k: &str| {
            out.lines()
                .find(|l| l.starts_with(&format!("{k} ")))
                .unwrap_or_else(|| panic!("no {k} in {out}"))
                .to_string()
        };
        // A new account has a calendar and a task list, made on first use.
        assert_eq!(line("home"), "home ['Calendar', 'Tasks']");
        assert_eq!(line("dec8"), "dec8 ['Handover', 'Weekly huddle']");
        // The weekly event's eighth instance, 26 January, is found by its time alone.
        assert_eq!(line("jan26"), "jan26 ['Weekly huddle']");
        assert_eq!(line("june"), "june 0");
        assert_eq!(line("sync"), "sync 2");
        assert_eq!(line("unchanged"), "unchanged 0");
        assert_eq!(line("after-delete"), "after-delete 1");
        assert_eq!(line("names"), "names ['Calendar', 'Tasks', 'Ward rota']");
    }
}

#[tokio::test]
async fn caldav_edges_get_webdav_answers_and_touch_nothing_else() {
    let (s, ann, bob) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let port = s.running.https.unwrap().port().to_string();
    // Bob has a calendar with an object Ann must not reach.
    let bob_out = python(RAW, &[&port, &bob, GOOD, &ann]).await;
    assert!(bob_out.contains("put 201 True"), "{bob_out}");
    let out = python(RAW, &[&port, &ann, GOOD, &bob]).await;
    for want in [
        "put 201 True",
        "put-again 412",
        "get 200 True True",
        "update 204",
        "stale 412",
        "uid-conflict 403 True",
        "two-uids 403 True",
        "too-large 413",
        "anonymous 401 True",
        "wrong-password 401",
        "other 403",
        "other-get 403",
        "escape 400",
        "infinity 403",
        "bad-xml 400",
        "forged-token 403 True",
        "delete-stale 412",
        "delete 204",
        "gone 404",
    ] {
        assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
    }
}

const PROBE: &str = r#"
import base64, http.client, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
auth = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
c.request("PROPFIND", "/dav/", headers={"Authorization": auth, "Depth": "0"})
print(c.getresponse().status)
"#;

#[tokio::test]
async fn a_revoked_app_password_stops_syncing_at_once_though_it_was_remembered() {
    let (s, ann, _) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let port = s.running.https.unwrap().port().to_string();
    let dir = &s.running.context.directory;
    let id = crate::mail::account(&s.running.context.mail, &ann).await;
    let (phone, secret) = dir
        .create_app_password(id, "phone", &[carepost_identity::Protocol::CalDav], None)
        .await
        .unwrap();
    assert_eq!(python(PROBE, &[&port, &ann, &secret]).await.trim(), "207");
    // Remembered now; revoked, it is refused at the next request all the same.
    assert_eq!(python(PROBE, &[&port, &ann, &secret]).await.trim(), "207");
    dir.revoke_app_passwords(id, Some(phone)).await.unwrap();
    assert_eq!(python(PROBE, &[&port, &ann, &secret]).await.trim(), "401");
    // An IMAP-only app password does not open calendars.
    let (_, imap_only) = dir
        .create_app_password(id, "mail", &[carepost_identity::Protocol::Imap], None)
        .await
        .unwrap();
    assert_eq!(
        python(PROBE, &[&port, &ann, &imap_only]).await.trim(),
        "401"
    );
}
