//! Changing and cancelling events through the calendar API, as the portal's page does
//! (issue 19, point 8): the organizer renames, moves, takes attendees off and cancels; each
//! change reaches the attendees' copies as a calendar app's would, a moved meeting asks
//! everyone again (RFC 6638 section 3.2.8), and nobody changes a meeting they do not
//! organize, whatever path they name.

use crate::calendar_api::session;
use crate::smtp::server_with_staff;
use crate::support::{admin, with_cookies};

/// The one object of `address`'s default calendar whose text holds `needle`, unfolded.
async fn copy_of(s: &carepost_testkit::TestServer, address: &str, needle: &str) -> String {
    let ctx = &s.running.context;
    let id = ctx
        .directory
        .find_account(&admin(), address)
        .await
        .unwrap()
        .id;
    let c = ctx.calendars.calendar(id, "calendar").await.unwrap();
    let all = ctx.calendars.objects(&c).await.unwrap();
    let found: Vec<String> = all
        .iter()
        .map(|o| o.data.replace("\r\n ", ""))
        .filter(|d| d.contains(needle))
        .collect();
    assert_eq!(found.len(), 1, "{address}: {found:?}");
    found[0].clone()
}

/// 2026-12-10 09:00 and 10:00 UTC.
const START: i64 = 1_796_893_200;
const END: i64 = 1_796_896_800;

/// The signed-in organizer makes a meeting then with `attendee` over the API; its name.
async fn make_meeting(
    s: &carepost_testkit::TestServer,
    cookies: &str,
    title: &str,
    attendee: &str,
) -> String {
    let body =
        format!(r#"{{"title":"{title}","start":{START},"end":{END},"attendees":["{attendee}"]}}"#);
    let r = with_cookies(
        s,
        cookies,
        "POST",
        "/api/v1/me/calendar/events",
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["object"].as_str().unwrap().to_string()
}

/// The day the meetings are on, as the agenda is asked for it.
const RANGE: &str = "/api/v1/me/calendar?start=2026-12-10T00:00:00Z&end=2026-12-11T00:00:00Z";

/// The API path of the first event an agenda answer lists.
fn event_path(agenda: &serde_json::Value) -> String {
    format!(
        "/api/v1/me/calendar/events/{}/{}",
        agenda["events"][0]["calendar"].as_str().unwrap(),
        agenda["events"][0]["object"].as_str().unwrap()
    )
}

fn partstat_of(text: &str, address: &str) -> String {
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("ATTENDEE") && l.to_lowercase().ends_with(&format!("mailto:{address}"))
        })
        .unwrap_or_else(|| panic!("{address} not in {text}"));
    line.split(';')
        .find_map(|p| p.strip_prefix("PARTSTAT="))
        .map(|p| p.split(':').next().unwrap_or(p).to_string())
        .unwrap_or_else(|| "NEEDS-ACTION".into())
}

#[tokio::test]
async fn the_organizer_renames_moves_and_cancels_and_attendees_follow() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let (ann_c, bob_c) = (session(&s, &ann).await, session(&s, &bob).await);
        let (start, end) = (START, END);
        let object = make_meeting(&s, &ann_c, "Case review", &bob).await;
        let path = format!("/api/v1/me/calendar/events/calendar/{object}");
        // Bob accepts in his own copy.
        let range = RANGE;
        let j = with_cookies(&s, &bob_c, "GET", range, None).await.json();
        let his = event_path(&j);
        let r = with_cookies(
            &s,
            &bob_c,
            "POST",
            &format!("{his}/answer"),
            Some(r#"{"answer":"accepted"}"#),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        // The page lists whom Ann invited, to her only.
        let j = with_cookies(&s, &ann_c, "GET", range, None).await.json();
        assert_eq!(j["events"][0]["invited"], serde_json::json!([bob]), "{j}");
        assert_eq!(j["events"][0]["recurring"], false, "{j}");
        let j = with_cookies(&s, &bob_c, "GET", range, None).await.json();
        assert_eq!(j["events"][0]["invited"], serde_json::json!([]), "{j}");

        // Bob may not change or cancel Ann's meeting, from his copy or hers.
        for p in [
            his.clone(),
            format!("/api/v1/me/calendar/events/shared-1/{object}"),
        ] {
            let r = with_cookies(&s, &bob_c, "PATCH", &p, Some(r#"{"title":"Mine now"}"#)).await;
            assert!(
                matches!(r.status, 403 | 404),
                "{p}: {} {}",
                r.status,
                r.body
            );
            let r = with_cookies(&s, &bob_c, "DELETE", &p, None).await;
            assert!(
                matches!(r.status, 403 | 404),
                "{p}: {} {}",
                r.status,
                r.body
            );
        }
        assert!(
            copy_of(&s, &ann, "UID:")
                .await
                .contains("SUMMARY:Case review")
        );

        // A new title: Bob's copy has it, and his answer still stands.
        let r = with_cookies(
            &s,
            &ann_c,
            "PATCH",
            &path,
            Some(r#"{"title":"Case review: Mr B"}"#),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let theirs = copy_of(&s, &bob, "UID:").await;
        assert!(theirs.contains("SUMMARY:Case review: Mr B"), "{theirs}");
        assert_eq!(
            partstat_of(&copy_of(&s, &ann, "UID:").await, &bob),
            "ACCEPTED"
        );

        // Bad changes are refused with the reason.
        for bad in [
            format!(r#"{{"start":{start}}}"#),
            format!(r#"{{"start":{end},"end":{start}}}"#),
            r#"{"title":""}"#.to_string(),
            r#"{"attendees":["bob\r\nATTENDEE:mailto:eve@example.com"]}"#.to_string(),
        ] {
            let r = with_cookies(&s, &ann_c, "PATCH", &path, Some(&bad)).await;
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
            assert!(r.json()["message"].is_string(), "{}", r.body);
        }
        let r = with_cookies(
            &s,
            &ann_c,
            "PATCH",
            "/api/v1/me/calendar/events/calendar/nothing.ics",
            Some(r#"{"title":"x"}"#),
        )
        .await;
        assert_eq!(r.status, 404, "{}", r.body);

        // The same times again move nothing and ask nobody again.
        let same = format!(r#"{{"start":{start},"end":{end}}}"#);
        let r = with_cookies(&s, &ann_c, "PATCH", &path, Some(&same)).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(
            partstat_of(&copy_of(&s, &ann, "UID:").await, &bob),
            "ACCEPTED"
        );

        // Moved an hour later: Bob's copy moves, and he is asked again.
        let moved = format!(r#"{{"start":{},"end":{}}}"#, start + 3600, end + 3600);
        let r = with_cookies(&s, &ann_c, "PATCH", &path, Some(&moved)).await;
        assert_eq!(r.status, 204, "{}", r.body);
        let ours = copy_of(&s, &ann, "UID:").await;
        assert!(ours.contains("DTSTART:20261210T100000Z"), "{ours}");
        assert_eq!(partstat_of(&ours, &bob), "NEEDS-ACTION", "{ours}");
        assert_eq!(partstat_of(&ours, &ann), "ACCEPTED", "{ours}");
        let theirs = copy_of(&s, &bob, "UID:").await;
        assert!(theirs.contains("DTSTART:20261210T100000Z"), "{theirs}");
        assert_eq!(partstat_of(&theirs, &bob), "NEEDS-ACTION", "{theirs}");

        // Bob taken off: his copy is cancelled.
        let r = with_cookies(&s, &ann_c, "PATCH", &path, Some(r#"{"attendees":[]}"#)).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(copy_of(&s, &bob, "UID:").await.contains("STATUS:CANCELLED"));
        assert!(
            !copy_of(&s, &ann, "UID:")
                .await
                .contains(&format!("mailto:{bob}"))
        );

        // Invited again, then the meeting is cancelled: his copy says so, hers is gone.
        let again = format!(r#"{{"attendees":["{bob}"]}}"#);
        let r = with_cookies(&s, &ann_c, "PATCH", &path, Some(&again)).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(!copy_of(&s, &bob, "UID:").await.contains("STATUS:CANCELLED"));
        let r = with_cookies(&s, &ann_c, "DELETE", &path, None).await;
        assert_eq!(r.status, 204, "{}", r.body);
        assert!(copy_of(&s, &bob, "UID:").await.contains("STATUS:CANCELLED"));
        let r = with_cookies(&s, &ann_c, "DELETE", &path, None).await;
        assert_eq!(r.status, 404, "{}", r.body);

        // A recurring event: a new title is fine, new times are for calendar apps.
        let ctx = &s.running.context;
        let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
        let c = ctx.calendars.calendar(ann_id, "calendar").await.unwrap();
        ctx.calendars
            .put(
                &c,
                "rota.ics",
                "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:rota\r\n\
                 DTSTAMP:20260901T000000Z\r\nDTSTART:20261201T080000Z\r\nDURATION:PT1H\r\n\
                 RRULE:FREQ=DAILY\r\nSUMMARY:Huddle\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:rota\r\n\
                 DTSTAMP:20260901T000000Z\r\nRECURRENCE-ID:20261203T080000Z\r\n\
                 DTSTART:20261203T080000Z\r\nDURATION:PT1H\r\nSUMMARY:Huddle with pharmacy\r\n\
                 END:VEVENT\r\nEND:VCALENDAR\r\n",
                &Default::default(),
            )
            .await
            .unwrap();
        let rota = "/api/v1/me/calendar/events/calendar/rota.ics";
        let r = with_cookies(&s, &ann_c, "PATCH", rota, Some(&moved)).await;
        assert_eq!(r.status, 400, "{}", r.body);
        let r = with_cookies(
            &s,
            &ann_c,
            "PATCH",
            rota,
            Some(r#"{"title":"Safety huddle","location":"Ward 4"}"#),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let text = ctx.calendars.object(&c, "rota.ics").await.unwrap().data;
        assert!(
            text.contains("SUMMARY:Safety huddle") && text.contains("LOCATION:Ward 4"),
            "{text}"
        );
        assert!(text.contains("RRULE:FREQ=DAILY"), "{text}");
        // The day with a title of its own keeps it.
        assert!(text.contains("SUMMARY:Huddle with pharmacy"), "{text}");
        assert_eq!(text.matches("SUMMARY:Safety huddle").count(), 1, "{text}");
        let j = with_cookies(&s, &ann_c, "GET", range, None).await.json();
        assert_eq!(j["events"][0]["recurring"], true, "{j}");
    }
}

#[tokio::test]
async fn a_colleague_invited_under_an_alias_answers_as_that_alias() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, bob) = server_with_staff(db).await;
        let ctx = &s.running.context;
        ctx.directory
            .add_alias(&admin(), &bob, "cardio.oncall@kaiser.org", false)
            .await
            .unwrap();
        let (ann_c, bob_c) = (session(&s, &ann).await, session(&s, &bob).await);
        make_meeting(&s, &ann_c, "Handover", "cardio.oncall@kaiser.org").await;
        // Bob's page shows it waiting for his answer, and his answer reaches Ann's copy.
        let range = RANGE;
        let j = with_cookies(&s, &bob_c, "GET", range, None).await.json();
        assert_eq!(j["events"][0]["my_answer"], "needs-action", "{j}");
        let answer = format!("{}/answer", event_path(&j));
        let r = with_cookies(
            &s,
            &bob_c,
            "POST",
            &answer,
            Some(r#"{"answer":"tentative"}"#),
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let ours = copy_of(&s, &ann, "UID:").await;
        assert_eq!(
            partstat_of(&ours, "cardio.oncall@kaiser.org"),
            "TENTATIVE",
            "{ours}"
        );
        // A calendar app's answer in his copy (a changed PARTSTAT) reaches it too.
        let bob_id = ctx.directory.find_account(&admin(), &bob).await.unwrap().id;
        let c = ctx.calendars.calendar(bob_id, "calendar").await.unwrap();
        let o = ctx
            .calendars
            .object(&c, j["events"][0]["object"].as_str().unwrap())
            .await
            .unwrap();
        let accepted = o.data.replace("PARTSTAT=TENTATIVE", "PARTSTAT=ACCEPTED");
        assert_ne!(accepted, o.data);
        ctx.calendars
            .put(&c, &o.name, &accepted, &Default::default())
            .await
            .unwrap();
        let ours = copy_of(&s, &ann, "UID:").await;
        assert_eq!(
            partstat_of(&ours, "cardio.oncall@kaiser.org"),
            "ACCEPTED",
            "{ours}"
        );
    }
}
