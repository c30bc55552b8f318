//! CalDAV (issue 19, first part) through real clients: python's `caldav` library finds the
//! calendars from the well-known URL, makes a calendar, stores and finds events by time range
//! and syncs by token; raw requests check the edges (another person's calendar, a stale ETag,
//! no credentials, bad XML, escaping paths, Depth: infinity, an object over the size limit).
//! A path names its owner and another account's is refused before anything is looked up.

use crate::auth::GOOD;
use crate::smtp::{python, python_with, server_with_staff};

/// Runs `script` with the python of the `caldav` client's own environment (made by
/// scripts/install-test-deps, apart from the system's packages).
pub(crate) async fn caldav_python(script: &str, args: &[&str]) -> String {
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

/// Ann invites Bob with python's caldav client; Bob answers on his own copy; Ann asks for
/// Bob's free/busy; Ann takes Bob off the meeting. Printed lines are checked below.
const SCHEDULING: &str = r#"
import caldav, datetime, sys
url, ann, bob, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
utc = datetime.timezone.utc
def client(user):
    return caldav.DAVClient(url=url + "/.well-known/caldav", username=user, password=password,
                            ssl_verify_cert=False)
a, b = client(ann).principal(), client(bob).principal()
print("outbox", a.schedule_outbox().url.path)
acal = a.calendar(cal_id="calendar")
bcal = b.calendar(cal_id="calendar")
# A private appointment of Bob's: busy for others, never its title.
bcal.save_event(dtstart=datetime.datetime(2026, 12, 10, 14, 0, tzinfo=utc),
                dtend=datetime.datetime(2026, 12, 10, 15, 0, tzinfo=utc),
                summary="Secret appointment", uid="bob-private", **{"class": "PRIVATE"})
meeting = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:case-review\r\n"
           "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n"
           "SUMMARY:Case review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
acal.save_with_invites(meeting, attendees=[a, bob, "outside@example.com"])
copy = bcal.event_by_uid("case-review")
mine = [x for x in copy.icalendar_component.get("attendee") if bob in str(x).lower()][0]
print("bob-copy", str(copy.icalendar_component["summary"]), mine.params.get("PARTSTAT"))
items = b.schedule_inbox().get_items()
print("bob-inbox", len(items), sorted(str(i.icalendar_instance.get("method")) for i in items))
copy.change_attendee_status(attendee=bob, partstat="ACCEPTED")
copy.save()
org = acal.event_by_uid("case-review")
answer = [x for x in org.icalendar_component.get("attendee") if bob in str(x).lower()][0]
print("ann-sees", answer.params.get("PARTSTAT"))
print("ann-inbox", sorted(str(i.icalendar_instance.get("method")) for i in a.schedule_inbox().get_items()))
fb = a.freebusy_request(datetime.datetime(2026, 12, 10, tzinfo=utc),
                        datetime.datetime(2026, 12, 11, tzinfo=utc),
                        ["mailto:" + bob, "mailto:nobody@kaiser.org"])
busy = fb["mailto:" + bob]
periods = []
for p in busy.icalendar_component.get("freebusy"):
    for v in (p if isinstance(p, list) else [p]):
        periods.append(v.to_ical().decode())
print("busy", sorted(periods))
print("secret-leaked", "Secret" in busy.data)
print("unknown", sorted(fb["errors"].keys()))
# Ann takes Bob off: his copy is cancelled and his inbox told.
org = acal.event_by_uid("case-review")
comp = org.icalendar_component
keep = [x for x in comp.get("attendee") if bob not in str(x).lower()]
del comp["attendee"]
for x in keep:
    comp.add("attendee", x)
org.save()
copy = bcal.event_by_uid("case-review")
print("bob-after", str(copy.icalendar_component.get("status")))
print("bob-inbox-after", sorted(str(i.icalendar_instance.get("method")) for i in b.schedule_inbox().get_items()))
"#;

#[tokio::test]
async fn meetings_reach_colleagues_answers_come_back_and_free_busy_hides_titles() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let url = format!("https://127.0.0.1:{}", s.running.https.unwrap().port());
        let out = caldav_python(SCHEDULING, &[&url, &ann, &bob, GOOD]).await;
        for want in [
            format!("outbox /dav/calendars/{ann}/outbox/"),
            "bob-copy Case review NEEDS-ACTION".to_string(),
            "bob-inbox 1 ['REQUEST']".to_string(),
            "ann-sees ACCEPTED".to_string(),
            "ann-inbox ['REPLY']".to_string(),
            "busy ['20261210T090000Z/20261210T100000Z', '20261210T140000Z/20261210T150000Z']"
                .to_string(),
            "secret-leaked False".to_string(),
            "unknown ['mailto:nobody@kaiser.org']".to_string(),
            "bob-after CANCELLED".to_string(),
            "bob-inbox-after ['CANCEL', 'REQUEST']".to_string(),
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
    }
}

/// Scheduling's edges through raw requests: an invitation reusing the UID of someone's own
/// event, a forged answer, too many attendees, the outbox and inbox refusing what they must.
const SCHEDULING_EDGES: &str = r#"
import base64, http.client, ssl, sys
port, ann, bob, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(user, method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace")
def event(uid, extra=""):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
            "\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n"
            "SUMMARY:" + uid + "\r\n" + extra + "END:VEVENT\r\nEND:VCALENDAR\r\n")
cal = lambda user: "/dav/calendars/" + user + "/calendar/"
ical = {"Content-Type": "text/calendar"}
# Ann's own appointment, then Bob "invites" her with its UID: hers stays as it was.
mine = event("ann-own")
print("own", req(ann, "PUT", cal(ann) + "ann-own.ics", mine, ical)[0])
hijack = event("ann-own", "ORGANIZER:mailto:" + bob + "\r\nATTENDEE:mailto:" + ann + "\r\n")
print("hijack", req(bob, "PUT", cal(bob) + "x.ics", hijack, ical)[0])
s, body = req(ann, "GET", cal(ann) + "ann-own.ics")
print("own-kept", s, body == mine)
# Ann's meeting without Bob; Bob claims to be an attendee who accepted: nothing changes.
meeting = event("no-bob", "ORGANIZER:mailto:" + ann + "\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:" + ann + "\r\n")
print("meeting", req(ann, "PUT", cal(ann) + "no-bob.ics", meeting, ical)[0])
forged = event("no-bob", "ORGANIZER:mailto:" + ann + "\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:" + bob + "\r\n")
print("forged", req(bob, "PUT", cal(bob) + "no-bob.ics", forged, ical)[0])
s, body = req(ann, "GET", cal(ann) + "no-bob.ics")
print("meeting-kept", s, body == meeting)
crowd = "".join("ATTENDEE:mailto:p%d@kaiser.org\r\n" % i for i in range(600))
s, body = req(ann, "PUT", cal(ann) + "crowd.ics", event("crowd", "ORGANIZER:mailto:" + ann + "\r\n" + crowd), ical)
print("crowd", s, "max-attendees-per-instance" in body)
fb = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:q\r\n"
      "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T000000Z\r\nDTEND:20261211T000000Z\r\n"
      "ORGANIZER:mailto:%s\r\nATTENDEE:mailto:%s\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n")
outbox = "/dav/calendars/" + ann + "/outbox/"
s, body = req(ann, "POST", outbox, fb % (bob, ann), ical)
print("not-organizer", s, "organizer-allowed" in body)
s, body = req(ann, "POST", outbox, "hello", ical)
print("garbage", s, "valid-scheduling-message" in body)
s, body = req(ann, "POST", "/dav/calendars/" + bob + "/outbox/", fb % (ann, bob), ical)
print("other-outbox", s)
s, body = req(ann, "POST", outbox, fb % (ann, ann), ical)
print("own-freebusy", s, "FBTYPE=BUSY:20261210T090000Z/20261210T100000Z" in body.replace("\n ", ""))
print("inbox-put", req(ann, "PUT", "/dav/calendars/" + ann + "/inbox/x.ics", mine, ical)[0])
print("inbox-delete", req(ann, "DELETE", "/dav/calendars/" + ann + "/inbox/")[0])
print("mk-inbox", req(ann, "MKCALENDAR", "/dav/calendars/" + ann + "/outbox/")[0])
q = ("<c:free-busy-query xmlns:c='urn:ietf:params:xml:ns:caldav'><c:time-range "
     "start='20261210T000000Z' end='20261211T000000Z'/></c:free-busy-query>")
s, body = req(ann, "REPORT", cal(ann), q, {"Depth": "1"})
print("fb-query", s, "BEGIN:VFREEBUSY" in body, "SUMMARY" in body)
# Deleting a whole calendar cancels the meetings it organizes.
print("mk-rota", req(ann, "MKCALENDAR", "/dav/calendars/" + ann + "/rota/")[0])
huddle = event("huddle", "ORGANIZER:mailto:" + ann + "\r\nATTENDEE:mailto:" + bob + "\r\n")
print("huddle", req(ann, "PUT", "/dav/calendars/" + ann + "/rota/huddle.ics", huddle, ical)[0])
s, body = req(bob, "GET", cal(bob) + "huddle.ics")
print("bob-huddle", s, "STATUS:CANCELLED" in body)
print("rm-rota", req(ann, "DELETE", "/dav/calendars/" + ann + "/rota/")[0])
s, body = req(bob, "GET", cal(bob) + "huddle.ics")
print("bob-huddle-after", s, "STATUS:CANCELLED" in body)
"#;

#[tokio::test]
async fn scheduling_refuses_hijacks_forgeries_and_crowds() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let port = s.running.https.unwrap().port().to_string();
        let out = python(SCHEDULING_EDGES, &[&port, &ann, &bob, GOOD]).await;
        for want in [
            "own 201",
            "hijack 201",
            "own-kept 200 True",
            "meeting 201",
            "forged 201",
            "meeting-kept 200 True",
            "crowd 403 True",
            "not-organizer 403 True",
            "garbage 403 True",
            "other-outbox 403",
            "own-freebusy 200 True",
            "inbox-put 403",
            "inbox-delete 403",
            "mk-inbox 405",
            "fb-query 200 True False",
            "mk-rota 201",
            "huddle 201",
            "bob-huddle 200 False",
            "rm-rota 204",
            "bob-huddle-after 200 True",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
    }
}

/// RFC 6578 section 3.6: a sync answer is given a page at a time (the client's limit here),
/// with a 507 for the collection and a token from which the rest follows.
const PAGED: &str = r#"
import base64, http.client, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace")
cal = "/dav/calendars/" + user + "/calendar/"
for i in range(5):
    ev = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:p%d\r\n"
          "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T09000%dZ\r\nSUMMARY:P\r\nEND:VEVENT\r\n"
          "END:VCALENDAR\r\n") % (i, i)
    req("PUT", cal + "p%d.ics" % i, ev, {"Content-Type": "text/calendar"})
def sync(token):
    body = ("<d:sync-collection xmlns:d='DAV:'><d:sync-token>%s</d:sync-token><d:sync-level>1"
            "</d:sync-level><d:limit><d:nresults>2</d:nresults></d:limit><d:prop><d:getetag/>"
            "</d:prop></d:sync-collection>") % token
    s, b = req("REPORT", cal, body, {"Depth": "1", "Content-Type": "application/xml"})
    names = [h.split("</d:href>")[0] for h in b.split("<d:href>")[1:]]
    return s, [n for n in names if n.endswith(".ics")], "HTTP/1.1 507" in b, b.split("<d:sync-token>")[1].split("<")[0]
seen, token, pages = [], "", 0
while True:
    s, names, more, token = sync(token)
    pages += 1
    seen += names
    if not more or pages > 10:
        break
print("pages", pages, "objects", len(set(seen)), len(seen))
s, names, more, token = sync(token)
print("nothing-new", len(names), more)
# Asked for lengths and no text, a sync reads no text and still gives each object's length;
# a multiget of ETags alone the same, and with calendar-data the text itself.
size = len(("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:p0\r\n"
            "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T090000Z\r\nSUMMARY:P\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n").encode())
xml = {"Depth": "1", "Content-Type": "application/xml"}
s, b = req("REPORT", cal, "<d:sync-collection xmlns:d='DAV:'><d:sync-token/><d:sync-level>1</d:sync-level>"
           "<d:prop><d:getetag/><d:getcontentlength/></d:prop></d:sync-collection>", xml)
print("lengths", s, b.count("<d:getcontentlength>%d</d:getcontentlength>" % size), "VCALENDAR" in b)
mg = ("<c:calendar-multiget xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:prop><d:getetag/>"
      "<d:getcontentlength/>%s</d:prop><d:href>" + cal + "p0.ics</d:href></c:calendar-multiget>")
s, b = req("REPORT", cal, mg % "", xml)
print("multiget-etags", s, "<d:getcontentlength>%d<" % size in b, "VCALENDAR" in b)
s, b = req("REPORT", cal, mg % "<c:calendar-data/>", xml)
# The text as stored, CRLF line ends included, once an XML parser has read the answer.
import xml.etree.ElementTree as ET
text = ET.fromstring(b).find(".//{urn:ietf:params:xml:ns:caldav}calendar-data").text
print("multiget-data", s, "<d:getcontentlength>%d<" % size in b, len(text.encode()) == size and "UID:p0\r\n" in text)
"#;

#[tokio::test]
async fn a_large_sync_answer_comes_a_page_at_a_time() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, _) = server_with_staff(db).await;
        let port = s.running.https.unwrap().port().to_string();
        let out = python(PAGED, &[&port, &ann, GOOD]).await;
        for want in [
            "pages 3 objects 5 5",
            "nothing-new 0 False",
            "lengths 207 5 False",
            "multiget-etags 207 True False",
            "multiget-data 207 True True",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
    }
}
