//! The calendar's JSON API (issue 19, point 9): free/busy of people and rooms at once, for
//! the portal's meeting form and for internal applications (the scheduling system) calling
//! with a client-credentials token of their own that carries the `freebusy` scope; periods
//! only, never titles; a token without the scope, none at all, or bad input is refused with
//! a JSON error.

use crate::oidc::{ehr, post_form, register};
use crate::smtp::server_with_staff;
use crate::support::with_cookies;
use crate::support::{admin, with_token};
use carepost_calendar::ResourceSpec;
use carepost_oidc::NewClient;

#[tokio::test]
async fn an_application_asks_free_busy_of_people_and_rooms_with_its_own_token() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        let room = ctx
            .resources
            .create(
                &admin(),
                &ResourceSpec {
                    name: Some("Huddle Room".into()),
                    ..ResourceSpec::default()
                },
            )
            .await
            .unwrap();
        let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
        let c = ctx.calendars.calendar(ann_id, "calendar").await.unwrap();
        let meeting = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:fb\r\n\
             DTSTAMP:20260901T000000Z\r\nDTSTART:20261210T090000Z\r\nDTEND:20261210T100000Z\r\n\
             SUMMARY:Tumour board\r\nORGANIZER:mailto:{ann}\r\n\
             ATTENDEE;CUTYPE=ROOM:mailto:{}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            room.address
        );
        ctx.calendars
            .put(&c, "fb.ics", &meeting, &Default::default())
            .await
            .unwrap();

        let (svc, secret) = register(
            &s,
            NewClient {
                name: "Scheduling system".into(),
                extra_scopes: vec!["freebusy".into()],
                ..ehr()
            },
        )
        .await;
        let (st, t) = post_form(
            &s,
            "/oauth2/token",
            (&svc, secret.as_deref()),
            &[("grant_type", "client_credentials"), ("scope", "freebusy")],
        )
        .await;
        assert_eq!(st, 200, "{t}");
        let token = t["access_token"].as_str().unwrap().to_string();
        let path = format!(
            "/api/v1/freebusy?attendees={ann},{},{bob},nobody@kaiser.org\
             &start=2026-12-10T00:00:00Z&end=2026-12-11T00:00:00Z",
            room.address
        );
        let r = with_token(&s, &token, "GET", &path, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        let of = |a: &str| {
            j["attendees"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["address"] == a)
                .unwrap()
                .clone()
        };
        let busy = |a: &str| of(a)["busy"].as_array().unwrap().len();
        assert_eq!(
            of(&ann)["busy"][0]["start"],
            "2026-12-10T09:00:00.000Z",
            "{j}"
        );
        assert_eq!(busy(&room.address), 1, "{j}");
        assert_eq!(busy(&bob), 0, "{j}");
        assert_eq!(of("nobody@kaiser.org")["known"], false);
        assert!(!r.body.contains("Tumour"), "{}", r.body);
        // The booking and the room's answer are counted for Prometheus.
        let (_, metrics) = crate::server::http_get(s.running.metrics.unwrap(), "/metrics").await;
        for name in [
            "carepost_resource_bookings_total",
            "carepost_calendar_scheduling_messages_total",
        ] {
            assert!(metrics.contains(name), "{name} not in:\n{metrics}");
        }

        // A forged token, no credentials, and bad ranges are refused in JSON.
        let r = with_token(&s, "not-a-token", "GET", &path, None).await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("\"error\""), "{}", r.body);
        let anonymous = carepost_testkit::https_request(
            s.running.https.unwrap(),
            &s.cert,
            "GET",
            &path,
            &[],
            None,
        )
        .await;
        assert_eq!(anonymous.status, 401, "{}", anonymous.body);
        for bad in [
            "attendees=a@kaiser.org&start=2026-12-11T00:00:00Z&end=2026-12-10T00:00:00Z",
            "attendees=a@kaiser.org&start=2026-01-01T00:00:00Z&end=2028-01-01T00:00:00Z",
            "attendees=a@kaiser.org&start=yesterday&end=2026-12-10T00:00:00Z",
            "attendees=&start=2026-12-10T00:00:00Z&end=2026-12-11T00:00:00Z",
        ] {
            let r = with_token(&s, &token, "GET", &format!("/api/v1/freebusy?{bad}"), None).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
        }
    }
}

#[tokio::test]
async fn a_token_without_the_freebusy_scope_is_refused() {
    let (s, ann, _) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let (svc, secret) = register(
        &s,
        NewClient {
            name: "Pharmacy".into(),
            extra_scopes: vec!["pharmacy.read".into()],
            ..ehr()
        },
    )
    .await;
    let (_, t) = post_form(
        &s,
        "/oauth2/token",
        (&svc, secret.as_deref()),
        &[("grant_type", "client_credentials")],
    )
    .await;
    let token = t["access_token"].as_str().unwrap();
    let path = format!(
        "/api/v1/freebusy?attendees={ann}&start=2026-12-10T00:00:00Z&end=2026-12-11T00:00:00Z"
    );
    let r = with_token(&s, token, "GET", &path, None).await;
    assert_eq!(r.status, 401, "{}", r.body);
}

/// Signs `login` in over the API; the cookie header to send.
pub(crate) async fn session(s: &carepost_testkit::TestServer, login: &str) -> String {
    let r = carepost_testkit::https_request(
        s.running.https.unwrap(),
        &s.cert,
        "POST",
        "/api/v1/auth/sign-in",
        &[
            ("X-Carepost-Request", "1"),
            ("Content-Type", "application/json"),
        ],
        Some(&format!(
            r#"{{"login":"{login}","password":"{}"}}"#,
            crate::auth::GOOD
        )),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.cookies()
        .iter()
        .map(|c| c.split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test]
async fn the_calendar_api_makes_meetings_answers_them_and_shows_private_events_as_busy() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let (ann_c, bob_c) = (session(&s, &ann).await, session(&s, &bob).await);
        // 2026-12-10 09:00 and 10:00 UTC.
        let (start, end) = (1_796_893_200, 1_796_896_800);
        let meeting = format!(
            r#"{{"title":"Case review","start":{start},"end":{end},"attendees":["{bob}"]}}"#
        );
        let r = with_cookies(
            &s,
            &ann_c,
            "POST",
            "/api/v1/me/calendar/events",
            Some(&meeting),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
        // Without the request header a browser form cannot send, nothing is made.
        let forged = carepost_testkit::https_request(
            s.running.https.unwrap(),
            &s.cert,
            "POST",
            "/api/v1/me/calendar/events",
            &[("Cookie", &ann_c), ("Content-Type", "application/json")],
            Some(&meeting),
        )
        .await;
        assert_eq!(forged.status, 403, "{}", forged.body);
        for bad in [
            format!(
                r#"{{"title":"x","start":{start},"end":{end},"attendees":["bob\r\nATTENDEE:mailto:eve@example.com"]}}"#
            ),
            format!(r#"{{"title":"x","start":{end},"end":{start}}}"#),
            r#"{"title":"x","start":-9223372036854775808,"end":9223372036854775807}"#.to_string(),
            format!(r#"{{"title":"","start":{start},"end":{end}}}"#),
        ] {
            let r =
                with_cookies(&s, &ann_c, "POST", "/api/v1/me/calendar/events", Some(&bad)).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
        }
        let range = "/api/v1/me/calendar?start=2026-12-10T00:00:00Z&end=2026-12-11T00:00:00Z";
        let r = with_cookies(&s, &bob_c, "GET", range, None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        let invite = &j["events"][0];
        assert_eq!(invite["summary"], "Case review", "{j}");
        assert_eq!(invite["my_answer"], "needs-action", "{j}");
        assert_eq!(invite["editable"], false, "another's meeting: {j}");
        let answer = format!(
            "/api/v1/me/calendar/events/{}/{}/answer",
            invite["calendar"].as_str().unwrap(),
            invite["object"].as_str().unwrap()
        );
        let r = with_cookies(&s, &bob_c, "POST", &answer, Some(r#"{"answer":"perhaps"}"#)).await;
        assert_eq!(r.status, 400, "{}", r.body);
        let r = with_cookies(
            &s,
            &bob_c,
            "POST",
            &answer,
            Some(r#"{"answer":"accepted"}"#),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = with_cookies(&s, &ann_c, "GET", range, None).await;
        let mine = &r.json()["events"][0];
        assert_eq!(
            mine["my_answer"],
            serde_json::Value::Null,
            "the organizer's own"
        );
        assert_eq!(mine["editable"], true, "the organizer's own");
        let ctx = &s.running.context;
        let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
        let c = ctx.calendars.calendar(ann_id, "calendar").await.unwrap();
        let stored = ctx
            .calendars
            .object(&c, mine["object"].as_str().unwrap())
            .await
            .unwrap();
        assert!(
            stored
                .data
                .replace("\r\n ", "")
                .contains(&format!("PARTSTAT=ACCEPTED:mailto:{bob}")),
            "{}",
            stored.data
        );
        // Bob cannot answer with Ann's calendar, nor answer for her.
        let theirs = format!(
            "/api/v1/me/calendar/events/shared-{}/{}/answer",
            c.id,
            mine["object"].as_str().unwrap()
        );
        let r = with_cookies(
            &s,
            &bob_c,
            "POST",
            &theirs,
            Some(r#"{"answer":"declined"}"#),
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);

        // A private event shared with Bob shows to him as busy.
        let who = carepost_audit::Actor::Account {
            id: ann_id,
            address: ann.clone(),
        };
        ctx.calendars
            .put(
                &c,
                "private.ics",
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n\
                 UID:private\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:20261210T140000Z\r\n\
                 DTEND:20261210T150000Z\r\nCLASS:PRIVATE\r\nSUMMARY:Oncology consult\r\n\
                 END:VEVENT\r\nEND:VCALENDAR\r\n",
                &Default::default(),
            )
            .await
            .unwrap();
        ctx.calendars
            .share(
                &who,
                ann_id,
                "calendar",
                &carepost_calendar::Grantee::Account(bob.clone()),
                carepost_calendar::Access::Read,
            )
            .await
            .unwrap();
        let r = with_cookies(&s, &bob_c, "GET", range, None).await;
        assert!(r.body.contains(r#""summary":"Busy""#), "{}", r.body);
        assert!(!r.body.contains("Oncology"), "{}", r.body);
    }
}

#[tokio::test]
async fn the_api_shares_calendars_names_assistants_and_ends_both() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let (ann_c, bob_c) = (session(&s, &ann).await, session(&s, &bob).await);
        let shares = "/api/v1/me/calendar-sharing/shares";
        let body = format!(r#"{{"calendar":"calendar","with":"{bob}","access":"write"}}"#);
        let r = with_cookies(&s, &ann_c, "POST", shares, Some(&body)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.json()["id"].as_i64().unwrap();
        assert_eq!(r.json()["access"], "write");
        let r = with_cookies(&s, &bob_c, "GET", "/api/v1/me/shared-calendars", None).await;
        assert_eq!(
            r.json()["calendars"][0]["owner"],
            ann.as_str(),
            "{}",
            r.body
        );
        for (bad, status) in [
            (
                r#"{"calendar":"calendar","with":"nobody@kaiser.org","access":"read"}"#.to_string(),
                400,
            ),
            (
                r#"{"calendar":"calendar","with":"department:Nowhere","access":"read"}"#
                    .to_string(),
                400,
            ),
            (
                format!(r#"{{"calendar":"calendar","with":"{bob}","access":"owner"}}"#),
                400,
            ),
            (
                format!(r#"{{"calendar":"elsewhere","with":"{bob}","access":"read"}}"#),
                404,
            ),
            (
                format!(r#"{{"calendar":"calendar","with":"{ann}","access":"read"}}"#),
                400,
            ),
        ] {
            let r = with_cookies(&s, &ann_c, "POST", shares, Some(&bad)).await;
            assert_eq!(r.status, status, "{bad}: {}", r.body);
            assert!(r.json()["message"].is_string(), "{}", r.body);
        }
        let r = with_cookies(
            &s,
            &ann_c,
            "POST",
            "/api/v1/me/calendar-sharing/delegates",
            Some(&format!(r#"{{"address":"{bob}"}}"#)),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = with_cookies(&s, &ann_c, "GET", "/api/v1/me/calendar-sharing", None).await;
        let j = r.json();
        assert_eq!(j["shares"][0]["grantee"], bob.as_str(), "{j}");
        assert_eq!(j["delegates"], serde_json::json!([bob]), "{j}");
        let r = with_cookies(&s, &bob_c, "GET", "/api/v1/me/calendar-sharing", None).await;
        assert_eq!(
            r.json()["delegating"],
            serde_json::json!([ann]),
            "{}",
            r.body
        );
        // Bob leaves the share and steps down; Ann's own calendar stays hers.
        let r = with_cookies(&s, &bob_c, "DELETE", &format!("{shares}/{id}"), None).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = with_cookies(&s, &bob_c, "DELETE", &format!("{shares}/{id}"), None).await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = with_cookies(
            &s,
            &bob_c,
            "DELETE",
            &format!("/api/v1/me/calendar-sharing/delegating/{ann}"),
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let r = with_cookies(
            &s,
            &ann_c,
            "DELETE",
            &format!("/api/v1/me/calendar-sharing/delegates/{bob}"),
            None,
        )
        .await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = with_cookies(&s, &ann_c, "GET", "/api/v1/me/calendar-sharing", None).await;
        assert_eq!(
            r.json(),
            serde_json::json!({"shares": [], "delegates": [], "delegating": []})
        );
    }
}

#[tokio::test]
async fn free_busy_is_limited_per_caller() {
    // Not a storage test: the limit is kept in memory.
    let (s, ann, bob) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let (ann_c, bob_c) = (session(&s, &ann).await, session(&s, &bob).await);
    let ask = format!(
        "/api/v1/freebusy?attendees={bob}&start=2026-12-10T00:00:00Z&end=2026-12-11T00:00:00Z"
    );
    // Past the burst of 200 (and what refills at 10 a second meanwhile), Ann is told to
    // wait, with the API's JSON error...
    let mut refused = None;
    for _ in 0..3000 {
        let r = with_cookies(&s, &ann_c, "GET", &ask, None).await;
        if r.status != 200 {
            refused = Some(r);
            break;
        }
    }
    let r = refused.expect("3000 questions in a row were all answered");
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "too_many_requests", "{}", r.body);
    // ...while Bob, another caller, is answered.
    let r = with_cookies(&s, &bob_c, "GET", &ask, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Free/busy asked through the CalDAV outbox draws on the same allowance as the API's, so
/// a person cannot map colleagues' diaries faster by switching protocol.
#[tokio::test]
async fn free_busy_through_the_outbox_is_limited_per_caller_too() {
    // Not a storage test: the limit is kept in memory.
    let (s, ann, bob) = server_with_staff(carepost_testkit::TestDb::sqlite()).await;
    let port = s.running.https.unwrap().port().to_string();
    let out = crate::smtp::python(
        r#"
import base64, http.client, ssl, sys
port, ann, bob, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
conns = {}
def post(user, asked):
    c = conns.setdefault(user, http.client.HTTPSConnection("127.0.0.1", port, context=ctx))
    fb = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:q\r\n"
          "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T000000Z\r\nDTEND:20261211T000000Z\r\n"
          "ORGANIZER:mailto:%s\r\nATTENDEE:mailto:%s\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n") % (user, asked)
    auth = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request("POST", "/dav/calendars/" + user + "/outbox/", body=fb,
              headers={"Authorization": auth, "Content-Type": "text/calendar"})
    r = c.getresponse()
    r.read()
    return r.status
for i in range(3000):
    s = post(ann, bob)
    if s != 200:
        print("refused", s, i > 150)
        break
print("other", post(bob, ann))
"#,
        &[&port, &ann, &bob, crate::auth::GOOD],
    )
    .await;
    assert!(out.contains("refused 429 True"), "{out}");
    assert!(out.contains("other 200"), "{out}");
}

/// Free/busy keeps the busy times of events without rules between asks (by ETag): what it
/// answers must still follow every change, answer and deletion, and events with rules or a
/// time zone of their own must come out as before.
#[tokio::test]
async fn free_busy_follows_every_change_between_asks() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
        let c = ctx.calendars.calendar(ann_id, "calendar").await.unwrap();
        let event = |uid: &str, times: &str, extra: &str| {
            format!(
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{zone}BEGIN:VEVENT\r\n\
                 UID:{uid}\r\nDTSTAMP:20260901T000000Z\r\n{times}SUMMARY:Clinic\r\n{extra}\
                 END:VEVENT\r\nEND:VCALENDAR\r\n",
                zone = if times.contains("TZID") { BERLIN } else { "" }
            )
        };
        let put = |name: &'static str, text: String| {
            let c = c.clone();
            async move {
                ctx.calendars
                    .put(&c, name, &text, &Default::default())
                    .await
                    .unwrap();
            }
        };
        // A week from Monday 7 December 2026; seconds of each period from its start.
        let (start, end) = (1_796_601_600_i64, 1_796_601_600_i64 + 7 * 86_400);
        let busy = || async {
            let mut all = ctx
                .calendars
                .busy_of_many(&[ann.clone(), bob.clone()], start, end)
                .await
                .unwrap();
            assert_eq!(all.pop().unwrap().unwrap(), vec![], "Bob has nothing");
            all.pop()
                .unwrap()
                .unwrap()
                .into_iter()
                .map(|b| {
                    let kind = format!("{:?}", b.kind);
                    ((b.start - start) / 3600, (b.end - start) / 3600, kind)
                })
                .collect::<Vec<_>>()
        };
        let h = |a: i64, b: i64, k: &str| (a, b, k.to_string());
        // Monday 09-10 UTC; Tuesday 09-10 Berlin (08-09 UTC); a daily rule at 12, three times.
        put(
            "a.ics",
            event(
                "a",
                "DTSTART:20261207T090000Z\r\nDTEND:20261207T100000Z\r\n",
                "",
            ),
        )
        .await;
        put(
            "b.ics",
            event(
                "b",
                "DTSTART;TZID=Europe/Berlin:20261208T090000\r\nDTEND;TZID=Europe/Berlin:20261208T100000\r\n",
                "",
            ),
        )
        .await;
        put(
            "r.ics",
            event(
                "r",
                "DTSTART:20261209T120000Z\r\nDTEND:20261209T130000Z\r\n",
                "RRULE:FREQ=DAILY;COUNT=3\r\n",
            ),
        )
        .await;
        let first = vec![
            h(9, 10, "Busy"),
            h(32, 33, "Busy"),
            h(60, 61, "Busy"),
            h(84, 85, "Busy"),
            h(108, 109, "Busy"),
        ];
        assert_eq!(busy().await, first);
        assert_eq!(busy().await, first, "asked again");
        // Moved to the afternoon, made tentative, then gone.
        put(
            "a.ics",
            event(
                "a",
                "DTSTART:20261207T150000Z\r\nDTEND:20261207T160000Z\r\n",
                "",
            ),
        )
        .await;
        assert_eq!(busy().await[0], h(15, 16, "Busy"));
        put(
            "a.ics",
            event(
                "a",
                "DTSTART:20261207T150000Z\r\nDTEND:20261207T160000Z\r\n",
                "STATUS:TENTATIVE\r\n",
            ),
        )
        .await;
        assert_eq!(busy().await[0], h(15, 16, "Tentative"));
        ctx.calendars
            .remove(&c, "a.ics", &Default::default())
            .await
            .unwrap();
        assert_eq!(busy().await, first[1..].to_vec());
        // The cache holds no answer across people: Bob's copy of the same text is his.
        let bob_id = ctx.directory.find_account(&admin(), &bob).await.unwrap().id;
        let bc = ctx.calendars.calendar(bob_id, "calendar").await.unwrap();
        let same = event(
            "b",
            "DTSTART;TZID=Europe/Berlin:20261208T090000\r\nDTEND;TZID=Europe/Berlin:20261208T100000\r\n",
            "",
        );
        ctx.calendars
            .put(&bc, "b.ics", &same, &Default::default())
            .await
            .unwrap();
        let of_bob = ctx
            .calendars
            .busy_of(&bob, start, end)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(of_bob.len(), 1, "{of_bob:?}");
    }
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n\
    DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nTZOFFSETFROM:+0200\r\n\
    TZOFFSETTO:+0100\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\n\
    RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
    END:DAYLIGHT\r\nEND:VTIMEZONE\r\n";
