//! Forgotten passwords and self-unlock through the API.

use super::*;

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
    let e = dir.begin_totp(id).await.unwrap();
    let now = (c.s.clock.now().0 / 1000) as u64;
    let codes = dir
        .confirm_totp(id, &totp_code(&e.secret, now))
        .await
        .unwrap()
        .unwrap();
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
    assert_eq!(r.status, 200, "{}", r.body);
    // Proven, the person learns of the lock and of the code spent.
    let told = r.json();
    assert_eq!(told["password_changed"], true);
    assert_eq!(told["failed_sign_ins"], 5, "{told}");
    assert!(told["was_locked_until"].is_string(), "{told}");
    assert_eq!(told["recovery_codes_left"], 9);
    let notices = told["notices"].to_string();
    assert!(notices.contains("was locked until"), "{notices}");
    assert!(
        notices.contains("You used a recovery code: 9 left"),
        "{notices}"
    );
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
        200
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
    let warned = r.json()["notices"].to_string();
    assert!(
        warned.contains("You used a recovery code: 9 left"),
        "{warned}"
    );
    let me = c.call("GET", "/api/v1/me", None).await.json();
    assert_eq!(me["session"]["amr"], serde_json::json!(["pwd", "mfa"]));
    assert_eq!(me["mfa"]["recovery_codes_left"], 9);
}
