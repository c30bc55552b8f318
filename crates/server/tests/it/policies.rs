//! Policies changed while the server runs: over the config file, checked as the file is,
//! audited, read by every node, and in force at once; through the domain, the API (with API
//! tokens), the console and the CLI.

use crate::auth::{GOOD, WORKSTATION};
use crate::browser::Browser;
use crate::support::{admin, on_each_backend, server_with_nurse, with_token};
use carepost_identity::{IdentityError, Protocol, Role};
use carepost_store::AuditFilter;
use carepost_testkit::TestServer;
use serde_json::{Map, Value, json};
use std::time::Duration;

fn changes(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

#[tokio::test]
async fn a_change_is_checked_audited_in_force_at_once_and_read_by_other_nodes() {
    on_each_backend(async |env| {
        let ann = env.nurse().await;
        let other = env.second_process().await;
        let p = env
            .dir
            .change_policy(
                &admin(),
                "password",
                &changes(json!({"min_length": 20, "max_age": "180d"})),
            )
            .await
            .unwrap();
        let min = p.fields.iter().find(|f| f.key == "min_length").unwrap();
        assert_eq!(
            (min.value.clone(), min.file_value.clone()),
            (json!(20), json!(12))
        );
        assert!(min.set_here);
        assert!(
            !p.fields
                .iter()
                .find(|f| f.key == "history")
                .unwrap()
                .set_here
        );
        // In force here at once: Ann's own 30-character password is fine, a 15-character one
        // is now too short.
        let account = env.dir.find_account(&admin(), &ann).await.unwrap().id;
        let problems = env
            .dir
            .password_problems(account, "glacier violin t")
            .await
            .unwrap();
        assert!(
            problems.iter().any(|v| v.to_string().contains("20")),
            "{problems:?}"
        );
        // A node whose config file no longer allows it keeps its file's values, and says why.
        let mut narrow = (*env.config).clone();
        narrow.password.max_length = 18;
        let narrow = carepost_identity::Directory::new(
            env.store.clone(),
            std::sync::Arc::new(narrow),
            env.clock.clone(),
            std::sync::Arc::new(carepost_types::SeededRng::new(9)),
        )
        .unwrap();
        narrow.reload_policies().await.unwrap();
        assert_eq!(narrow.config().password.min_length, 12);
        let sections = narrow.policy_sections(&admin()).await.unwrap();
        let why = sections[0].not_in_force.as_deref().unwrap_or_default();
        assert!(why.contains("max_length"), "{why}");
        assert!(sections[1].not_in_force.is_none());
        // Another node reads it at its next reload.
        assert_eq!(other.config().password.min_length, 12);
        other.reload_policies().await.unwrap();
        assert_eq!(other.config().password.min_length, 20);
        assert_eq!(
            other.config().password.max_age,
            Some(Duration::from_secs(180 * 86_400))
        );

        // The file's rules hold; nothing is stored of a refused change.
        for bad in [
            json!({"min_length": 4}),
            json!({"argon2_memory_kib": 8}),
            json!({"colour": "blue"}),
            json!({"max_age": "soon"}),
        ] {
            let e = env
                .dir
                .change_policy(&admin(), "password", &changes(bad.clone()))
                .await
                .unwrap_err();
            assert!(matches!(e, IdentityError::Invalid(_)), "{bad}: {e}");
        }
        let e = env
            .dir
            .change_policy(
                &admin(),
                "mfa",
                &changes(json!({"required_departments": ["Nowhere"]})),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no department 'Nowhere'"), "{e}");
        let e = env
            .dir
            .change_policy(&admin(), "mail", &changes(json!({"quota": "1G"})))
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::NotFound(_)), "{e}");
        assert_eq!(env.dir.config().password.min_length, 20);

        // The audit trail says who changed what from what to what.
        let events = env
            .dir
            .audit_events(&admin(), &AuditFilter::default())
            .await
            .unwrap();
        let changed: Vec<_> = events
            .iter()
            .filter(|e| e.action == "policy.change" && e.outcome == "success")
            .collect();
        assert_eq!(changed.len(), 1, "refusals change nothing");
        // The refusals are recorded too, with what was asked and why not.
        let refused: Vec<_> = events
            .iter()
            .filter(|e| e.action == "policy.change" && e.outcome == "failure")
            .collect();
        assert_eq!(refused.len(), 5, "{refused:#?}");
        assert!(refused.iter().any(|e| e.details.contains("no department")));
        let d: Value = serde_json::from_str(&changed[0].details).unwrap();
        assert_eq!(d["section"], "password");
        assert_eq!(d["changed"]["min_length"], json!({"from": 12, "to": 20}));
        assert_eq!(
            d["changed"]["max_age"],
            json!({"from": "365d", "to": "180d"})
        );
        assert!(d["changed"].get("history").is_none(), "{d}");

        // Lockout takes the new threshold at once: three failures lock Ann (not five).
        env.dir
            .change_policy(&admin(), "lockout", &changes(json!({"threshold": 3})))
            .await
            .unwrap();
        for _ in 0..3 {
            let r = env
                .try_sign_in(&ann, "not it at all", Protocol::Imap, WORKSTATION)
                .await;
            assert!(r.is_err());
        }
        let r = env
            .try_sign_in(&ann, GOOD, Protocol::Imap, WORKSTATION)
            .await;
        assert!(r.is_err(), "locked after three failures: {r:?}");

        // Back to the file, key by key or all at once; the row goes with the last key.
        env.dir
            .change_policy(&admin(), "password", &changes(json!({"min_length": null})))
            .await
            .unwrap();
        assert_eq!(env.dir.config().password.min_length, 12);
        assert_eq!(
            env.dir.config().password.max_age,
            Some(Duration::from_secs(180 * 86_400))
        );
        env.dir.reset_policy(&admin(), "password").await.unwrap();
        let sections = env.dir.policy_sections(&admin()).await.unwrap();
        let password = sections.iter().find(|s| s.section == "password").unwrap();
        assert!(password.fields.iter().all(|f| !f.set_here));
        assert!(password.changed_by.is_none());
        other.reload_policies().await.unwrap();
        assert_eq!(
            other.config().password.max_age,
            Some(Duration::from_secs(365 * 86_400))
        );
        assert_eq!(other.config().lockout.threshold, 3);
    })
    .await;
}

#[tokio::test]
async fn it_changes_policies_through_the_api_others_read_them() {
    let (s, _) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    let day = Duration::from_secs(86_400);
    let (_, it) = dir
        .create_api_token(&admin(), "it", &[Role::ItAdmin], day)
        .await
        .unwrap();
    let (_, helpdesk) = dir
        .create_api_token(&admin(), "hd", &[Role::Helpdesk], day)
        .await
        .unwrap();
    let r = with_token(&s, &helpdesk, "GET", "/api/v1/policies", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sections = r.json();
    assert_eq!(sections.as_array().unwrap().len(), 4);
    assert_eq!(sections[0]["section"], "password");
    let body = r#"{"min_length": 16, "history": 24}"#;
    let r = with_token(
        &s,
        &helpdesk,
        "PATCH",
        "/api/v1/policies/password",
        Some(body),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = with_token(&s, &it, "PATCH", "/api/v1/policies/password", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let section = r.json();
    let min = &section["fields"][0];
    assert_eq!(
        (&min["key"], &min["value"], &min["set_here"]),
        (&json!("min_length"), &json!(16), &json!(true))
    );
    assert!(
        section["changed_by"]
            .as_str()
            .unwrap()
            .starts_with("token:it#")
    );
    // What every signed-in person reads (the portal's password rules) follows.
    let doc = carepost_identity::policy_document(&dir.config());
    assert_eq!(doc["password"]["min_length"], 16);

    let r = with_token(
        &s,
        &it,
        "PATCH",
        "/api/v1/policies/password",
        Some(r#"{"min_length": 4}"#),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.json()["error"], "invalid");
    assert!(r.json()["message"].as_str().unwrap().contains("at least 8"));
    let r = with_token(&s, &it, "PATCH", "/api/v1/policies/password", Some("[1]")).await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);
    let r = with_token(
        &s,
        &it,
        "PATCH",
        "/api/v1/policies/mail",
        Some(r#"{"x": 1}"#),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = with_token(&s, &helpdesk, "DELETE", "/api/v1/policies/password", None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = with_token(&s, &it, "DELETE", "/api/v1/policies/password", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["fields"][0]["value"], 12);
    assert_eq!(dir.config().password.history, 12);
}

#[tokio::test]
async fn it_changes_a_policy_in_the_console_and_the_file_value_is_not_copied() {
    let (s, ann) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let dir = s.running.context.directory.clone();
    crate::support::grant_open_role(&s, &ann, &Role::ItAdmin, None).await;
    let hal = crate::support::add_person(&dir, ("Hal", "Desk", "H1"), "Cardiology", "nurse").await;
    crate::support::grant_open_role(&s, &hal, &Role::Helpdesk, None).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    b.sign_in(&ann).await;
    let r = b.get("/admin/policies").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"policy-lockout\""), "{}", r.body);
    assert!(r.body.contains("Save passwords"), "{}", r.body);
    // The whole form comes back, every other key at the file's value.
    let form: Vec<(&str, &str)> = vec![
        ("min_length", "14"),
        ("max_length", "128"),
        ("min_strength", "3"),
        ("history", "12"),
        ("max_age", "365d"),
        ("warn_before", "14d"),
        ("min_age", "1d"),
        ("temporary_lifetime", "3d"),
        ("revoke_app_passwords_on_change", "yes"),
    ];
    let r = b.post("/admin/policies/password", &form).await;
    // A redirect: reloading the page does not send the form again.
    assert_eq!(r.header("location"), Some("/admin/policies?done=password"));
    let r = b.get("/admin/policies?done=password").await;
    assert!(r.body.contains("Passwords saved."), "{}", r.body);
    assert!(
        r.body
            .contains("min_length <span class=\"badge\">set here</span>"),
        "{}",
        r.body
    );
    assert_eq!(r.body.matches("set here</span>").count(), 1, "{}", r.body);
    assert_eq!(dir.config().password.min_length, 14);
    // A colleague sets history meanwhile; a form that shows the old history and changes only
    // the minimum length leaves the colleague's value alone.
    let m = json!({"history": 20});
    dir.change_policy(&admin(), "password", m.as_object().unwrap())
        .await
        .unwrap();
    let form = [
        ("min_length", "15"),
        ("was_min_length", "14"),
        ("history", "12"),
        ("was_history", "12"),
    ];
    let r = b.post("/admin/policies/password", &form).await;
    assert_eq!(r.header("location"), Some("/admin/policies?done=password"));
    let r = b.get("/admin/policies?done=password").await;
    assert!(r.body.contains("Passwords saved."), "{}", r.body);
    assert_eq!(dir.config().password.min_length, 15);
    assert_eq!(dir.config().password.history, 20);
    // A yes/no shown as it was is not a change either.
    let form = [
        ("min_length", "16"),
        ("was_min_length", "15"),
        ("revoke_app_passwords_on_change", "yes"),
        ("was_revoke_app_passwords_on_change", "true"),
    ];
    let r = b.post("/admin/policies/password", &form).await;
    assert_eq!(r.header("location"), Some("/admin/policies?done=password"));
    let r = b.get("/admin/policies?done=password").await;
    assert!(r.body.contains("Passwords saved."), "{}", r.body);
    let sections = dir.policy_sections(&admin()).await.unwrap();
    let set: Vec<&str> = sections[0]
        .fields
        .iter()
        .filter(|f| f.set_here)
        .map(|f| f.key)
        .collect();
    assert_eq!(set, ["min_length", "history"]);
    let r = b
        .post("/admin/policies/sessions", &[("idle_timeout", "a while")])
        .await;
    assert!(r.body.contains("id=\"policy-error\""), "{}", r.body);
    assert!(r.body.contains("not a duration"), "{}", r.body);

    // The helpdesk reads the page without a way to save, and a posted form is refused.
    let mut h = Browser::new(TestServer::start_shared(&s));
    h.sign_in(&hal).await;
    let r = h.get("/admin/policies").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!r.body.contains("Save passwords"), "{}", r.body);
    assert!(r.body.contains("Only IT administrators"), "{}", r.body);
    let r = h
        .post("/admin/policies/password", &[("min_length", "8")])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(dir.config().password.min_length, 16);
}
