//! The portal's calendar page in a real browser (issue 19, point 8): headless Chromium
//! (`calendar_browser.cjs`) accepts an invitation, checks a colleague's and a room's
//! availability side by side, makes the meeting, switches views, and approves a booking
//! that waits for the signed-in person as an echo cart's delegate; the server then holds
//! what the page did: the organizer's copy with the answer, the colleague's invitation, the
//! room's acceptance, the cart's approved booking. Without Chromium the test says SKIPPED.

use crate::auth::GOOD;
use crate::portal_browser::{browser, run_script};
use crate::smtp::server_with_staff;
use crate::support::admin;
use carepost_calendar::ResourceSpec;
use carepost_testkit::TestDb;

fn utc(t: std::time::SystemTime) -> String {
    let secs = t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    jiff::Timestamp::from_second(secs)
        .unwrap()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string()
}

#[tokio::test]
async fn chromium_answers_an_invitation_and_makes_a_meeting_with_a_room() {
    let Some(chromium) = browser() else { return };
    let (s, ann, bob) = server_with_staff(TestDb::sqlite()).await;
    let ctx = &s.running.context;
    let room = ctx
        .resources
        .create(
            &admin(),
            &ResourceSpec {
                name: Some("Cardiology Conference Room 3".into()),
                capacity: Some(12),
                ..ResourceSpec::default()
            },
        )
        .await
        .unwrap();
    // Bob invites Ann to a meeting in an hour (the page shows the real week).
    let bob_id = ctx.directory.find_account(&admin(), &bob).await.unwrap().id;
    let c = ctx.calendars.calendar(bob_id, "calendar").await.unwrap();
    // The browser draws the week it lives in, by the machine's clock, not the server's
    // test clock: the meeting must be in that week.
    #[allow(clippy::disallowed_methods)]
    let now = std::time::SystemTime::now();
    let start = utc(now + std::time::Duration::from_secs(3600));
    let end = utc(now + std::time::Duration::from_secs(7200));
    let meeting = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:ward\r\n\
         DTSTAMP:20260901T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:Ward meeting\r\n\
         ORGANIZER:mailto:{bob}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{bob}\r\n\
         ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{ann}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    ctx.calendars
        .put(&c, "ward.ics", &meeting, &Default::default())
        .await
        .unwrap();
    // Another invitation three weeks ahead, outside the week on screen.
    let later = |d: u64| utc(now + std::time::Duration::from_secs(d));
    let planning = meeting
        .replace("UID:ward", "UID:planning")
        .replace("Ward meeting", "Audit planning")
        .replace(&start, &later(21 * 86_400))
        .replace(&end, &later(21 * 86_400 + 3600));
    ctx.calendars
        .put(&c, "planning.ics", &planning, &Default::default())
        .await
        .unwrap();
    // An all-day event in Ann's own calendar, two days on.
    let day = later(2 * 86_400)[..8].to_string();
    let next = later(3 * 86_400)[..8].to_string();
    let ann_id = ctx.directory.find_account(&admin(), &ann).await.unwrap().id;
    let own = ctx.calendars.calendar(ann_id, "calendar").await.unwrap();
    let all_day = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:staff-day\r\n\
         DTSTAMP:20260901T000000Z\r\nDTSTART;VALUE=DATE:{day}\r\nDTEND;VALUE=DATE:{next}\r\n\
         SUMMARY:Staff day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    ctx.calendars
        .put(&own, "staff-day.ics", &all_day, &Default::default())
        .await
        .unwrap();
    // An echo cart whose bookings wait for Ann, its delegate: Bob's clinic in two days.
    let cart = ctx
        .resources
        .create(
            &admin(),
            &ResourceSpec {
                name: Some("Echo Cart 1".into()),
                kind: Some("equipment".into()),
                delegates: Some(vec![ann.clone()]),
                ..ResourceSpec::default()
            },
        )
        .await
        .unwrap();
    let clinic = meeting
        .replace("UID:ward", "UID:echo")
        .replace("Ward meeting", "Echo clinic")
        .replace(&start, &later(2 * 86_400))
        .replace(&end, &later(2 * 86_400 + 3600))
        .replace(
            &format!("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{ann}"),
            &format!(
                "ATTENDEE;CUTYPE=RESOURCE;PARTSTAT=NEEDS-ACTION:mailto:{}",
                cart.address
            ),
        );
    ctx.calendars
        .put(&c, "echo.ics", &clinic, &Default::default())
        .await
        .unwrap();
    let base = format!("https://localhost:{}", s.running.https.unwrap().port());
    let seen = run_script(
        "calendar_browser.cjs",
        &[&base, &ann, GOOD, &bob, &room.address, &day],
        &chromium,
    )
    .await;
    assert_eq!(seen["invitation"], true, "{seen}");
    // The cart's booking waited for Ann on the page, and her approval reached the store.
    assert!(
        seen["booking"].to_string().contains("Echo clinic"),
        "{seen}"
    );
    assert_eq!(seen["bookings_hidden_after"], true, "{seen}");
    let booked = ctx
        .resources
        .bookings(&admin(), &cart.address, None)
        .await
        .unwrap();
    assert_eq!(booked.len(), 1, "{booked:?}");
    assert_eq!(booked[0].status, "accepted", "{booked:?}");
    assert_eq!(
        seen["waiting_after"],
        serde_json::json!(["Audit planning"]),
        "{seen}"
    );
    assert_eq!(
        seen["all_day_on"],
        serde_json::json!([seen["all_day_want"]]),
        "{seen}"
    );
    assert!(
        seen["week_shows"].to_string().contains("accepted"),
        "{seen}"
    );
    assert_eq!(
        seen["grid_rows"],
        serde_json::json!([bob, room.address]),
        "{seen}"
    );
    assert_eq!(
        seen["proposed_cells"], 4,
        "two people by two half-hours: {seen}"
    );
    assert!(seen["agenda"].to_string().contains("Case review"), "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "{seen}");
    // What the page did is in the calendars: Bob's copy has Ann's answer...
    let bobs = ctx.calendars.object(&c, "ward.ics").await.unwrap();
    let line = bobs
        .data
        .replace("\r\n ", "")
        .lines()
        .find(|l| l.to_lowercase().ends_with(&format!("mailto:{ann}")))
        .unwrap()
        .to_string();
    assert!(line.contains("PARTSTAT=ACCEPTED"), "{line}");
    // ...and the new meeting is Bob's invitation and the room's booking.
    let mine = ctx
        .calendars
        .objects(&ctx.calendars.calendar(ann_id, "calendar").await.unwrap())
        .await
        .unwrap();
    let review = mine
        .iter()
        .find(|o| o.data.contains("SUMMARY:Case review"))
        .unwrap();
    assert!(
        review
            .data
            .replace("\r\n ", "")
            .contains(&format!("PARTSTAT=ACCEPTED:mailto:{}", room.address)),
        "{}",
        review.data
    );
    let invited = ctx.calendars.objects(&c).await.unwrap();
    assert!(
        invited
            .iter()
            .any(|o| o.data.contains("SUMMARY:Case review")),
        "{invited:?}"
    );
    // The page changed it: the form held its attendees and room, the grid moved it down,
    // and the new title and time reached Bob's copy, the room booked again at that time.
    assert_eq!(seen["edit_heading"], "Change “Case review”", "{seen}");
    assert_eq!(seen["edit_attendees"], bob.as_str(), "{seen}");
    assert_eq!(seen["edit_room"], room.address.as_str(), "{seen}");
    let rem = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|t| t.strip_suffix("rem"))
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(-1.0)
    };
    // Ten o'clock is 20rem down (2rem an hour), two in the afternoon 28rem.
    assert_eq!(rem(&seen["grid_top"]), 20.0, "{seen}");
    assert_eq!(rem(&seen["moved_top"]), 28.0, "{seen}");
    let moved = seen["moved_utc"].as_str().unwrap();
    assert!(
        review.data.contains(&format!("DTSTART:{moved}")),
        "{}",
        review.data
    );
    assert!(
        review.data.contains("SUMMARY:Case review (moved)"),
        "{}",
        review.data
    );
    let bobs_copy = invited
        .iter()
        .find(|o| o.data.contains("SUMMARY:Case review"))
        .unwrap();
    assert!(
        bobs_copy.data.contains(&format!("DTSTART:{moved}")),
        "{}",
        bobs_copy.data
    );
    assert!(bobs_copy.data.contains("SEQUENCE:1"), "{}", bobs_copy.data);
    // The cancelled event is gone from the page and from the calendar.
    assert_eq!(seen["coffee_left"], 0, "{seen}");
    assert!(
        !mine.iter().any(|o| o.data.contains("SUMMARY:Coffee")),
        "{mine:?}"
    );
}
