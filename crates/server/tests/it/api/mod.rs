//! The JSON API's sign-in and self-service over the real HTTPS listener: password and second
//! factor steps, cookies, CSRF header, forced password change, app passwords, sign-out.

mod admin;
mod passkeys;
mod recovery;

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
    with_nurse_on(carepost_testkit::TestDb::sqlite()).await
}

async fn with_nurse_on(db: carepost_testkit::TestDb) -> (Client, String) {
    let (s, a) = crate::support::server_with_nurse(db).await;
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
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["app_passwords_revoked"], serde_json::json!([]));
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
        let mut doc = Client {
            s: TestServer::start_shared(&c.s),
            cookies: Vec::new(),
        };
        // The grace starts at the first sign-in under the policy.
        let r = doc
            .call(
                "POST",
                "/api/v1/auth/sign-in",
                Some(&format!(r#"{{"login":"{a}","password":"{GOOD}"}}"#)),
            )
            .await;
        assert_eq!(r.json()["mfa_enrollment"]["overdue"], false, "{}", r.body);
        c.s.clock.advance(8 * DAY);
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
async fn on_a_paused_network_every_sign_in_gets_the_same_second_step_and_only_a_real_one_passes() {
    let (mut c, nurse) = with_nurse().await;
    let dir = c.s.running.context.directory.clone();
    let strong =
        crate::support::add_person(&dir, ("Sam", "Strong", "E2"), "Cardiology", "nurse").await;
    let id = dir.find_account(&admin(), &strong).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let now = (c.s.clock.now().0 / 1000) as u64;
    dir.confirm_totp(id, &totp_code(&e.secret, now))
        .await
        .unwrap();
    // A spray from the test client's own network pauses it.
    for i in 0..20 {
        let login = format!("guess{i}@kaiser.org");
        let attempt = carepost_identity::SignIn {
            login: &login,
            secret: "x",
            protocol: carepost_identity::Protocol::Web,
            source: Some("127.0.0.9".parse().unwrap()),
        };
        assert!(dir.sign_in(&attempt).await.unwrap().is_err());
    }
    // An unknown login, a wrong password, a right password without a second factor, and a
    // right password with one: the answers cannot be told apart.
    let mut answers = Vec::new();
    for (login, password) in [
        ("nobody.here@kaiser.org", "whatever"),
        (strong.as_str(), "not the password"),
        (nurse.as_str(), GOOD),
        (strong.as_str(), GOOD),
    ] {
        c.cookies.clear();
        let r = c
            .call(
                "POST",
                "/api/v1/auth/sign-in",
                Some(&format!(r#"{{"login":"{login}","password":"{password}"}}"#)),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.json()["notice"].as_str().unwrap().contains("paused"));
        let cookie = c
            .cookies
            .iter()
            .find(|k| k.starts_with("__Host-carepost-mfa="));
        answers.push((r.body.clone(), cookie.unwrap().clone()));
    }
    assert!(
        answers.iter().all(|(body, _)| *body == answers[0].0),
        "{answers:?}"
    );
    // The pending cookie is sealed: it names no account (it once began with the id).
    let real = &answers[3].1;
    assert!(
        !real.starts_with(&format!("__Host-carepost-mfa={}.", id.0)),
        "{real}"
    );
    // Passkeys wait for the pause to end (their challenge would name the account's keys).
    let r = c.call("POST", "/api/v1/auth/passkey-challenge", None).await;
    assert_eq!(r.json()["error"], "no_passkey", "{}", r.body);
    // The real second step passes; the others, given the same right code, do not.
    c.s.clock.advance(std::time::Duration::from_secs(30));
    let now = (c.s.clock.now().0 / 1000) as u64;
    let code = totp_code(&e.secret, now);
    let r = c
        .call(
            "POST",
            "/api/v1/auth/second-factor",
            Some(&format!(r#"{{"code":"{code}"}}"#)),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (_, cookie) in &answers[..3] {
        c.cookies = vec![cookie.split(';').next().unwrap().to_string()];
        c.s.clock.advance(std::time::Duration::from_secs(30));
        let now = (c.s.clock.now().0 / 1000) as u64;
        let code = totp_code(&e.secret, now);
        let r = c
            .call(
                "POST",
                "/api/v1/auth/second-factor",
                Some(&format!(r#"{{"code":"{code}"}}"#)),
            )
            .await;
        assert_eq!(r.json()["error"], "invalid_code", "{}", r.body);
    }
}
