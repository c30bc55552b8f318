//! The administration API: roles, helpdesk, departments, import, policy, API tokens.

use super::*;

/// A second account with `role`, signed in through the API.
async fn staff(c: &Client, first: &str, id: &str, role: Option<&str>) -> Client {
    let dir = &c.s.running.context.directory;
    let mut new = new_account(first, None, "Staff", id, "Cardiology");
    new.category = "administrative".into();
    let a = dir.create_account(&admin(), &new).await.unwrap().address;
    dir.set_password(&admin(), &a, GOOD).await.unwrap();
    if let Some(r) = role {
        let role = carepost_identity::Role::parse(r).unwrap();
        crate::support::grant_open_role(&c.s, &a, &role, None).await;
    }
    let mut other = Client {
        s: TestServer::start_shared(&c.s),
        cookies: Vec::new(),
    };
    let r = other
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    if let Some(secret) = crate::support::factor_of(&c.s, &a) {
        let code = crate::support::next_code(&c.s, &secret);
        let r = other
            .call(
                "POST",
                "/api/v1/auth/second-factor",
                Some(&format!(r#"{{"code":"{code}"}}"#)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    other
}

#[tokio::test]
async fn helpdesk_unlocks_and_reads_but_cannot_create_or_read_the_audit_trail() {
    let (c, nurse) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    for _ in 0..5 {
        let attempt = carepost_identity::SignIn {
            login: &nurse,
            secret: "wrong",
            protocol: carepost_identity::Protocol::Imap,
            source: Some("203.0.113.1".parse().unwrap()),
        };
        dir.sign_in(&attempt).await.unwrap().unwrap_err();
    }
    let mut helpdesk = staff(&c, "Hal", "H1", Some("helpdesk")).await;
    let shown = helpdesk
        .call("GET", &format!("/api/v1/accounts/{nurse}"), None)
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert!(shown.body.contains("locked_until\":\"20"), "{}", shown.body);
    let r = helpdesk
        .call("POST", &format!("/api/v1/accounts/{nurse}/unlock"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["locks_lifted"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r.body
    );
    let body = r#"{"first":"New","last":"Person","employee_id":"X9","category":"nurse","department":"Cardiology"}"#;
    let r = helpdesk.call("POST", "/api/v1/accounts", Some(body)).await;
    assert_eq!(r.status, 403);
    let r = helpdesk.call("GET", "/api/v1/audit", None).await;
    assert_eq!(r.status, 403);
    let mut officer = staff(&c, "Sue", "S1", Some("security-officer")).await;
    let r = officer.call("GET", "/api/v1/audit?limit=1000", None).await;
    assert_eq!(r.status, 200);
    let events = r.json()["events"].as_array().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| e["action"] == "authz.denied" && e["actor"] == "hal.staff@kaiser.org"),
        "refusals are audited"
    );
    assert!(events.iter().any(|e| e["action"] == "account.unlock"));
    let mut nobody = staff(&c, "Ned", "N1", None).await;
    assert_eq!(
        nobody.call("GET", "/api/v1/accounts", None).await.status,
        403
    );
}

#[tokio::test]
async fn an_it_administrator_manages_accounts_through_the_api() {
    let (c, nurse) = with_nurse().await;
    let mut it = staff(&c, "Ida", "I1", Some("it-admin")).await;
    let body = r#"{"first":"José","last":"Núñez","employee_id":"X1","category":"clinician","department":"Cardiology"}"#;
    let r = it.call("POST", "/api/v1/accounts", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["address"], "jose.nunez@kaiser.org");
    let r = it.call("GET", "/api/v1/accounts?query=nunez", None).await;
    assert_eq!(r.json()["accounts"].as_array().unwrap().len(), 1);
    let r = it
        .call(
            "POST",
            &format!("/api/v1/accounts/{nurse}/reset-password"),
            None,
        )
        .await;
    assert_eq!(r.json()["temporary_password"].as_str().unwrap().len(), 23);
    let r = it
        .call(
            "POST",
            &format!("/api/v1/accounts/{nurse}/status"),
            Some(r#"{"status":"disabled"}"#),
        )
        .await;
    assert_eq!(r.json()["status"], "disabled");
    let r = it
        .call(
            "POST",
            &format!("/api/v1/accounts/{nurse}/reset-mfa"),
            Some(r#"{"reason":""}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = it
        .call("POST", "/api/v1/accounts/nobody@kaiser.org/unlock", None)
        .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
}

#[tokio::test]
async fn a_helpdesk_reset_through_the_api() {
    let (c, nurse) = with_nurse().await;
    let mut helpdesk = staff(&c, "Hal", "H1", Some("helpdesk")).await;
    let r = helpdesk
        .call(
            "POST",
            &format!("/api/v1/accounts/{nurse}/helpdesk-reset"),
            Some("{}"),
        )
        .await;
    assert_eq!(r.status, 200, "no second factor on the account: {}", r.body);
    assert_eq!(r.json()["must_change"], true);
    let r = helpdesk
        .call(
            "POST",
            &format!("/api/v1/accounts/{nurse}/reset-requests"),
            Some(r#"{"reason":"ticket 5: caller lost phone"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["request"].as_i64().unwrap();
    let r = helpdesk
        .call(
            "POST",
            &format!("/api/v1/reset-requests/{id}/approve"),
            None,
        )
        .await;
    assert_eq!(r.status, 403, "helpdesk cannot approve");
}

#[tokio::test]
async fn departments_import_and_policy_through_the_api() {
    let (mut c, _) = with_nurse().await;
    let r = c.call("GET", "/api/v1/policy", None).await;
    assert_eq!(r.status, 401, "signed in only");
    let mut it = staff(&c, "Ida", "I1", Some("it-admin")).await;
    let r = it
        .call(
            "POST",
            "/api/v1/departments",
            Some(r#"{"name":"Oncology","parent":"Cardiology"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = it.call("GET", "/api/v1/departments", None).await;
    assert!(r.body.contains("Oncology"), "{}", r.body);
    // Renamed, moved (never below itself) and removed once empty.
    let r = it
        .call(
            "POST",
            "/api/v1/departments/Oncology/rename",
            Some(r#"{"name":"Oncology Ward"}"#),
        )
        .await;
    assert_eq!(r.json()["name"], "Oncology Ward", "{}", r.body);
    let r = it
        .call(
            "POST",
            "/api/v1/departments/Cardiology/move",
            Some(r#"{"parent":"Oncology Ward"}"#),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("cannot go below itself"), "{}", r.body);
    let r = it
        .call(
            "POST",
            "/api/v1/departments/Oncology%20Ward/move",
            Some(r#"{"parent":null}"#),
        )
        .await;
    assert_eq!(r.json()["parent"], serde_json::Value::Null, "{}", r.body);
    let r = it
        .call("DELETE", "/api/v1/departments/Cardiology", None)
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("account"), "{}", r.body);
    let r = it
        .call("DELETE", "/api/v1/departments/Oncology%20Ward", None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = it
        .call(
            "POST",
            "/api/v1/departments",
            Some(r#"{"name":"Oncology","parent":"Cardiology"}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut csv = String::from(
        "employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status\n",
    );
    for i in 0..400 {
        csv.push_str(&format!(
            "B{i},Bulk,Middle-Named,Person-With-A-Long-Name{i},,nurse,Oncology,,\n"
        ));
    }
    csv.push_str("B999,,,Nameless,,nurse,Oncology,,\n");
    assert!(csv.len() > 16 * 1024, "larger than the ordinary body limit");
    let r = it.call("POST", "/api/v1/import", Some(&csv)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let s = r.json();
    assert_eq!(
        (s["created"].as_u64(), s["failed"].as_u64()),
        (Some(400), Some(1)),
        "{s}"
    );
    assert_eq!(s["errors"][0]["line"], 402);
    let p = it.call("GET", "/api/v1/policy", None).await.json();
    assert_eq!(p["password"]["min_length"], 12);
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(
                r#"{{"login":"ann.lee@kaiser.org","password":"{GOOD}"}}"#
            )),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        c.call("POST", "/api/v1/import", Some("x")).await.status,
        403,
        "a nurse cannot import"
    );
}

#[tokio::test]
async fn api_tokens_act_with_their_roles_until_revoked_or_expired() {
    let (c, nurse) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let day = std::time::Duration::from_secs(86_400);
    let (id, token) = dir
        .create_api_token(
            &admin(),
            "hr-feed",
            &[carepost_identity::Role::Helpdesk],
            30 * day,
        )
        .await
        .unwrap();
    assert!(token.starts_with("cpt_"));
    let addr = c.s.running.https.unwrap();
    let bearer = format!("Bearer {token}");
    let call = |method: &'static str, path: String, body: Option<&'static str>| {
        let bearer = bearer.clone();
        let cert = c.s.cert.clone();
        async move {
            https_request(
                addr,
                &cert,
                method,
                &path,
                &[("Authorization", &bearer)],
                body,
            )
            .await
        }
    };
    // No CSRF header needed: a browser never attaches a bearer token by itself.
    let r = call("POST", format!("/api/v1/accounts/{nurse}/unlock"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = call("GET", "/api/v1/accounts?limit=5".into(), None).await;
    assert_eq!(r.status, 200);
    let r = call("POST", "/api/v1/accounts".into(), Some(r#"{"first":"A","last":"B","employee_id":"Z1","category":"nurse","department":"Cardiology"}"#)).await;
    assert_eq!(r.status, 403, "a helpdesk token cannot create accounts");
    let trail = dir
        .audit_events(&admin(), &carepost_store::AuditFilter::default())
        .await
        .unwrap();
    assert!(
        trail
            .iter()
            .any(|e| e.action == "account.unlock" && e.actor == format!("token:hr-feed#{id}"))
    );
    let listed = dir.list_api_tokens(&admin()).await.unwrap();
    assert!(listed[0].last_used_at.is_some());
    dir.revoke_api_token(&admin(), id).await.unwrap();
    let r = call("GET", "/api/v1/accounts".into(), None).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (401, serde_json::json!("invalid_token"))
    );
    let (_, short) = dir
        .create_api_token(
            &admin(),
            "probe",
            &[carepost_identity::Role::SecurityOfficer],
            day,
        )
        .await
        .unwrap();
    c.s.clock.advance(2 * day);
    let r = https_request(
        addr,
        &c.s.cert,
        "GET",
        "/api/v1/audit",
        &[("Authorization", &format!("Bearer {short}"))],
        None,
    )
    .await;
    assert_eq!(r.status, 401, "expired");
    let e = dir
        .create_api_token(
            &admin(),
            "forever",
            &[carepost_identity::Role::ItAdmin],
            400 * day,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("365 days"), "{e}");
    let denied = dir
        .audit_events(&admin(), &carepost_store::AuditFilter::default())
        .await
        .unwrap();
    assert!(
        denied.iter().any(|e| e.action == "api_token.denied"),
        "use of a revoked token is audited"
    );
    // A leaked administrator token cannot mint more tokens.
    let (_, admin_token) = dir
        .create_api_token(&admin(), "ops", &[carepost_identity::Role::ItAdmin], day)
        .await
        .unwrap();
    let r = https_request(
        addr,
        &c.s.cert,
        "POST",
        "/api/v1/tokens",
        &[("Authorization", &format!("Bearer {admin_token}"))],
        Some(r#"{"name":"more","roles":["it-admin"],"days":365}"#),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
}

/// What the console does to one account, the API does too: rename, revoke app passwords,
/// roles, the reset requests to approve, the account's second factors, and the audit chain
/// check; for IT (and security officers for the chain), not the helpdesk.
#[tokio::test]
async fn the_rest_of_the_console_through_the_api() {
    use crate::support::{server_with_nurse, with_token};
    let (s, ann) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    let day = std::time::Duration::from_secs(86_400);
    let (_, it) = dir
        .create_api_token(&admin(), "it", &[carepost_identity::Role::ItAdmin], day)
        .await
        .unwrap();
    let (_, hd) = dir
        .create_api_token(&admin(), "hd", &[carepost_identity::Role::Helpdesk], day)
        .await
        .unwrap();
    let at = |p: &str| format!("/api/v1/accounts/{ann}{p}");

    let r = with_token(&s, &it, "GET", &at(""), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["mfa"]["totp"], false, "{}", r.body);

    let r = with_token(
        &s,
        &hd,
        "POST",
        &at("/roles"),
        Some(r#"{"role": "helpdesk"}"#),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let body = r#"{"role": "supervisor", "department": "Cardiology"}"#;
    let r = with_token(&s, &it, "POST", &at("/roles"), Some(body)).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = with_token(
        &s,
        &it,
        "POST",
        &at("/roles"),
        Some(r#"{"role": "wizard"}"#),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = with_token(&s, &it, "GET", &at("/roles"), None).await;
    assert_eq!(
        r.json()["roles"],
        serde_json::json!([{"role": "supervisor", "department": "Cardiology"}])
    );
    let r = with_token(&s, &it, "DELETE", &at("/roles/supervisor"), None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = with_token(&s, &it, "GET", &at("/roles"), None).await;
    assert_eq!(r.json()["roles"], serde_json::json!([]));

    let r = with_token(&s, &it, "POST", &at("/revoke-app-passwords"), None).await;
    assert_eq!(
        (r.status, r.json()["revoked"].as_u64()),
        (200, Some(0)),
        "{}",
        r.body
    );

    let r = with_token(&s, &hd, "POST", &at("/rename"), Some(r#"{"last": "Park"}"#)).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = with_token(&s, &it, "POST", &at("/rename"), Some(r#"{"last": "Park"}"#)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["address"]
            .as_str()
            .unwrap()
            .starts_with("ann.park@"),
        "{}",
        r.body
    );
    assert_eq!(r.json()["aliases"], serde_json::json!([ann]));

    let r = with_token(&s, &it, "GET", "/api/v1/reset-requests", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["requests"], serde_json::json!([]));

    let r = with_token(&s, &hd, "POST", "/api/v1/audit/verify", None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = with_token(&s, &it, "POST", "/api/v1/audit/verify", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["whole"], true, "{}", r.body);
    assert!(r.json()["events"].as_u64().unwrap() > 5, "{}", r.body);
}

#[tokio::test]
async fn invitations_through_the_api() {
    let (c, _) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let csv = "employee_id,first,last,category,department\nW1,Wil,Kahn,nurse,Cardiology\n";
    dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
    let mut it = staff(&c, "Ida", "I9", Some("it-admin")).await;
    let r = it
        .call(
            "POST",
            "/api/v1/invitations",
            Some(r#"{"accounts":["wil.kahn@kaiser.org"]}"#),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let code = r.json()["invitations"][0]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let mut newcomer = Client {
        s: TestServer::start_shared(&c.s),
        cookies: Vec::new(),
    };
    let wrong = newcomer
        .call(
            "POST",
            "/api/v1/auth/welcome",
            Some(&format!(
                r#"{{"login":"wil.kahn@kaiser.org","code":"XXXX-XXXX-XXXX-XXXX","new_password":"{GOOD2}"}}"#
            )),
        )
        .await;
    assert_eq!(
        wrong.json()["error"],
        "invalid_invitation",
        "{}",
        wrong.body
    );
    let r = newcomer
        .call(
            "POST",
            "/api/v1/auth/welcome",
            Some(&format!(
                r#"{{"login":"wil.kahn@kaiser.org","code":"{code}","new_password":"{GOOD2}"}}"#
            )),
        )
        .await;
    assert_eq!(r.json()["status"], "password_set", "{}", r.body);
    let r = it
        .call(
            "GET",
            "/api/v1/invitations?account=wil.kahn@kaiser.org",
            None,
        )
        .await;
    assert_eq!(r.json()["invitations"][0]["state"], "used", "{}", r.body);
}
