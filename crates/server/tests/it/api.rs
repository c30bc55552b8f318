//! The JSON API's sign-in and self-service over the real HTTPS listener: password and second
//! factor steps, cookies, CSRF header, forced password change, app passwords, sign-out.

use crate::auth::{GOOD, GOOD2, totp_code};
use crate::support::{DAY, admin, new_account};
use carepost_testkit::{HttpResponse, TestServer, https_request};
use carepost_types::Clock;

const CSRF: (&str, &str) = ("X-Carepost-Request", "1");

struct Client {
    s: TestServer,
    cookies: Vec<String>,
}

impl Client {
    async fn call(&mut self, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
        let cookie = self.cookies.join("; ");
        let mut headers = vec![CSRF, ("User-Agent", "test-browser")];
        if !cookie.is_empty() {
            headers.push(("Cookie", &cookie));
        }
        let addr = self.s.running.https.unwrap();
        let r = https_request(addr, &self.s.cert, method, path, &headers, body).await;
        for c in r.cookies() {
            let name = c.split('=').next().unwrap().to_string();
            self.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
            self.cookies.push(c);
        }
        // A cleared cookie (empty value) is dropped.
        for (k, v) in &r.headers {
            if k == "set-cookie" && v.split(';').next().is_some_and(|c| c.ends_with('=')) {
                let name = v.split('=').next().unwrap();
                self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            }
        }
        r
    }
}

async fn with_nurse() -> (Client, String) {
    let s = TestServer::start(carepost_testkit::TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    dir.create_department(&admin(), "Cardiology", None)
        .await
        .unwrap();
    let mut new = new_account("Ann", None, "Lee", "E1", "Cardiology");
    new.category = "nurse".into();
    let a = dir.create_account(&admin(), &new).await.unwrap().address;
    dir.set_password(&admin(), &a, GOOD).await.unwrap();
    (
        Client {
            s,
            cookies: Vec::new(),
        },
        a,
    )
}

#[tokio::test]
async fn sign_in_sets_a_hardened_session_cookie_and_sign_out_ends_it() {
    let (mut c, a) = with_nurse().await;
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"wrong"}}"#)),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_credentials");
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "signed_in");
    let set = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("__Host-carepost-session="))
        .unwrap();
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.1.contains(attr), "{attr} missing: {}", set.1);
    }
    let me = c.call("GET", "/api/v1/me", None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["account"]["address"], a.as_str());
    assert_eq!(me.json()["session"]["amr"][0], "pwd");
    let r = c.call("POST", "/api/v1/auth/sign-out", None).await;
    assert_eq!(r.status, 204);
    let stolen = c.cookies.clone();
    assert!(stolen.is_empty(), "the cookie is cleared: {stolen:?}");
    assert_eq!(c.call("GET", "/api/v1/me", None).await.status, 401);
}

#[tokio::test]
async fn state_changing_requests_without_the_csrf_header_are_refused() {
    let (c, a) = with_nurse().await;
    let addr = c.s.running.https.unwrap();
    let body = format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#);
    let r = https_request(
        addr,
        &c.s.cert,
        "POST",
        "/api/v1/auth/sign-in",
        &[],
        Some(&body),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "csrf");
    let r = https_request(addr, &c.s.cert, "GET", "/api/v1/nothing", &[], None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"], "not_found");
}

#[tokio::test]
async fn a_temporary_password_must_be_changed_before_anything_else() {
    let (mut c, a) = with_nurse().await;
    let temporary =
        c.s.running
            .context
            .directory
            .reset_password(&admin(), &a)
            .await
            .unwrap();
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{temporary}"}}"#)),
        )
        .await;
    assert_eq!(r.json()["must_change_password"], true, "{}", r.body);
    let r = c.call("GET", "/api/v1/me/sessions", None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "password_change_required");
    let r = c
        .call(
            "POST",
            "/api/v1/me/password",
            Some(&format!(
                r#"{{"current":"{temporary}","new":"password1234"}}"#
            )),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("common_password"),
        "{}",
        r.body
    );
    let r = c
        .call(
            "POST",
            "/api/v1/me/password",
            Some(&format!(r#"{{"current":"{temporary}","new":"{GOOD2}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = c.call("GET", "/api/v1/me/sessions", None).await;
    assert_eq!(
        r.status, 200,
        "the session that changed the password lives on: {}",
        r.body
    );
}

#[tokio::test]
async fn totp_enrollment_then_a_two_step_sign_in() {
    let (mut c, a) = with_nurse().await;
    c.call(
        "POST",
        "/api/v1/auth/sign-in",
        Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
    )
    .await;
    let r = c
        .call(
            "POST",
            "/api/v1/me/totp",
            Some(r#"{"password":"not mine"}"#),
        )
        .await;
    assert_eq!(r.status, 401, "enrolling needs the password again");
    let r = c
        .call(
            "POST",
            "/api/v1/me/totp",
            Some(&format!(r#"{{"password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    let now = (c.s.clock.now().0 / 1000) as u64;
    let r = c
        .call(
            "POST",
            "/api/v1/me/totp/confirm",
            Some(&format!(r#"{{"code":"{}"}}"#, totp_code(&secret, now))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["recovery_codes"].as_array().unwrap().len(), 10);
    c.call("POST", "/api/v1/auth/sign-out", None).await;
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.json()["status"], "second_factor_required");
    assert_eq!(
        c.call("GET", "/api/v1/me", None).await.status,
        401,
        "no session before the code"
    );
    c.s.clock.advance(std::time::Duration::from_secs(60));
    let now = (c.s.clock.now().0 / 1000) as u64;
    let r = c
        .call(
            "POST",
            "/api/v1/auth/second-factor",
            Some(r#"{"code":"000000"}"#),
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .call(
            "POST",
            "/api/v1/auth/second-factor",
            Some(&format!(r#"{{"code":"{}"}}"#, totp_code(&secret, now))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = c.call("GET", "/api/v1/me", None).await.json();
    assert_eq!(
        me["session"]["amr"],
        serde_json::json!(["pwd", "otp", "mfa"])
    );
    assert_eq!(me["mfa"]["totp"], true);
    // The pending step expires.
    c.call("POST", "/api/v1/auth/sign-out", None).await;
    c.call(
        "POST",
        "/api/v1/auth/sign-in",
        Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
    )
    .await;
    c.s.clock.advance(std::time::Duration::from_secs(6 * 60));
    let now = (c.s.clock.now().0 / 1000) as u64;
    let r = c
        .call(
            "POST",
            "/api/v1/auth/second-factor",
            Some(&format!(r#"{{"code":"{}"}}"#, totp_code(&secret, now))),
        )
        .await;
    assert_eq!(r.json()["error"], "sign_in_expired");
}

#[tokio::test]
async fn app_passwords_made_in_the_portal_sign_mail_clients_in() {
    let (mut c, a) = with_nurse().await;
    c.call(
        "POST",
        "/api/v1/auth/sign-in",
        Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
    )
    .await;
    let r = c
        .call("POST", "/api/v1/me/app-passwords", Some(&format!(r#"{{"label":"iPhone","scopes":["imap","smtp"],"expires_in_days":30,"password":"{GOOD}"}}"#)))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let secret = r.json()["password"].as_str().unwrap().to_string();
    let id = r.json()["id"].as_i64().unwrap();
    let dir = c.s.running.context.directory.clone();
    let attempt = carepost_identity::SignIn {
        login: &a,
        secret: &secret,
        protocol: carepost_identity::Protocol::Imap,
        source: Some("10.1.1.1".parse().unwrap()),
    };
    assert!(dir.sign_in(&attempt).await.unwrap().is_ok());
    let list = c.call("GET", "/api/v1/me/app-passwords", None).await.json();
    assert_eq!(list["app_passwords"][0]["last_used_source"], "10.1.1.1");
    let r = c
        .call("DELETE", &format!("/api/v1/me/app-passwords/{id}"), None)
        .await;
    assert_eq!(r.status, 204);
    assert!(dir.sign_in(&attempt).await.unwrap().is_err());
    c.s.clock.advance(DAY);
    assert_eq!(
        c.call("GET", "/api/v1/me", None).await.status,
        401,
        "idle sessions end"
    );
}

/// A second account with `role`, signed in through the API.
async fn staff(c: &Client, first: &str, id: &str, role: Option<&str>) -> Client {
    let dir = &c.s.running.context.directory;
    let mut new = new_account(first, None, "Staff", id, "Cardiology");
    new.category = "administrative".into();
    let a = dir.create_account(&admin(), &new).await.unwrap().address;
    dir.set_password(&admin(), &a, GOOD).await.unwrap();
    if let Some(r) = role {
        let role = carepost_identity::Role::parse(r).unwrap();
        dir.grant_role(&admin(), &a, &role, None).await.unwrap();
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
    assert_eq!(r.status, 204, "{}", r.body);
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
async fn an_overdue_account_can_only_enroll_a_second_factor() {
    let (c, _) = with_nurse().await;
    let mut doc = {
        let dir = &c.s.running.context.directory;
        let a = dir
            .create_account(
                &admin(),
                &new_account("Dee", None, "Doc", "D1", "Cardiology"),
            )
            .await
            .unwrap()
            .address;
        dir.set_password(&admin(), &a, GOOD).await.unwrap();
        c.s.clock.advance(8 * DAY);
        let mut doc = Client {
            s: TestServer::start_shared(&c.s),
            cookies: Vec::new(),
        };
        let r = doc
            .call(
                "POST",
                "/api/v1/auth/sign-in",
                Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
            )
            .await;
        assert_eq!(r.json()["mfa_enrollment"]["overdue"], true, "{}", r.body);
        doc
    };
    let r = doc.call("GET", "/api/v1/me/sessions", None).await;
    assert_eq!(r.json()["error"], "mfa_enrollment_required");
    let r = doc
        .call(
            "POST",
            "/api/v1/me/totp",
            Some(&format!(r#"{{"password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn the_api_answers_in_json_without_caching_and_limits_sign_in_floods() {
    let (mut c, a) = with_nurse().await;
    let r = c
        .call("POST", "/api/v1/auth/sign-in", Some("{not json"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_request");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let huge = format!(r#"{{"login":"{a}","password":"{}"}}"#, "x".repeat(20_000));
    assert_eq!(
        c.call("POST", "/api/v1/auth/sign-in", Some(&huge))
            .await
            .status,
        413
    );
    let mut limited = false;
    for _ in 0..80 {
        let r = c
            .call(
                "POST",
                "/api/v1/auth/sign-in",
                Some(r#"{"login":"x@kaiser.org","password":"y"}"#),
            )
            .await;
        if r.status == 429 {
            assert_eq!(r.json()["error"], "too_many_requests");
            limited = true;
            break;
        }
    }
    assert!(
        limited,
        "a flood from one network is cut off before hashing"
    );
}

#[tokio::test]
async fn a_password_reset_voids_a_pending_second_factor_and_restricted_sessions_see_only_me() {
    let (mut c, a) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let now = (c.s.clock.now().0 / 1000) as u64;
    dir.confirm_totp(id, &totp_code(&e.secret, now))
        .await
        .unwrap();
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.json()["status"], "second_factor_required");
    c.s.clock.advance(std::time::Duration::from_secs(1));
    dir.reset_password(&admin(), &a).await.unwrap();
    c.s.clock.advance(std::time::Duration::from_secs(59));
    let now = (c.s.clock.now().0 / 1000) as u64;
    let r = c
        .call(
            "POST",
            "/api/v1/auth/second-factor",
            Some(&format!(r#"{{"code":"{}"}}"#, totp_code(&e.secret, now))),
        )
        .await;
    assert_eq!(r.json()["error"], "sign_in_expired", "{}", r.body);
    // A temporary-password session may read its own account, and nothing else.
    let temporary = dir.reset_password(&admin(), &a).await.unwrap();
    dir.mfa_reset(&admin(), &a, "lost phone, verified in person")
        .await
        .unwrap();
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{temporary}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.call("GET", "/api/v1/me", None).await.status, 200);
    assert_eq!(
        c.call("GET", "/api/v1/me/app-passwords", None).await.status,
        403
    );
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
async fn forgot_password_and_self_unlock_need_a_recovery_code_or_the_authenticator() {
    let (mut c, a) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let recover = |code: &str, new: Option<&str>| {
        let new = new
            .map(|n| format!(r#","new_password":"{n}""#))
            .unwrap_or_default();
        format!(r#"{{"login":"{a}","code":"{code}"{new}}}"#)
    };
    // No second factor: no self-service path, and the same answer as a wrong code.
    let r = c
        .call(
            "POST",
            "/api/v1/auth/recover",
            Some(&recover("aaaa-bbbb-cccc-dddd", None)),
        )
        .await;
    assert_eq!(r.status, 401);
    let unknown = c
        .call(
            "POST",
            "/api/v1/auth/recover",
            Some(r#"{"login":"nobody@kaiser.org","code":"123456"}"#),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.json()["error"].clone()),
        (401, r.json()["error"].clone())
    );
    let codes = dir.regenerate_recovery_codes(id).await.unwrap();
    let weak = c
        .call(
            "POST",
            "/api/v1/auth/recover",
            Some(&recover(&codes[0], Some("password1234"))),
        )
        .await;
    assert_eq!(
        weak.status, 422,
        "refused before the code is spent: {}",
        weak.body
    );
    // Locked out by a spray from the ward's own network...
    for _ in 0..5 {
        let attempt = carepost_identity::SignIn {
            login: &a,
            secret: "wrong",
            protocol: carepost_identity::Protocol::Web,
            source: Some("127.0.0.1".parse().unwrap()),
        };
        dir.sign_in(&attempt).await.unwrap().unwrap_err();
    }
    // ...a recovery code sets a new password and unlocks.
    let r = c
        .call(
            "POST",
            "/api/v1/auth/recover",
            Some(&recover(&codes[0], Some(GOOD2))),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD2}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = c
        .call(
            "POST",
            "/api/v1/auth/recover",
            Some(&recover(&codes[0], None)),
        )
        .await;
    assert_eq!(r.status, 401, "a recovery code works once");
}

#[tokio::test]
async fn the_authenticator_alone_unlocks_but_never_sets_a_password() {
    let (mut c, a) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let now = (c.s.clock.now().0 / 1000) as u64;
    dir.confirm_totp(id, &totp_code(&e.secret, now))
        .await
        .unwrap();
    c.s.clock.advance(std::time::Duration::from_secs(60));
    let now = (c.s.clock.now().0 / 1000) as u64;
    let code = totp_code(&e.secret, now);
    let with_password = format!(r#"{{"login":"{a}","code":"{code}","new_password":"{GOOD2}"}}"#);
    assert_eq!(
        c.call("POST", "/api/v1/auth/recover", Some(&with_password))
            .await
            .status,
        401
    );
    c.s.clock.advance(std::time::Duration::from_secs(60));
    let now = (c.s.clock.now().0 / 1000) as u64;
    let unlock = format!(
        r#"{{"login":"{a}","code":"{}"}}"#,
        totp_code(&e.secret, now)
    );
    assert_eq!(
        c.call("POST", "/api/v1/auth/recover", Some(&unlock))
            .await
            .status,
        204
    );
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(
        r.json()["status"],
        "second_factor_required",
        "the password did not change"
    );
}

#[tokio::test]
async fn a_recovery_code_at_sign_in_is_named_as_such_in_amr() {
    let (mut c, a) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let now = (c.s.clock.now().0 / 1000) as u64;
    let codes = dir
        .confirm_totp(id, &totp_code(&e.secret, now))
        .await
        .unwrap()
        .unwrap();
    let r = c
        .call(
            "POST",
            "/api/v1/auth/sign-in",
            Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
        )
        .await;
    assert_eq!(r.json()["status"], "second_factor_required");
    let r = c
        .call(
            "POST",
            "/api/v1/auth/second-factor",
            Some(&format!(r#"{{"code":"{}"}}"#, codes[0])),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let me = c.call("GET", "/api/v1/me", None).await.json();
    assert_eq!(me["session"]["amr"], serde_json::json!(["pwd", "mfa"]));
    assert_eq!(me["mfa"]["recovery_codes_left"], 9);
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
    assert_eq!(r.status, 204, "{}", r.body);
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
