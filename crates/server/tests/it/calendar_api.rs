//! The calendar's JSON API (issue 19, point 9): free/busy of people and rooms at once, for
//! the portal's meeting form and for internal applications (the scheduling system) calling
//! with a client-credentials token of their own that carries the `freebusy` scope; periods
//! only, never titles; a token without the scope, none at all, or bad input is refused with
//! a JSON error.

use crate::oidc::{ehr, post_form, register};
use crate::smtp::server_with_staff;
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
