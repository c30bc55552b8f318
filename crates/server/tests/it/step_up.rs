//! The step-up: a second factor proven in the last minutes before changing one's factors or
//! acting as an administrator, in the portal, the console and the API; API tokens are not
//! sessions and are not asked.

use crate::auth::{GOOD, totp_code};
use crate::browser::Browser;
use crate::support::{add_person, admin, server_with_nurse};
use carepost_testkit::{HttpResponse, TestServer, https_request};
use carepost_types::Clock;
use std::time::Duration;

fn now_unix(s: &TestServer) -> u64 {
    (s.clock.now().0 / 1000) as u64
}

/// An IT administrator with an authenticator app: (address, TOTP secret).
async fn it_admin(s: &TestServer) -> (String, String) {
    let dir = &s.running.context.directory;
    let a = add_person(dir, ("Ida", "Admin", "IT1"), "Cardiology", "administrative").await;
    dir.grant_role(&admin(), &a, &carepost_identity::Role::ItAdmin, None)
        .await
        .unwrap();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    dir.confirm_totp(id, &totp_code(&e.secret, now_unix(s)))
        .await
        .unwrap()
        .unwrap();
    s.clock.advance(Duration::from_secs(30));
    (a, e.secret)
}

/// Signs in through the portal with the password and the authenticator's code.
async fn sign_in_with_code(b: &mut Browser, login: &str, secret: &str) {
    let r = b.sign_in(login).await;
    assert_eq!(r.header("location"), Some("/sign-in/verify"));
    b.get("/sign-in/verify").await;
    let code = totp_code(secret, now_unix(&b.s));
    let r = b.post("/sign-in/verify", &[("code", &code)]).await;
    assert_eq!(r.header("location"), Some("/account"), "{}", r.body);
}

async fn api(b: &Browser, method: &str, path: &str, body: Option<&str>) -> HttpResponse {
    let cookie = b.cookies.join("; ");
    https_request(
        b.s.running.https.unwrap(),
        &b.s.cert,
        method,
        path,
        &[("Cookie", &cookie), ("X-Carepost-Request", "1")],
        body,
    )
    .await
}

#[tokio::test]
async fn an_old_sign_in_confirms_again_before_the_console_changes_anything() {
    let (s, nurse) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let (a, secret) = it_admin(&s).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    sign_in_with_code(&mut b, &a, &secret).await;
    let back = format!("/admin/accounts/{nurse}");
    // Fresh from the sign-in: the change goes through (back to the account's page).
    let done = |r: &HttpResponse| {
        r.header("location")
            .is_some_and(|l| l.starts_with(&format!("/admin/accounts/{nurse}?")))
    };
    let r = b.post(&format!("{back}/end-sessions"), &[]).await;
    assert!(done(&r), "{:?} {}", r.header("location"), r.body);
    // Twenty minutes on (the session kept alive by reading pages): confirm first.
    for _ in 0..2 {
        s.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(b.get(&back).await.status, 200);
    }
    let r = b.post(&format!("{back}/end-sessions"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_string();
    assert!(to.starts_with("/account/confirm?next="), "{to}");
    let page = b.get(&to).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Confirm it is you"), "{}", page.body);
    let next = format!("/admin/accounts/{nurse}");
    // A copy of the cookie taken before the proof (a workstation left unlocked).
    let mut copy = Browser::new(TestServer::start_shared(&s));
    copy.cookies = b.cookies.clone();
    let r = b
        .post("/account/confirm", &[("code", "000000"), ("next", &next)])
        .await;
    assert_eq!(r.status, 200, "a wrong code: the page again");
    assert!(r.body.contains("not right"), "{}", r.body);
    let code = totp_code(&secret, now_unix(&s));
    let r = b
        .post("/account/confirm", &[("code", &code), ("next", &next)])
        .await;
    assert_eq!(
        r.header("location"),
        Some(next.as_str()),
        "back to the account's page"
    );
    let r = b.post(&format!("{back}/end-sessions"), &[]).await;
    assert!(done(&r), "{:?} {}", r.header("location"), r.body);
    // The proof renewed the session's token: the copy opens nothing.
    let r = copy.post(&format!("{back}/end-sessions"), &[]).await;
    assert!(!done(&r), "{:?}", r.header("location"));
    assert_eq!(
        copy.get("/account").await.header("location"),
        Some("/sign-in")
    );
    // Elsewhere is never a way back, even after a good code.
    for evil in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/accountx",
    ] {
        s.clock.advance(Duration::from_secs(30));
        let code = totp_code(&secret, now_unix(&s));
        let r = b
            .post("/account/confirm", &[("code", &code), ("next", evil)])
            .await;
        assert_eq!(r.header("location"), Some("/account"), "{evil}");
    }
}

#[tokio::test]
async fn the_api_asks_a_session_for_a_step_up_and_not_a_token() {
    let (s, nurse) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let (a, secret) = it_admin(&s).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    sign_in_with_code(&mut b, &a, &secret).await;
    let unlock = format!("/api/v1/accounts/{nurse}/unlock");
    assert_eq!(api(&b, "POST", &unlock, None).await.status, 200);
    for _ in 0..2 {
        s.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(api(&b, "GET", "/api/v1/me", None).await.status, 200);
    }
    let r = api(&b, "POST", &unlock, None).await;
    assert_eq!(
        (r.status, r.json()["error"].clone()),
        (403, "step_up_required".into())
    );
    // Reading stays open.
    assert_eq!(
        api(&b, "GET", &format!("/api/v1/accounts/{nurse}"), None)
            .await
            .status,
        200
    );
    // So do factor changes' refusals: recovery codes need the step-up too.
    let body = format!(r#"{{"password":"{GOOD}"}}"#);
    let r = api(&b, "POST", "/api/v1/me/recovery-codes", Some(&body)).await;
    assert_eq!(r.json()["error"], "step_up_required", "{}", r.body);
    let r = api(
        &b,
        "POST",
        "/api/v1/me/step-up",
        Some(r#"{"code":"000000"}"#),
    )
    .await;
    assert_eq!(r.status, 401);
    let code = totp_code(&secret, now_unix(&s));
    let r = api(
        &b,
        "POST",
        "/api/v1/me/step-up",
        Some(&format!(r#"{{"code":"{code}"}}"#)),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The session goes on under the new token the answer set.
    let old = b.cookies.clone();
    for c in r.cookies() {
        let name = c.split('=').next().unwrap().to_string();
        b.cookies.retain(|k| !k.starts_with(&format!("{name}=")));
        b.cookies.push(c);
    }
    assert_ne!(old, b.cookies);
    assert_eq!(api(&b, "POST", &unlock, None).await.status, 200);
    let r = api(&b, "POST", "/api/v1/me/recovery-codes", Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // An API token is not a session: no step-up.
    let (_, token) = s
        .running
        .context
        .directory
        .create_api_token(
            &admin(),
            "feed",
            &[carepost_identity::Role::ItAdmin],
            Duration::from_secs(86_400),
        )
        .await
        .unwrap();
    s.clock.advance(Duration::from_secs(3600));
    let bearer = format!("Bearer {token}");
    let r = https_request(
        s.running.https.unwrap(),
        &s.cert,
        "POST",
        &unlock,
        &[("Authorization", &bearer)],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn changing_factors_after_a_while_asks_for_the_factor_first() {
    let (s, _) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let (a, secret) = it_admin(&s).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    sign_in_with_code(&mut b, &a, &secret).await;
    for _ in 0..2 {
        s.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(b.get("/account").await.status, 200);
    }
    let r = b
        .post("/account/recovery-codes", &[("password", GOOD)])
        .await;
    let to = r.header("location").unwrap().to_string();
    assert!(to.starts_with("/account/confirm"), "{to}");
    let code = totp_code(&secret, now_unix(&s));
    let r = b
        .post("/account/confirm", &[("code", &code), ("next", "/account")])
        .await;
    assert_eq!(r.header("location"), Some("/account"));
    let r = b
        .post("/account/recovery-codes", &[("password", GOOD)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `sessions.step_up` and `oidc.access_token_lifetime` are settings.
#[tokio::test]
async fn the_step_up_window_and_token_lifetimes_follow_the_config() {
    let s = TestServer::start_with(carepost_testkit::TestDb::sqlite(), |c| {
        c.sessions.step_up = Duration::from_secs(3600);
        c.oidc.access_token_lifetime = Duration::from_secs(120);
    })
    .await;
    s.running
        .context
        .directory
        .create_department(&admin(), "Cardiology", None)
        .await
        .unwrap();
    let (a, secret) = it_admin(&s).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    sign_in_with_code(&mut b, &a, &secret).await;
    for _ in 0..2 {
        s.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(b.get("/account").await.status, 200);
    }
    // Twenty minutes on, within the hour the config allows: no confirmation asked.
    let r = b
        .post("/account/recovery-codes", &[("password", GOOD)])
        .await;
    assert_eq!(r.status, 200, "{:?} {}", r.header("location"), r.body);
    let oidc = &s.running.context.oidc;
    assert_eq!(oidc.lifetimes().access_token, Duration::from_secs(120));
    let policy = https_request(
        s.running.https.unwrap(),
        &s.cert,
        "GET",
        "/api/v1/policy",
        &[("Cookie", &b.cookies.join("; "))],
        None,
    )
    .await;
    assert_eq!(
        policy.json()["oidc"]["access_token_lifetime"],
        "2m",
        "{}",
        policy.body
    );
    assert_eq!(policy.json()["sessions"]["step_up"], "1h");
}

#[tokio::test]
async fn naming_a_calendar_assistant_asks_for_a_recent_second_factor() {
    let (s, nurse) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let (a, secret) = it_admin(&s).await;
    let mut b = Browser::new(TestServer::start_shared(&s));
    sign_in_with_code(&mut b, &a, &secret).await;
    let add = format!(r#"{{"address":"{nurse}"}}"#);
    let path = "/api/v1/me/calendar-sharing/delegates";
    assert_eq!(api(&b, "POST", path, Some(&add)).await.status, 204);
    for _ in 0..2 {
        s.clock.advance(Duration::from_secs(10 * 60));
        assert_eq!(api(&b, "GET", "/api/v1/me", None).await.status, 200);
    }
    let r = api(&b, "POST", path, Some(&add)).await;
    assert_eq!(r.json()["error"], "step_up_required", "{}", r.body);
    // The portal's form sends the person to confirm it is them first.
    b.get("/account/calendars").await;
    let r = b
        .post(
            "/account/calendars/delegate",
            &[("address", nurse.as_str()), ("action", "add")],
        )
        .await;
    assert!(
        r.header("location")
            .is_some_and(|l| l.starts_with("/account/confirm")),
        "{:?} {}",
        r.header("location"),
        r.body
    );
}
