//! `carepost calendar list|export|import` through the real binary (issue 19): an `.ics` file
//! goes in one object per UID, comes back out as one file with its time zone once, a second
//! import replaces rather than duplicates, bad files and unknown calendars get one-line
//! errors, and every export and import is on the audit trail under the operator's name.

use crate::cli::{create_nurse, dev_data, fails, json, me, ok};

const FILE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//old server//EN\r\n\
    METHOD:PUBLISH\r\nBEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n\
    DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
    TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n\
    BEGIN:VEVENT\r\nUID:rota-1\r\nDTSTAMP:20261201T000000Z\r\n\
    DTSTART;TZID=Europe/Berlin:20261214T070000\r\nDURATION:PT12H\r\n\
    RRULE:FREQ=WEEKLY;COUNT=8\r\nSUMMARY:Night shift\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\n\
    TRIGGER:-PT30M\r\nDESCRIPTION:Shift\r\nEND:VALARM\r\nEND:VEVENT\r\n\
    BEGIN:VEVENT\r\nUID:rota-1\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261221T070000\r\n\
    DTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Berlin:20261221T080000\r\n\
    DURATION:PT12H\r\nSUMMARY:Night shift (late)\r\nEND:VEVENT\r\n\
    BEGIN:VEVENT\r\nUID:audit-day\r\nDTSTAMP:20261201T000000Z\r\n\
    DTSTART:20261218T090000Z\r\nDTEND:20261218T100000Z\r\nSUMMARY:Audit day\r\n\
    END:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn a_calendar_moves_in_and_out_as_an_ics_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dev_data(tmp.path());
    ok(&["--data", &data, "department", "create", "Cardiology"]);
    create_nurse(&data, "Cardiology");
    let ann = "ann.lee@kaiser.org";
    let file = tmp.path().join("rota.ics");
    std::fs::write(&file, FILE).unwrap();
    let file = file.to_str().unwrap();

    let first = ok(&["--data", &data, "calendar", "import", ann, "calendar", file]);
    assert_eq!(
        first.trim(),
        format!("2 added, 0 replaced in {ann}/calendar")
    );
    let again = ok(&["--data", &data, "calendar", "import", ann, "calendar", file]);
    assert_eq!(
        again.trim(),
        format!("0 added, 2 replaced in {ann}/calendar")
    );

    let list = json(&["--data", &data, "--json", "calendar", "list", ann]);
    let cal = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["calendar"] == "calendar")
        .unwrap();
    assert_eq!(cal["objects"], 2, "{list}");
    assert!(ok(&["--data", &data, "calendar", "list", ann]).contains("tasks"));

    let out = ok(&["--data", &data, "calendar", "export", ann, "calendar"]);
    assert_eq!(out.matches("BEGIN:VTIMEZONE").count(), 1, "{out}");
    // The recurring shift with its changed instance and its alarm, and the audit day.
    assert_eq!(out.matches("BEGIN:VEVENT").count(), 3, "{out}");
    assert!(out.contains("SUMMARY:Night shift (late)"), "{out}");
    assert!(out.contains("BEGIN:VALARM"), "{out}");
    assert!(out.contains("UID:audit-day"), "{out}");
    assert!(
        !out.contains("METHOD:"),
        "an export is no iTIP message: {out}"
    );
    let saved = tmp.path().join("out.ics");
    ok(&[
        "--data",
        &data,
        "calendar",
        "export",
        ann,
        "calendar",
        "--output",
        saved.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&saved).unwrap(), out);

    let bad = tmp.path().join("bad.ics");
    std::fs::write(
        &bad,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    assert!(
        fails(&["--data", &data, "calendar", "import", ann, "calendar", bad]).contains("no UID")
    );
    assert!(
        fails(&["--data", &data, "calendar", "export", ann, "nowhere"])
            .contains("no calendar 'nowhere'")
    );
    assert!(
        fails(&["--data", &data, "calendar", "list", "nobody@kaiser.org"])
            .contains("nobody@kaiser.org")
    );

    let me = me();
    let trail = ok(&["--data", &data, "audit", "export", "--actor", &me]);
    let actions: Vec<&str> = trail
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            let a = v["action"].as_str()?.to_string();
            ["calendar.import", "calendar.export"]
                .into_iter()
                .find(|w| *w == a)
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            "calendar.import",
            "calendar.import",
            "calendar.export",
            "calendar.export"
        ],
        "{trail}"
    );
}

#[test]
fn it_shares_a_calendar_and_names_an_assistant_from_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dev_data(tmp.path());
    ok(&["--data", &data, "department", "create", "Surgery"]);
    create_nurse(&data, "Surgery");
    let ann = "ann.lee@kaiser.org";
    ok(&[
        "--data",
        &data,
        "account",
        "create",
        "--first",
        "Bob",
        "--last",
        "Stone",
        "--employee-id",
        "E2",
        "--category",
        "clinician",
        "--department",
        "Surgery",
    ]);
    let bob = "bob.stone@kaiser.org";
    let shared = ok(&[
        "--data", &data, "calendar", "share", ann, "calendar", "--with", bob, "--access", "write",
    ]);
    assert!(
        shared.starts_with(&format!("{ann}/calendar shared with {bob} (write), share ")),
        "{shared}"
    );
    ok(&[
        "--data",
        &data,
        "calendar",
        "share",
        ann,
        "calendar",
        "--with",
        "department:Surgery",
    ]);
    ok(&["--data", &data, "calendar", "delegate", ann, "--to", bob]);
    let sharing = json(&["--data", &data, "--json", "calendar", "sharing", ann]);
    let shares = sharing["shares"].as_array().unwrap();
    let grantees: Vec<(&str, &str)> = shares
        .iter()
        .map(|s| {
            (
                s["grantee"].as_str().unwrap(),
                s["access"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grantees,
        [(bob, "write"), ("department:Surgery", "read")],
        "{sharing}"
    );
    assert_eq!(sharing["delegates"], serde_json::json!([bob]));
    let bobs = json(&["--data", &data, "--json", "calendar", "sharing", bob]);
    assert_eq!(bobs["delegating"], serde_json::json!([ann]), "{bobs}");
    // Another account's share id is not this one's to end; a wrong access or grantee is named.
    let id = shares[0]["id"].as_i64().unwrap().to_string();
    assert!(fails(&["--data", &data, "calendar", "unshare", bob, &id]).contains("has no share"));
    assert!(
        fails(&[
            "--data", &data, "calendar", "share", ann, "calendar", "--with", bob, "--access",
            "all",
        ])
        .contains("not an access")
    );
    assert!(
        fails(&[
            "--data",
            &data,
            "calendar",
            "share",
            ann,
            "calendar",
            "--with",
            "department:Nowhere",
        ])
        .contains("no department named 'Nowhere'")
    );
    assert!(
        fails(&[
            "--data",
            &data,
            "calendar",
            "undelegate",
            bob,
            "--delegate",
            ann
        ])
        .contains("is not an assistant of")
    );
    ok(&["--data", &data, "calendar", "unshare", ann, &id]);
    ok(&[
        "--data",
        &data,
        "calendar",
        "undelegate",
        ann,
        "--delegate",
        bob,
    ]);
    let after = json(&["--data", &data, "--json", "calendar", "sharing", ann]);
    assert_eq!(after["shares"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after["delegates"], serde_json::json!([]));
    let trail = ok(&["--data", &data, "audit", "export", "--actor", &me()]);
    for action in [
        "calendar.share",
        "calendar.unshare",
        "calendar.delegate",
        "calendar.undelegate",
    ] {
        assert!(
            trail.contains(&format!("\"action\":\"{action}\"")),
            "{action} in {trail}"
        );
    }
}
