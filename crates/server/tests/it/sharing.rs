//! Sharing and delegation of calendars (issue 19, point 6): a calendar shared read-only can
//! be read and not written, read-write can be written, a department share reaches the
//! department and no one else, Apple's sharing requests work, ending a share ends access at
//! once, and no path a client builds reaches a calendar nobody shared with it. A delegate
//! answers invitations for their manager, and the organizer's copy says SENT-BY. A feed at a
//! secret URL is refused while the policy is off, and shows no attendees or private titles.

use crate::auth::GOOD;
use crate::smtp::{python, server_with_staff};
use crate::support::{add_person, admin};
use carepost_calendar::{Access, Grantee};

const SHARED: &str = r#"
import base64, http.client, ssl, sys
port, ann, bob, lou, cal, password, cid, rota = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(user, method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace")
def event(uid, summary):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
            "\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n"
            "SUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
ical = {"Content-Type": "text/calendar"}
home = lambda u: "/dav/calendars/" + u + "/"
def listed(user):
    s, body = req(user, "PROPFIND", home(user), "", {"Depth": "1"})
    return [h.split("</d:href>")[0] for h in body.split("<d:href>")[1:] if "/shared-" in h.split("</d:href>")[0]]
shared = home(bob) + "shared-" + cid + "/"
print("ann-put", req(ann, "PUT", home(ann) + "calendar/e1.ics", event("e1", "Clinic"), ical)[0])
print("bob-lists", sorted(listed(bob)) == sorted([shared, home(bob) + "shared-" + rota + "/"]))
s, body = req(bob, "PROPFIND", shared, "<d:propfind xmlns:d='DAV:'><d:prop><d:current-user-privilege-set/><d:displayname/></d:prop></d:propfind>", {"Depth": "0"})
print("bob-privileges", s, "<d:write/>" in body, ann in body)
s, body = req(bob, "GET", shared + "e1.ics")
print("bob-reads", s, "SUMMARY:Clinic" in body)
print("bob-writes-read-only", req(bob, "PUT", shared + "e2.ics", event("e2", "Mine"), ical)[0])
print("bob-deletes-read-only", req(bob, "DELETE", shared + "e1.ics")[0])
print("bob-own-path", req(bob, "GET", home(ann) + "calendar/e1.ics")[0])
print("lou-not-shared", req(lou, "GET", home(lou) + "shared-" + cid + "/e1.ics")[0])
print("lou-rota", len(listed(lou)) == 1 and listed(lou)[0].endswith("/shared-" + rota + "/"))
print("cal-rota", req(cal, "PROPFIND", home(cal) + "shared-" + rota + "/", "", {"Depth": "0"})[0], listed(cal))
print("bob-guesses", sorted(set(req(bob, "PROPFIND", home(bob) + "shared-%d/" % i, "", {"Depth": "0"})[0] for i in range(1, 40) if str(i) not in (cid, rota))))
print("bad-slug", req(bob, "MKCALENDAR", home(bob) + "shared-77/")[0])
share = ("<cs:share xmlns:d='DAV:' xmlns:cs='http://calendarserver.org/ns/'><cs:set><d:href>mailto:%s</d:href>"
         "<cs:summary>Clinic</cs:summary><cs:read-write/></cs:set></cs:share>") % cal
print("apple-share", req(ann, "POST", home(ann) + "calendar/", share, {"Content-Type": "application/xml"})[0])
s, body = req(ann, "PROPFIND", home(ann) + "calendar/", "<d:propfind xmlns:d='DAV:' xmlns:cs='http://calendarserver.org/ns/'><d:prop><cs:invite/><cs:allowed-sharing-modes/></d:prop></d:propfind>", {"Depth": "0"})
print("invite", ("mailto:" + cal) in body, "read-write" in body, "can-be-shared" in body)
print("cal-writes", req(cal, "PUT", home(cal) + "shared-" + cid + "/e3.ics", event("e3", "By Cal"), ical)[0])
s, body = req(ann, "GET", home(ann) + "calendar/e3.ics")
print("ann-sees", s, "SUMMARY:By Cal" in body)
meeting = event("m1", "Huddle").replace("END:VEVENT", "ORGANIZER:mailto:" + ann + "\r\nATTENDEE:mailto:" + bob + "\r\nEND:VEVENT")
print("cal-meeting", req(cal, "PUT", home(cal) + "shared-" + cid + "/m1.ics", meeting, ical)[0])
private = event("p1", "Oncology consult").replace("END:VEVENT", "CLASS:PRIVATE\r\nEND:VEVENT")
req(ann, "PUT", home(ann) + "calendar/p1.ics", private, ical)
s, body = req(cal, "GET", home(cal) + "shared-" + cid + "/p1.ics")
print("cal-private", s, "SUMMARY:Busy" in body, "Oncology" in body)
search = ("<c:calendar-query xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:prop><d:getetag/></d:prop>"
          "<c:filter><c:comp-filter name='VCALENDAR'><c:comp-filter name='VEVENT'><c:prop-filter name='SUMMARY'>"
          "<c:text-match>oncology</c:text-match></c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")
s, body = req(cal, "REPORT", home(cal) + "shared-" + cid + "/", search, {"Depth": "1"})
print("cal-private-search", s, body.count("<d:response>"))
s, body = req(ann, "REPORT", home(ann) + "calendar/", search, {"Depth": "1"})
print("ann-private-search", s, body.count("<d:response>"))
print("cal-private-write", req(cal, "PUT", home(cal) + "shared-" + cid + "/p1.ics", event("p1", "Mine"), ical)[0])
print("cal-uid-elsewhere", req(cal, "PUT", home(cal) + "shared-" + cid + "/x.ics", event("rota-uid", "Taken"), ical)[0])
print("share-as-form", req(ann, "POST", home(ann) + "calendar/", share, {"Content-Type": "text/plain"})[0])
print("cal-deletes-calendar", req(cal, "DELETE", home(cal) + "shared-" + cid + "/")[0])
unshare = ("<cs:share xmlns:d='DAV:' xmlns:cs='http://calendarserver.org/ns/'><cs:remove><d:href>mailto:%s</d:href>"
           "</cs:remove></cs:share>") % cal
print("apple-unshare", req(ann, "POST", home(ann) + "calendar/", unshare, {"Content-Type": "application/xml"})[0])
print("cal-after", req(cal, "GET", home(cal) + "shared-" + cid + "/e1.ics")[0])
print("bad-share", req(ann, "POST", home(ann) + "calendar/", "<nope/>", {"Content-Type": "application/xml"})[0])
"#;

#[tokio::test]
async fn a_shared_calendar_is_reached_as_granted_and_by_nobody_else() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        let dir = &ctx.directory;
        dir.create_department(&admin(), "Radiology", None)
            .await
            .unwrap();
        let lou = add_person(dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
        let cal = add_person(dir, ("Cal", "Ray", "C1"), "Radiology", "nurse").await;
        let ann_id = dir.find_account(&admin(), &ann).await.unwrap().id;
        let who = carepost_audit::Actor::Account {
            id: ann_id,
            address: ann.clone(),
        };
        let calendars = &ctx.calendars;
        let c = calendars.calendar(ann_id, "calendar").await.unwrap();
        calendars
            .share(
                &who,
                ann_id,
                "calendar",
                &Grantee::Account(bob.clone()),
                Access::Read,
            )
            .await
            .unwrap();
        calendars
            .create(
                ann_id,
                carepost_calendar::Kind::Calendar,
                "rota",
                &[],
                &Default::default(),
            )
            .await
            .unwrap();
        let rota = calendars.calendar(ann_id, "rota").await.unwrap();
        calendars
            .put(
                &rota,
                "rota-uid.ics",
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n\
                 UID:rota-uid\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\n\
                 SUMMARY:Night\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                &Default::default(),
            )
            .await
            .unwrap();
        calendars
            .share(
                &who,
                ann_id,
                "rota",
                &Grantee::Department("Cardiology".into()),
                Access::Read,
            )
            .await
            .unwrap();
        // Sharing with oneself, with nobody, or something that is not a calendar is refused.
        for (slug, grantee) in [
            ("calendar", Grantee::Account(ann.clone())),
            ("calendar", Grantee::Account("nobody@kaiser.org".into())),
            ("calendar", Grantee::Department("Nowhere".into())),
            ("inbox", Grantee::Account(bob.clone())),
        ] {
            let r = calendars
                .share(&who, ann_id, slug, &grantee, Access::Read)
                .await;
            assert!(r.is_err(), "{slug} {grantee:?}");
        }
        let port = s.running.https.unwrap().port().to_string();
        let out = python(
            SHARED,
            &[
                &port,
                &ann,
                &bob,
                &lou,
                &cal,
                GOOD,
                &c.id.to_string(),
                &rota.id.to_string(),
            ],
        )
        .await;
        for want in [
            "ann-put 201",
            "bob-lists True",
            "bob-privileges 207 False True",
            "bob-reads 200 True",
            "bob-writes-read-only 403",
            "bob-deletes-read-only 403",
            "bob-own-path 403",
            "lou-not-shared 404",
            "lou-rota True",
            "cal-rota 404 []",
            "bob-guesses [404]",
            "bad-slug 400",
            "apple-share 200",
            "invite True True True",
            "cal-writes 201",
            "ann-sees 200 True",
            "cal-meeting 403",
            "cal-private 200 True False",
            // A text search can't find what the grantee sees as "Busy"; the owner's can.
            "cal-private-search 207 0",
            "ann-private-search 207 1",
            "cal-private-write 403",
            "cal-uid-elsewhere 403",
            "share-as-form 415",
            "cal-deletes-calendar 403",
            "apple-unshare 200",
            "cal-after 404",
            "bad-share 400",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
        // Ending Bob's share ends his access at once; the trail has every change.
        let shares = calendars.shares(ann_id).await.unwrap();
        let bobs = shares.iter().find(|sh| sh.grantee == bob).unwrap();
        calendars.unshare(&who, ann_id, bobs.id).await.unwrap();
        let bob_id = dir.find_account(&admin(), &bob).await.unwrap().id;
        let gone = calendars
            .calendar(bob_id, &format!("shared-{}", c.id))
            .await;
        assert!(
            matches!(gone, Err(carepost_calendar::DavError::NotFound)),
            "{gone:?}"
        );
        let trail = dir
            .audit_events(&admin(), &Default::default())
            .await
            .unwrap();
        let count = |a: &str| trail.iter().filter(|e| e.action == a).count();
        assert_eq!(count("calendar.share"), 3);
        assert_eq!(count("calendar.unshare"), 2);
        // A department a calendar is shared with is not removed from under the share.
        dir.create_department(&admin(), "Oncology", None)
            .await
            .unwrap();
        calendars
            .share(
                &who,
                ann_id,
                "rota",
                &Grantee::Department("Oncology".into()),
                Access::Read,
            )
            .await
            .unwrap();
        let r = dir.remove_department(&admin(), "Oncology").await;
        assert!(
            matches!(&r, Err(carepost_identity::IdentityError::Conflict(m)) if m.contains("1 calendar shared with it")),
            "{r:?}"
        );
        // A leaver's calendars are nobody's to read.
        let lou_id = dir.find_account(&admin(), &lou).await.unwrap().id;
        let slug = format!("shared-{}", rota.id);
        assert!(calendars.calendar(lou_id, &slug).await.is_ok());
        dir.set_status(&admin(), &ann, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap();
        assert!(matches!(
            calendars.calendar(lou_id, &slug).await,
            Err(carepost_calendar::DavError::NotFound)
        ));
        assert!(calendars.shared_with(lou_id).await.unwrap().is_empty());
    }
}

const DELEGATED: &str = r#"
import base64, http.client, ssl, sys
port, ann, bob, cal, password, cid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(user, method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace").replace("\r\n ", "")
meeting = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:review\r\n"
           "DTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n"
           "SUMMARY:Case review\r\nORGANIZER:mailto:" + cal + "\r\n"
           "ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + cal + "\r\n"
           "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:" + ann + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
ical = {"Content-Type": "text/calendar"}
print("invite", req(cal, "PUT", "/dav/calendars/" + cal + "/calendar/review.ics", meeting, ical)[0])
mine = "/dav/calendars/" + bob + "/shared-" + cid + "/review.ics"
s, body = req(bob, "GET", mine)
print("bob-sees", s, "NEEDS-ACTION" in body)
answered = body.replace("PARTSTAT=NEEDS-ACTION:mailto:" + ann, "PARTSTAT=ACCEPTED:mailto:" + ann)
print("bob-answers", req(bob, "PUT", mine, answered, ical)[0])
s, body = req(cal, "GET", "/dav/calendars/" + cal + "/calendar/review.ics")
line = [l for l in body.split("\r\n") if l.lower().endswith("mailto:" + ann)][0]
print("organizer-sees", "PARTSTAT=ACCEPTED" in line, ("SENT-BY=\"mailto:" + bob + "\"") in line or ("SENT-BY=mailto:" + bob) in line)
"#;

#[tokio::test]
async fn a_delegate_answers_for_their_manager_and_the_answer_says_sent_by() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        let dir = &ctx.directory;
        let cal = add_person(dir, ("Cal", "Ray", "C1"), "Cardiology", "nurse").await;
        let ann_id = dir.find_account(&admin(), &ann).await.unwrap().id;
        let bob_id = dir.find_account(&admin(), &bob).await.unwrap().id;
        let who = carepost_audit::Actor::Account {
            id: ann_id,
            address: ann.clone(),
        };
        let calendars = &ctx.calendars;
        assert_eq!(
            calendars.add_delegate(&who, ann_id, &bob).await.unwrap(),
            bob
        );
        assert!(calendars.add_delegate(&who, ann_id, &ann).await.is_err());
        let c = calendars.calendar(ann_id, "calendar").await.unwrap();
        let listed = calendars.shared_list(bob_id).await.unwrap();
        assert!(
            listed
                .iter()
                .any(|l| l.delegate && l.owner == ann && l.access == Access::Write),
            "{listed:?}"
        );
        let port = s.running.https.unwrap().port().to_string();
        let out = python(
            DELEGATED,
            &[&port, &ann, &bob, &cal, GOOD, &c.id.to_string()],
        )
        .await;
        for want in [
            "invite 201",
            "bob-sees 200 True",
            "bob-answers 204",
            "organizer-sees True True",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
        // Bob steps down: Ann's calendars leave his home at once.
        let bob_who = carepost_audit::Actor::Account {
            id: bob_id,
            address: bob.clone(),
        };
        calendars
            .remove_delegate(&bob_who, ann_id, bob_id)
            .await
            .unwrap();
        assert!(calendars.shared_with(bob_id).await.unwrap().is_empty());
        let trail = dir
            .audit_events(&admin(), &Default::default())
            .await
            .unwrap();
        assert!(trail.iter().any(|e| e.action == "calendar.delegate"));
        assert!(trail.iter().any(|e| e.action == "calendar.undelegate"));
    }
}

#[tokio::test]
async fn a_feed_is_off_by_policy_and_shows_no_attendees_or_private_titles() {
    let (s, ann, _) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let ctx = &s.running.context;
    let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
    let who = carepost_audit::Actor::Account {
        id: ann_id,
        address: ann.clone(),
    };
    let calendars = &ctx.calendars;
    let token = "a-long-secret-token-for-the-feed-0123456789";
    let off = calendars
        .publish(&who, ann_id, "calendar", false, token)
        .await;
    assert!(
        matches!(off, Err(carepost_calendar::DavError::Forbidden(_))),
        "{off:?}"
    );
    let c = calendars.calendar(ann_id, "calendar").await.unwrap();
    for (name, body) in [
        (
            "open.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:open\r\n\
             DTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n\
             SUMMARY:Ward round\r\nATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:patient@example.com\r\n\
             BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n",
        ),
        (
            "private.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:private\r\n\
             DTSTAMP:20260901T000000Z\r\nDTSTART:20261211T090000Z\r\nDTEND:20261211T100000Z\r\n\
             CLASS:PRIVATE\r\nSUMMARY:Oncology consult for J. Doe\r\nLOCATION:Room 4\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n",
        ),
    ] {
        calendars
            .put(&c, name, body, &Default::default())
            .await
            .unwrap();
    }
    calendars
        .publish(&who, ann_id, "calendar", true, token)
        .await
        .unwrap();
    assert_eq!(
        calendars.published(ann_id).await.unwrap(),
        vec!["calendar".to_string()]
    );
    // The route follows the server's policy, off in this one: 404 whatever the token.
    let get = |path: String| {
        let cert = s.cert.clone();
        let addr = s.running.https.unwrap();
        async move { carepost_testkit::https_request(addr, &cert, "GET", &path, &[], None).await }
    };
    assert_eq!(
        get(format!("/calendar-feeds/{token}.ics")).await.status,
        404
    );
    let feed = calendars.feed(token, true).await.unwrap();
    assert!(feed.contains("SUMMARY:Ward round"), "{feed}");
    assert!(feed.contains("SUMMARY:Busy"), "{feed}");
    for secret in ["J. Doe", "Room 4", "patient@example.com", "VALARM"] {
        assert!(!feed.contains(secret), "{secret} in {feed}");
    }
    assert!(
        calendars
            .feed("wrong-token-of-enough-length", true)
            .await
            .is_err()
    );
    assert!(calendars.feed(token, false).await.is_err());
    calendars.unpublish(&who, ann_id, "calendar").await.unwrap();
    assert!(calendars.feed(token, true).await.is_err());
}

#[tokio::test]
async fn a_feed_is_served_at_its_secret_address_where_the_policy_allows() {
    let s = carepost_testkit::TestServer::start_with(carepost_testkit::TestDb::sqlite(), |c| {
        c.calendar.public_feeds = true;
    })
    .await;
    let (ann, _) = crate::smtp::add_staff(&s).await;
    let ctx = &s.running.context;
    let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
    let who = carepost_audit::Actor::Account {
        id: ann_id,
        address: ann.clone(),
    };
    let token = "another-long-secret-token-0123456789abcdef";
    ctx.calendars
        .publish(&who, ann_id, "calendar", true, token)
        .await
        .unwrap();
    let addr = s.running.https.unwrap();
    let r = carepost_testkit::https_request(
        addr,
        &s.cert,
        "GET",
        &format!("/calendar-feeds/{token}.ics"),
        &[],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.starts_with("BEGIN:VCALENDAR"), "{}", r.body);
    let wrong = carepost_testkit::https_request(
        addr,
        &s.cert,
        "GET",
        "/calendar-feeds/not-the-token-but-long-enough.ics",
        &[],
        None,
    )
    .await;
    assert_eq!(wrong.status, 404);
}

#[tokio::test]
async fn the_portal_shares_a_calendar_lists_it_and_stops_sharing() {
    let (s, ann) = crate::support::server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let bob = add_person(
        &s.running.context.directory,
        ("Bob", "Stone", "B1"),
        "Cardiology",
        "nurse",
    )
    .await;
    let mut b = crate::browser::Browser::new(s);
    b.sign_in(&ann).await;
    let page = b.get("/account").await;
    assert!(
        page.body.contains(r#"href="/account/calendars""#),
        "{}",
        page.body
    );
    let page = b.get("/account/calendars").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(r#"id="own-calendars""#), "{}", page.body);
    let done = b
        .post(
            "/account/calendars/share",
            &[
                ("calendar", "calendar"),
                ("person", &bob),
                ("department", ""),
                ("access", "write"),
            ],
        )
        .await;
    assert_eq!(
        done.header("location"),
        Some("/account/calendars?notice=shared")
    );
    let page = b.get("/account/calendars?notice=shared").await;
    assert!(
        page.body.contains(&format!("{bob}: write")),
        "{}",
        page.body
    );
    let refused = b
        .post(
            "/account/calendars/share",
            &[
                ("calendar", "calendar"),
                ("person", ""),
                ("department", ""),
                ("access", "read"),
            ],
        )
        .await;
    assert!(
        refused.body.contains(r#"id="calendars-error""#),
        "{}",
        refused.body
    );
    // Feeds are off by policy here: the page says so and offers no button.
    assert!(page.body.contains("off by policy"), "{}", page.body);
    let ctx = b.s.running.context.clone();
    let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
    let id = ctx.calendars.shares(ann_id).await.unwrap()[0].id;
    let done = b
        .post("/account/calendars/unshare", &[("share", &id.to_string())])
        .await;
    assert_eq!(
        done.header("location"),
        Some("/account/calendars?notice=unshared")
    );
    assert!(ctx.calendars.shares(ann_id).await.unwrap().is_empty());
    let done = b
        .post(
            "/account/calendars/delegate",
            &[("address", &bob), ("action", "add")],
        )
        .await;
    assert_eq!(
        done.header("location"),
        Some("/account/calendars?notice=delegate")
    );
    let page = b.get("/account/calendars").await;
    assert!(page.body.contains(&format!("<li>{bob}")), "{}", page.body);
}

const CLIENT: &str = r#"
import caldav, sys
url, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
client = caldav.DAVClient(url=url + "/.well-known/caldav", username=user, password=password,
                          ssl_verify_cert=False)
cals = client.principal().calendars()
names = sorted(c.get_display_name() for c in cals)
print("names", names)
shared = [c for c in cals if "(" in c.get_display_name()][0]
print("events", sorted(str(e.icalendar_component["summary"]) for e in shared.events()))
"#;

#[tokio::test]
async fn a_caldav_client_finds_a_shared_calendar_beside_its_own() {
    let (s, ann, bob) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let ctx = &s.running.context;
    let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
    let who = carepost_audit::Actor::Account {
        id: ann_id,
        address: ann.clone(),
    };
    let c = ctx.calendars.calendar(ann_id, "calendar").await.unwrap();
    ctx.calendars
        .put(
            &c,
            "clinic.ics",
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:clinic\r\n\
             DTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n\
             SUMMARY:Clinic\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            &Default::default(),
        )
        .await
        .unwrap();
    ctx.calendars
        .share(
            &who,
            ann_id,
            "calendar",
            &Grantee::Account(bob.clone()),
            Access::Read,
        )
        .await
        .unwrap();
    let url = format!("https://127.0.0.1:{}", s.running.https.unwrap().port());
    let out = crate::caldav::caldav_python(CLIENT, &[&url, &bob, GOOD]).await;
    assert!(out.contains(&format!("'Calendar ({ann})'")), "{out}");
    assert!(out.contains("events ['Clinic']"), "{out}");
}
