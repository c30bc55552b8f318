//! Rooms and equipment (issue 19, point 5): a resource invited to a meeting over CalDAV books
//! itself when it is free and its rules allow the organizer, and declines with the reason
//! otherwise; the answer is in the organizer's copy (which the client must read again: no
//! ETag), in the attendees' copies and in the organizer's inbox. Two people booking one slot
//! at the same moment get one acceptance and one decline on either backend; free/busy shows
//! the room's bookings; a delegate approves by hand; managing resources is for IT and the
//! department's supervisors, through the domain, the API and the command line.

use crate::auth::GOOD;
use crate::cli::{dev_data, fails, json, ok};
use crate::smtp::{python, server_with_staff};
use crate::support::{admin, with_token};
use carepost_calendar::ResourceSpec;
use carepost_identity::Role;

const BOOKING: &str = r#"
import base64, http.client, ssl, sys, threading
port, ann, bob, room, rad, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(user, method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read().decode("utf-8", "replace")
def meeting(uid, organizer, start, end, attendees, stamp="20260901T000000Z"):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//t//EN", "BEGIN:VEVENT", "UID:" + uid,
             "DTSTAMP:" + stamp, "DTSTART:" + start, "DTEND:" + end, "SUMMARY:" + uid,
             "ORGANIZER:mailto:" + organizer,
             "ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + organizer]
    for a in attendees:
        cutype = "ROOM" if a in (room, rad) else "INDIVIDUAL"
        lines.append("ATTENDEE;CUTYPE=" + cutype + ";PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:" + a)
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)
cal = lambda user: "/dav/calendars/" + user + "/calendar/"
ical = {"Content-Type": "text/calendar"}
def partstat(user, name, who):
    s, _, body = req(user, "GET", cal(user) + name)
    body = body.replace("\r\n ", "")
    for line in body.split("\r\n"):
        if line.startswith("ATTENDEE") and line.lower().endswith("mailto:" + who):
            for p in line.split(":")[0].split(";"):
                if p.startswith("PARTSTAT="):
                    return p[len("PARTSTAT="):]
    return "missing-%d" % s
def inbox(user):
    s, _, body = req(user, "PROPFIND", "/dav/calendars/" + user + "/inbox/", "", {"Depth": "1"})
    out = []
    for href in body.split("<d:href>")[1:]:
        href = href.split("</d:href>")[0]
        if href.endswith(".ics"):
            out.append(req(user, "GET", href)[2].replace("\r\n ", ""))
    return out
def replies_from(user, who):
    return [m for m in inbox(user) if "METHOD:REPLY" in m and ("mailto:" + who) in m.lower()]

s, h, _ = req(ann, "PUT", cal(ann) + "m1.ics", meeting("m1", ann, "20261210T090000Z", "20261210T100000Z", [bob, room]), ical)
print("ann-put", s, "etag" in h)
print("ann-room", partstat(ann, "m1.ics", room))
print("bob-copy-room", partstat(bob, "m1.ics", room))
print("ann-replies", len(replies_from(ann, room)))
s, h, _ = req(bob, "PUT", cal(bob) + "m2.ics", meeting("m2", bob, "20261210T093000Z", "20261210T103000Z", [room]), ical)
print("bob-room", partstat(bob, "m2.ics", room))
print("bob-told", any("already booked" in m for m in replies_from(bob, room)))
fb = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:q\r\n"
      "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T000000Z\r\nDTEND:20261211T000000Z\r\n"
      "ORGANIZER:mailto:%s\r\nATTENDEE:mailto:%s\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n") % (ann, room)
s, _, body = req(ann, "POST", "/dav/calendars/" + ann + "/outbox/", fb, ical)
body = body.replace("\r\n ", "").replace("\n ", "")
print("room-busy", s, "FBTYPE=BUSY:20261210T090000Z/20261210T100000Z" in body, "SUMMARY" in body)
req(ann, "PUT", cal(ann) + "long.ics", meeting("long", ann, "20261211T080000Z", "20261211T130000Z", [room]), ical)
print("too-long", partstat(ann, "long.ics", room), any("at most 4h" in m for m in replies_from(ann, room)))
req(ann, "PUT", cal(ann) + "far.ics", meeting("far", ann, "20270601T080000Z", "20270601T090000Z", [room]), ical)
print("too-far", partstat(ann, "far.ics", room), any("days ahead" in m for m in replies_from(ann, room)))
req(ann, "PUT", cal(ann) + "rad.ics", meeting("rad", ann, "20261212T080000Z", "20261212T090000Z", [rad]), ical)
print("other-department", partstat(ann, "rad.ics", rad), any("own department" in m for m in replies_from(ann, rad)))
# A re-save that moves nothing keeps the answer, without another REPLY.
before = len(replies_from(ann, room))
s, h, _ = req(ann, "PUT", cal(ann) + "m1.ics", meeting("m1", ann, "20261210T090000Z", "20261210T100000Z", [bob, room], stamp="20260902T000000Z"), ical)
print("resave", s, partstat(ann, "m1.ics", room), len(replies_from(ann, room)) == before)
# Ann cancels by deleting: the slot is free, and Bob's meeting saved again gets the room.
print("delete", req(ann, "DELETE", cal(ann) + "m1.ics")[0])
req(bob, "PUT", cal(bob) + "m2.ics", meeting("m2", bob, "20261210T093000Z", "20261210T103000Z", [room], stamp="20260903T000000Z"), ical)
print("bob-room-after", partstat(bob, "m2.ics", room))
# Taking the room off frees it too.
req(bob, "PUT", cal(bob) + "m2.ics", meeting("m2", bob, "20261210T093000Z", "20261210T103000Z", [], stamp="20260904T000000Z"), ical)
req(ann, "PUT", cal(ann) + "m5.ics", meeting("m5", ann, "20261210T093000Z", "20261210T100000Z", [room]), ical)
print("freed", partstat(ann, "m5.ics", room))
# Two people asking for the same slot at the same moment: one acceptance, one decline.
counts = []
for i in range(6):
    day = "202612%02d" % (14 + i)
    def book(user, name):
        req(user, "PUT", cal(user) + name + ".ics", meeting(name, user, day + "T120000Z", day + "T130000Z", [room]), ical)
    a, b = "race%da" % i, "race%db" % i
    t1 = threading.Thread(target=book, args=(ann, a)); t2 = threading.Thread(target=book, args=(bob, b))
    t1.start(); t2.start(); t1.join(); t2.join()
    got = [partstat(ann, a + ".ics", room), partstat(bob, b + ".ics", room)]
    counts.append((got.count("ACCEPTED"), got.count("DECLINED")))
print("race", counts)
# A meeting moved to another calendar (PUT there, then DELETE here) keeps its room.
req(ann, "PUT", cal(ann) + "mv.ics", meeting("mv", ann, "20261211T140000Z", "20261211T150000Z", [room]), ical)
req(ann, "MKCALENDAR", "/dav/calendars/" + ann + "/other/")
req(ann, "PUT", "/dav/calendars/" + ann + "/other/mv.ics", meeting("mv", ann, "20261211T140000Z", "20261211T150000Z", [room]), ical)
req(ann, "DELETE", cal(ann) + "mv.ics")
req(bob, "PUT", cal(bob) + "after-move.ics", meeting("after-move", bob, "20261211T143000Z", "20261211T153000Z", [room]), ical)
print("moved-held", partstat(bob, "after-move.ics", room))
# A client cannot accept for the room: SCHEDULE-AGENT=CLIENT with ACCEPTED is answered anyway.
fake = meeting("fake", bob, "20261211T140000Z", "20261211T150000Z", []).replace(
    "END:VEVENT", "ATTENDEE;CUTYPE=ROOM;SCHEDULE-AGENT=CLIENT;PARTSTAT=ACCEPTED:mailto:" + room + "\r\nEND:VEVENT")
req(bob, "PUT", cal(bob) + "fake.ics", fake, ical)
print("client-accept", partstat(bob, "fake.ics", room))
# Bob reusing the UID of Ann's booked meeting books for himself and takes nothing from her.
req(bob, "PUT", cal(bob) + "m5.ics", meeting("m5", bob, "20261212T140000Z", "20261212T150000Z", [room]), ical)
req(ann, "PUT", cal(ann) + "m5.ics", meeting("m5", ann, "20261210T093000Z", "20261210T100000Z", [room], stamp="20260905T000000Z"), ical)
print("same-uid", partstat(bob, "m5.ics", room), partstat(ann, "m5.ics", room))
# The organizer's client taking ORGANIZER off (the last invitee removed) frees the room.
req(ann, "PUT", cal(ann) + "solo.ics", meeting("solo", ann, "20261213T100000Z", "20261213T110000Z", [room]), ical)
plain = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:solo\r\n"
         "DTSTAMP:20260906T000000Z\r\nDTSTART:20261213T100000Z\r\nDTEND:20261213T110000Z\r\n"
         "SUMMARY:solo\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
req(ann, "PUT", cal(ann) + "solo.ics", plain, ical)
req(bob, "PUT", cal(bob) + "after-solo.ics", meeting("after-solo", bob, "20261213T100000Z", "20261213T110000Z", [room]), ical)
print("unorganized-freed", partstat(bob, "after-solo.ics", room))
# A room invited to one instance of a series takes that instance only.
series = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
          "BEGIN:VEVENT\r\nUID:series\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:20261201T060000Z\r\n"
          "DTEND:20261201T070000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nSUMMARY:series\r\n"
          "ORGANIZER:mailto:" + ann + "\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:" + ann + "\r\nEND:VEVENT\r\n"
          "BEGIN:VEVENT\r\nUID:series\r\nRECURRENCE-ID:20261208T060000Z\r\nDTSTAMP:20260901T000000Z\r\n"
          "DTSTART:20261208T060000Z\r\nDTEND:20261208T070000Z\r\nSUMMARY:series (room)\r\n"
          "ORGANIZER:mailto:" + ann + "\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:" + ann + "\r\n"
          "ATTENDEE;CUTYPE=ROOM:mailto:" + room + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
req(ann, "PUT", cal(ann) + "series.ics", series, ical)
req(bob, "PUT", cal(bob) + "s15.ics", meeting("s15", bob, "20261215T060000Z", "20261215T070000Z", [room]), ical)
req(bob, "PUT", cal(bob) + "s08.ics", meeting("s08", bob, "20261208T063000Z", "20261208T073000Z", [room]), ical)
print("series", partstat(ann, "series.ics", room), partstat(bob, "s15.ics", room), partstat(bob, "s08.ics", room))
"#;

fn spec(name: &str, department: Option<&str>) -> ResourceSpec {
    ResourceSpec {
        name: Some(name.into()),
        department: department.map(str::to_string),
        ..ResourceSpec::default()
    }
}

#[tokio::test]
async fn rooms_book_themselves_by_their_rules_and_one_slot_goes_to_one_meeting() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        ctx.directory
            .create_department(&admin(), "Radiology", None)
            .await
            .unwrap();
        let room = ctx
            .resources
            .create(
                &admin(),
                &ResourceSpec {
                    capacity: Some(12),
                    max_minutes: Some(240),
                    window_days: Some(90),
                    ..spec("Cardiology Conference Room 3", Some("Cardiology"))
                },
            )
            .await
            .unwrap();
        assert_eq!(room.address, "cardiology-conference-room-3@kaiser.org");
        let rad = ctx
            .resources
            .create(
                &admin(),
                &ResourceSpec {
                    bookable_by: Some("department".into()),
                    ..spec("Radiology Reading Room", Some("Radiology"))
                },
            )
            .await
            .unwrap();
        let port = s.running.https.unwrap().port().to_string();
        let out = python(
            BOOKING,
            &[&port, &ann, &bob, &room.address, &rad.address, GOOD],
        )
        .await;
        for want in [
            "ann-put 201 False",
            "ann-room ACCEPTED",
            "bob-copy-room ACCEPTED",
            "ann-replies 1",
            "bob-room DECLINED",
            "bob-told True",
            "room-busy 200 True False",
            "too-long DECLINED True",
            "too-far DECLINED True",
            "other-department DECLINED True",
            "resave 204 ACCEPTED True",
            "delete 204",
            "bob-room-after ACCEPTED",
            "freed ACCEPTED",
            "race [(1, 1), (1, 1), (1, 1), (1, 1), (1, 1), (1, 1)]",
            "moved-held DECLINED",
            "client-accept DECLINED",
            "same-uid ACCEPTED ACCEPTED",
            "unorganized-freed ACCEPTED",
            "series ACCEPTED ACCEPTED DECLINED",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
        let booked = ctx
            .resources
            .bookings(&admin(), &room.address, Some("accepted"))
            .await
            .unwrap();
        assert!(booked.iter().any(|b| b.uid == "m5" && b.organizer == ann));
        assert!(!booked.iter().any(|b| b.uid == "m1"), "{booked:?}");
    }
}

const DELEGATED: &str = r#"
import base64, http.client, ssl, sys
port, ann, scope, password, step = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((ann + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace").replace("\r\n ", "")
def meeting(uid, day):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
            "\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:" + day + "T090000Z\r\nDTEND:" + day +
            "T100000Z\r\nSUMMARY:Endoscopy " + uid + "\r\nORGANIZER:mailto:" + ann +
            "\r\nATTENDEE;CUTYPE=RESOURCE;PARTSTAT=NEEDS-ACTION:mailto:" + scope +
            "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
cal = "/dav/calendars/" + ann + "/calendar/"
def partstat(name):
    body = req("GET", cal + name)[1]
    line = [l for l in body.split("\r\n") if l.lower().endswith("mailto:" + scope)][0]
    return [p for p in line.split(":")[0].split(";") if p.startswith("PARTSTAT=")][0][9:]
if step == "book":
    for uid, day in (("d1", "20261215"), ("d2", "20261216")):
        req("PUT", cal + uid + ".ics", meeting(uid, day), {"Content-Type": "text/calendar"})
        print(uid, partstat(uid + ".ics"))
else:
    print("d1", partstat("d1.ics"))
    print("d2", partstat("d2.ics"))
    s, body = req("PROPFIND", "/dav/calendars/" + ann + "/inbox/", "", {"Depth": "1"})
    texts = [req("GET", h.split("</d:href>")[0])[1] for h in body.split("<d:href>")[1:] if ".ics<" in h]
    print("told", any("COMMENT:Scope sent for repair" in t for t in texts))
    # The delegate's decline stands when the organizer's client saves the meeting again.
    req("PUT", cal + "d2.ics", meeting("d2", "20261216").replace("20260901T", "20260902T"), {"Content-Type": "text/calendar"})
    print("d2-resaved", partstat("d2.ics"))
"#;

#[tokio::test]
async fn a_delegate_approves_or_declines_bookings_that_wait() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        let scope = ctx
            .resources
            .create(
                &admin(),
                &ResourceSpec {
                    kind: Some("equipment".into()),
                    delegates: Some(vec![bob.clone()]),
                    ..spec("Endoscopy Scope 2", Some("Cardiology"))
                },
            )
            .await
            .unwrap();
        assert_eq!(scope.delegates, vec![bob.clone()]);
        let port = s.running.https.unwrap().port().to_string();
        let out = python(DELEGATED, &[&port, &ann, &scope.address, GOOD, "book"]).await;
        assert!(
            out.contains("d1 NEEDS-ACTION") && out.contains("d2 NEEDS-ACTION"),
            "{out}"
        );

        let actor_of = |address: String| async move {
            let id = ctx
                .directory
                .find_account(&admin(), &address)
                .await
                .unwrap()
                .id;
            ctx.directory.actor_for(id, &address, None).await.unwrap()
        };
        let bob_actor = actor_of(bob.clone()).await;
        let ann_actor = actor_of(ann.clone()).await;
        let waiting = ctx.resources.waiting_for(&bob_actor).await.unwrap();
        assert_eq!(waiting.len(), 2, "{waiting:?}");
        assert!(
            waiting
                .iter()
                .all(|b| b.status == "pending" && b.organizer == ann)
        );
        let id_of = |uid: &str| waiting.iter().find(|b| b.uid == uid).unwrap().id;
        let (d1, d2) = (id_of("d1"), id_of("d2"));
        // The organizer is no delegate: she may neither see the bookings nor approve her own.
        let refused = ctx
            .resources
            .answer(&ann_actor, &scope.address, d1, true, None)
            .await;
        assert!(
            matches!(refused, Err(carepost_identity::IdentityError::Forbidden(_))),
            "{refused:?}"
        );
        assert!(
            ctx.resources
                .waiting_for(&ann_actor)
                .await
                .unwrap()
                .is_empty()
        );
        let b = ctx
            .resources
            .answer(&bob_actor, &scope.address, d1, true, None)
            .await
            .unwrap();
        assert_eq!(b.status, "accepted");
        let b = ctx
            .resources
            .answer(
                &bob_actor,
                &scope.address,
                d2,
                false,
                Some("Scope sent for repair"),
            )
            .await
            .unwrap();
        assert_eq!(
            (b.status.as_str(), b.reason.as_str()),
            ("declined", "Scope sent for repair")
        );
        // Answered once: a second answer is refused.
        let again = ctx
            .resources
            .answer(&bob_actor, &scope.address, d2, true, None)
            .await;
        assert!(
            matches!(again, Err(carepost_identity::IdentityError::Conflict(_))),
            "{again:?}"
        );
        let out = python(DELEGATED, &[&port, &ann, &scope.address, GOOD, "check"]).await;
        for want in [
            "d1 ACCEPTED",
            "d2 DECLINED",
            "told True",
            "d2-resaved DECLINED",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
        let trail = ctx
            .directory
            .audit_events(&admin(), &Default::default())
            .await
            .unwrap();
        assert!(
            trail
                .iter()
                .filter(|e| e.action == "resource.answer")
                .count()
                == 2
        );
    }
}

#[tokio::test]
async fn supervisors_manage_their_departments_resources_and_staff_only_list_them() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        ctx.directory
            .create_department(&admin(), "Radiology", None)
            .await
            .unwrap();
        crate::support::grant_open_role(&s, &bob, &Role::Supervisor, Some("Cardiology")).await;
        let bob_id = ctx.directory.find_account(&admin(), &bob).await.unwrap().id;
        let sup = ctx.directory.actor_for(bob_id, &bob, None).await.unwrap();
        let mine = ctx
            .resources
            .create(&sup, &spec("Cardiology Huddle Room", Some("Cardiology")))
            .await
            .unwrap();
        for other in [Some("Radiology"), None] {
            let r = ctx.resources.create(&sup, &spec("Elsewhere", other)).await;
            assert!(
                matches!(r, Err(carepost_identity::IdentityError::Forbidden(_))),
                "{other:?}: {r:?}"
            );
        }
        // Moving it out of their department is refused too; changing its rules is not.
        let moved = ctx
            .resources
            .update(&sup, &mine.address, &spec("Moved", Some("Radiology")))
            .await;
        assert!(matches!(
            moved,
            Err(carepost_identity::IdentityError::Forbidden(_))
        ));
        let changed = ctx
            .resources
            .update(
                &sup,
                &mine.address,
                &ResourceSpec {
                    capacity: Some(6),
                    ..ResourceSpec::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(changed.capacity, Some(6));

        // Over the API, with an IT token: list, create, a refused rule, remove.
        let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
        let nurse = ctx.directory.actor_for(ann_id, &ann, None).await.unwrap();
        let (_, token) = ctx
            .directory
            .create_api_token(
                &admin(),
                "rooms-feed",
                &[Role::ItAdmin],
                crate::support::DAY,
            )
            .await
            .unwrap();
        let r = with_token(&s, &token, "GET", "/api/v1/resources", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body.contains("cardiology-huddle-room@kaiser.org"),
            "{}",
            r.body
        );
        let made = with_token(
            &s,
            &token,
            "POST",
            "/api/v1/resources",
            Some(r#"{"name": "MRI Scanner 1", "kind": "equipment", "max_minutes": 90}"#),
        )
        .await;
        assert_eq!(made.status, 201, "{}", made.body);
        assert!(
            made.body.contains("\"mri-scanner-1@kaiser.org\""),
            "{}",
            made.body
        );
        let bad = with_token(
            &s,
            &token,
            "POST",
            "/api/v1/resources",
            Some(r#"{"name": "Bad", "bookable_by": "whoever"}"#),
        )
        .await;
        assert_eq!(bad.status, 400, "{}", bad.body);
        assert!(bad.body.contains("booking rule"), "{}", bad.body);
        let gone = with_token(
            &s,
            &token,
            "DELETE",
            "/api/v1/resources/mri-scanner-1@kaiser.org",
            None,
        )
        .await;
        assert_eq!(gone.status, 204, "{}", gone.body);
        let r = ctx.resources.remove(&nurse, &mine.address).await;
        assert!(matches!(
            r,
            Err(carepost_identity::IdentityError::Forbidden(_))
        ));
        let listed = ctx.resources.list().await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
    }
}

#[test]
fn resources_are_managed_from_the_command_line_with_clear_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dev_data(tmp.path());
    ok(&["--data", &data, "department", "create", "Cardiology"]);
    let made = ok(&[
        "--data",
        &data,
        "resource",
        "create",
        "Cardiology Conference Room 3",
        "--kind",
        "room",
        "--department",
        "Cardiology",
        "--capacity",
        "12",
        "--bookable-by",
        "department",
        "--max-duration",
        "4h",
        "--window",
        "90d",
    ]);
    assert_eq!(made.trim(), "cardiology-conference-room-3@kaiser.org");
    let room = "cardiology-conference-room-3@kaiser.org";
    let shown = json(&["--data", &data, "--json", "resource", "show", room]);
    assert_eq!(shown["capacity"], 12);
    assert_eq!(shown["max_minutes"], 240);
    assert_eq!(shown["window_days"], 90);
    assert_eq!(shown["bookable_by"], "department");
    assert_eq!(shown["department"], "Cardiology");
    let text = ok(&["--data", &data, "resource", "show", room]);
    assert!(text.contains("longest:     4h"), "{text}");
    let listed = ok(&["--data", &data, "resource", "list"]);
    assert!(
        listed.contains(room) && listed.contains("Cardiology"),
        "{listed}"
    );
    let updated = json(&[
        "--data",
        &data,
        "--json",
        "resource",
        "update",
        room,
        "--capacity",
        "0",
        "--bookable-by",
        "everyone",
    ]);
    assert_eq!(updated["capacity"], serde_json::Value::Null);
    assert_eq!(updated["bookable_by"], "everyone");
    let bookings = ok(&["--data", &data, "resource", "bookings", room]);
    assert!(
        bookings.trim_start().starts_with("ID  STATUS"),
        "{bookings}"
    );

    for (args, says) in [
        (vec!["create", "Scope", "--kind", "vehicle"], "not a kind"),
        (
            vec!["create", "Scope", "--bookable-by", "friends"],
            "booking rule",
        ),
        (
            vec!["create", "Scope", "--bookable-by", "department"],
            "needs a department",
        ),
        (
            vec!["create", "Scope", "--window", "soon"],
            "not a duration",
        ),
        (
            vec!["create", "Scope", "--department", "Nowhere"],
            "no department",
        ),
        (
            vec!["create", "Postmaster", "--address", "postmaster@kaiser.org"],
            "reserved",
        ),
        (
            vec!["create", "Elsewhere", "--address", "room@example.com"],
            "domains",
        ),
        (vec!["create", "Cardiology Conference Room 3"], "is taken"),
        (
            vec!["create", "Scope", "--delegate", "nobody@kaiser.org"],
            "no active account",
        ),
        (vec!["show", "nothing@kaiser.org"], "no resource"),
        (vec!["approve", room, "999"], "no booking"),
        (vec!["approve", room, "first"], "invalid value"),
    ] {
        let err = fails(&[&["--data", &data, "resource"], &args[..]].concat());
        assert!(err.contains(says), "{args:?}: {err}");
    }
    ok(&["--data", &data, "resource", "remove", room]);
    let err = fails(&["--data", &data, "resource", "remove", room]);
    assert!(err.contains("no resource"), "{err}");
    // The address is quarantined like any given up: a new resource cannot take it at once.
    let err = fails(&[
        "--data",
        &data,
        "resource",
        "create",
        "Cardiology Conference Room 3",
    ]);
    assert!(err.contains("is taken"), "{err}");
    let trail = ok(&["--data", &data, "audit", "export"]);
    for action in ["resource.create", "resource.update", "resource.remove"] {
        assert!(trail.contains(action), "{action} not on the trail");
    }
}

#[tokio::test]
async fn the_console_adds_a_room_lists_its_bookings_and_approves_one() {
    let (s, ann) = crate::support::server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    crate::support::grant_open_role(&s, &ann, &Role::ItAdmin, None).await;
    let mut b = crate::browser::Browser::new(s);
    b.sign_in(&ann).await;
    let page = b.get("/admin/resources").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(r#"<a href="/admin/resources" aria-current="page">"#),
        "{}",
        page.body
    );
    let made = b
        .post(
            "/admin/resources",
            &[
                ("name", "Cardiology Conference Room 3"),
                ("kind", "room"),
                ("department", "Cardiology"),
                ("capacity", "12"),
                ("bookable_by", "everyone"),
                ("max_hours", "4"),
                ("window_days", "90"),
                ("delegates", &ann),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let room = "cardiology-conference-room-3@kaiser.org";
    assert!(
        made.body.contains(&format!("invite {room}")),
        "{}",
        made.body
    );
    assert!(made.body.contains("<td>4h</td>"), "{}", made.body);
    let bad = b
        .post(
            "/admin/resources",
            &[
                ("name", "Wizard Tower"),
                ("kind", "room"),
                ("bookable_by", "role"),
                ("role", "wizard"),
            ],
        )
        .await;
    assert!(bad.body.contains(r#"id="resources-error""#), "{}", bad.body);

    // Lou's meeting booking it waits for the delegate, who approves it on the resource's
    // page.
    let ctx = b.s.running.context.clone();
    let lou = crate::support::add_person(
        &ctx.directory,
        ("Lou", "Staff", "L1"),
        "Cardiology",
        "nurse",
    )
    .await;
    let id = ctx.directory.find_account(&admin(), &lou).await.unwrap().id;
    let cal = ctx.calendars.calendar(id, "calendar").await.unwrap();
    let meeting = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ward-meeting\r\n\
         DTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n\
         SUMMARY:Ward meeting\r\nORGANIZER:mailto:{lou}\r\nATTENDEE;CUTYPE=ROOM:mailto:{room}\r\n\
         END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    ctx.calendars
        .put(&cal, "ward-meeting.ics", &meeting, &Default::default())
        .await
        .unwrap();
    let id = ctx
        .resources
        .bookings(&admin(), room, Some("pending"))
        .await
        .unwrap()[0]
        .id;
    let page = b.get(&format!("/admin/resources/{room}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Ward meeting") && page.body.contains(r#"value="approve""#),
        "{}",
        page.body
    );
    let done = b
        .post(
            &format!("/admin/resources/{room}/answer"),
            &[
                ("id", &id.to_string()),
                ("answer", "approve"),
                ("reason", ""),
            ],
        )
        .await;
    assert!(
        done.body.contains("“Ward meeting” is accepted"),
        "{}",
        done.body
    );
    let stored = ctx
        .calendars
        .object(&cal, "ward-meeting.ics")
        .await
        .unwrap();
    assert!(stored.data.contains("PARTSTAT=ACCEPTED"), "{}", stored.data);
    let gone = b
        .post(&format!("/admin/resources/{room}/remove"), &[])
        .await;
    assert_eq!(
        gone.header("location"),
        Some("/admin/resources?done=removed")
    );
}
