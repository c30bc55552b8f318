//! Passkeys over the real HTTPS listener, answered by webauthn-authenticator-rs's software
//! passkey (a real CTAP2-style authenticator: P-256 keys, CBOR attestation, signed client
//! data), on every backend: registration, the second step of a sign-in, replay, a foreign
//! origin, several named keys, removal, and an administrator's reset.

use super::{Client, with_nurse_on};
use crate::auth::GOOD;
use crate::support::admin;
use carepost_identity::{CreationChallengeResponse, RequestChallengeResponse};
use serde_json::{Value, json};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::prelude::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

/// The origin a browser on the test server's portal would report. The test config's public
/// URL is `https://localhost`; in development any port of that host is accepted.
fn origin(c: &Client) -> Url {
    let port = c.s.running.https.unwrap().port();
    Url::parse(&format!("https://localhost:{port}")).unwrap()
}

async fn post(c: &mut Client, path: &str, body: Value) -> carepost_testkit::HttpResponse {
    c.call("POST", path, Some(&body.to_string())).await
}

async fn sign_in_with_password(c: &mut Client, a: &str) -> Value {
    let r = post(
        c,
        "/api/v1/auth/sign-in",
        json!({ "login": a, "password": GOOD }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Registers a passkey held by `key` under `name`; returns the API's answer.
async fn register(c: &mut Client, key: &mut SoftPasskey, name: &str) -> Value {
    let r = post(
        c,
        "/api/v1/me/passkeys/registration",
        json!({ "password": GOOD }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let challenge = r.json();
    let options: CreationChallengeResponse =
        serde_json::from_value(challenge["options"].clone()).unwrap();
    let credential = key.do_registration(origin(c), options).unwrap();
    let r = post(
        c,
        "/api/v1/me/passkeys",
        json!({ "ceremony": challenge["ceremony"], "name": name, "credential": credential }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()
}

/// The passkey step of a sign-in: the challenge, the authenticator's answer (from `from`),
/// and what the server said to it, with the answer for a replay.
async fn passkey_step(
    c: &mut Client,
    key: &mut SoftPasskey,
    from: &Url,
) -> (carepost_testkit::HttpResponse, Value) {
    let r = post(c, "/api/v1/auth/passkey-challenge", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let challenge = r.json();
    let options: RequestChallengeResponse =
        serde_json::from_value(challenge["options"].clone()).unwrap();
    let credential = key.do_authentication(from.clone(), options).unwrap();
    let answer =
        json!({ "passkey": { "ceremony": challenge["ceremony"], "credential": credential } });
    let r = post(c, "/api/v1/auth/second-factor", answer.clone()).await;
    (r, answer)
}

#[tokio::test]
async fn a_passkey_registers_then_signs_in_as_the_second_step_once_per_challenge() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (mut c, a) = with_nurse_on(db).await;
        assert_eq!(
            sign_in_with_password(&mut c, &a).await["status"],
            "signed_in"
        );
        let r = post(
            &mut c,
            "/api/v1/me/passkeys/registration",
            json!({ "password": "wrong" }),
        )
        .await;
        assert_eq!(r.status, 401, "the password is asked again: {}", r.body);
        // falsify_uv: the software key claims user verification, as a PIN-protected one does.
        let mut laptop = SoftPasskey::new(true);
        let done = register(&mut c, &mut laptop, "Work laptop").await;
        assert_eq!(done["passkey"]["name"], "Work laptop");
        assert_eq!(
            done["recovery_codes"].as_array().unwrap().len(),
            10,
            "the first factor comes with recovery codes"
        );
        let r = c.call("GET", "/api/v1/me/passkeys", None).await;
        assert_eq!(r.json()["passkeys"][0]["name"], "Work laptop", "{}", r.body);

        c.call("POST", "/api/v1/auth/sign-out", None).await;
        let first = sign_in_with_password(&mut c, &a).await;
        assert_eq!(first["status"], "second_factor_required");
        assert_eq!(first["factors"]["passkey"], true, "{first}");
        assert_eq!(
            c.call("GET", "/api/v1/me", None).await.status,
            401,
            "the password alone opens nothing"
        );
        let here = origin(&c);
        let (r, replay) = passkey_step(&mut c, &mut laptop, &here).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["status"], "signed_in");
        let me = c.call("GET", "/api/v1/me", None).await.json();
        assert_eq!(me["session"]["amr"], json!(["pwd", "pop", "mfa"]));
        assert!(me["mfa"]["passkeys"][0]["last_used_at"].is_string(), "{me}");

        // The same answer again, in a new sign-in: its challenge was taken by the first use.
        c.call("POST", "/api/v1/auth/sign-out", None).await;
        sign_in_with_password(&mut c, &a).await;
        let r = post(&mut c, "/api/v1/auth/second-factor", replay).await;
        assert_eq!(r.status, 401, "a replayed answer is refused: {}", r.body);
        assert_eq!(r.json()["error"], "invalid_code");

        // An answer made for another site (a phishing page relaying the challenge).
        let evil = Url::parse("https://carepost-login.example").unwrap();
        let r = post(&mut c, "/api/v1/auth/passkey-challenge", json!({})).await;
        let options: RequestChallengeResponse =
            serde_json::from_value(r.json()["options"].clone()).unwrap();
        assert!(
            laptop.do_authentication(evil, options).is_err(),
            "the authenticator itself refuses a foreign origin"
        );
        let (r, _) = passkey_step(&mut c, &mut laptop, &here).await;
        assert_eq!(r.status, 200, "{}", r.body);

        let audit =
            c.s.running
                .context
                .directory
                .audit_events(&admin(), &carepost_store::AuditFilter::default())
                .await
                .unwrap();
        let passkey_checks: Vec<_> = audit
            .iter()
            .filter(|e| e.action == "mfa.verify" && e.details.contains(r#""factor":"passkey""#))
            .map(|e| e.outcome.as_str())
            .collect();
        assert_eq!(passkey_checks, ["success", "failure", "success"]);
        assert!(audit.iter().any(|e| e.action == "mfa.passkey.register"));
    }
}

#[tokio::test]
async fn an_account_keeps_several_named_passkeys_and_removes_one_with_its_password() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (mut c, a) = with_nurse_on(db).await;
        sign_in_with_password(&mut c, &a).await;
        let mut laptop = SoftPasskey::new(true);
        let mut phone = SoftPasskey::new(true);
        register(&mut c, &mut laptop, "Work laptop").await;
        let second = register(&mut c, &mut phone, "  Phone  ").await;
        assert_eq!(second["passkey"]["name"], "Phone");
        assert!(
            second["recovery_codes"].is_null(),
            "codes are made once: {second}"
        );
        let id = second["passkey"]["id"].as_i64().unwrap();

        // The options list the account's credentials for the browser to exclude.
        let r = post(
            &mut c,
            "/api/v1/me/passkeys/registration",
            json!({ "password": GOOD }),
        )
        .await;
        let first = r.json();
        let excluded = &first["options"]["publicKey"]["excludeCredentials"];
        assert_eq!(excluded.as_array().unwrap().len(), 2, "{first}");
        // An answer made for one registration cannot complete another.
        let options: CreationChallengeResponse =
            serde_json::from_value(first["options"].clone()).unwrap();
        let answer = SoftPasskey::new(true)
            .do_registration(origin(&c), options)
            .unwrap();
        let r = post(
            &mut c,
            "/api/v1/me/passkeys/registration",
            json!({ "password": GOOD }),
        )
        .await;
        let other = r.json()["ceremony"].clone();
        let r = post(
            &mut c,
            "/api/v1/me/passkeys",
            json!({ "ceremony": other, "name": "Spare", "credential": answer }),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("could not be verified")
        );

        let path = format!("/api/v1/me/passkeys/{id}");
        let r = c
            .call("DELETE", &path, Some(r#"{"password":"wrong"}"#))
            .await;
        assert_eq!(r.status, 401, "{}", r.body);
        let body = json!({ "password": GOOD }).to_string();
        assert_eq!(c.call("DELETE", &path, Some(&body)).await.status, 204);
        assert_eq!(c.call("DELETE", &path, Some(&body)).await.status, 404);
        let r = c.call("GET", "/api/v1/me/passkeys", None).await.json();
        assert_eq!(r["passkeys"].as_array().unwrap().len(), 1, "{r}");

        // The removed key no longer signs in; the other one does.
        c.call("POST", "/api/v1/auth/sign-out", None).await;
        sign_in_with_password(&mut c, &a).await;
        let here = origin(&c);
        let r = post(&mut c, "/api/v1/auth/passkey-challenge", json!({})).await;
        let options: RequestChallengeResponse =
            serde_json::from_value(r.json()["options"].clone()).unwrap();
        assert!(phone.do_authentication(here.clone(), options).is_err());
        let (r, _) = passkey_step(&mut c, &mut laptop, &here).await;
        assert_eq!(r.status, 200, "{}", r.body);

        // An administrator's reset (a lost device) removes the passkeys too.
        let dir = &c.s.running.context.directory;
        let summary = dir.mfa_summary(&admin(), &a).await.unwrap();
        assert_eq!(summary.passkeys.len(), 1);
        dir.mfa_reset(&admin(), &a, "ticket 88, verified in person")
            .await
            .unwrap();
        assert!(
            dir.mfa_summary(&admin(), &a)
                .await
                .unwrap()
                .passkeys
                .is_empty()
        );
        c.call("POST", "/api/v1/auth/sign-out", None).await;
        assert_eq!(
            sign_in_with_password(&mut c, &a).await["status"],
            "signed_in"
        );
    }
}

#[tokio::test]
async fn a_forged_passkey_answer_counts_toward_the_lockout() {
    let (mut c, a) = with_nurse_on(carepost_testkit::TestDb::sqlite()).await;
    sign_in_with_password(&mut c, &a).await;
    let mut laptop = SoftPasskey::new(true);
    register(&mut c, &mut laptop, "Work laptop").await;
    c.call("POST", "/api/v1/auth/sign-out", None).await;
    sign_in_with_password(&mut c, &a).await;
    let here = origin(&c);
    let r = post(
        &mut c,
        "/api/v1/me/passkeys/registration",
        json!({ "password": GOOD }),
    )
    .await;
    assert_eq!(r.status, 401, "the half-signed-in browser has no session");
    // A genuine answer to one challenge, presented against five later ones: each signature
    // covers the wrong challenge. Five failures lock the account.
    let r = post(&mut c, "/api/v1/auth/passkey-challenge", json!({})).await;
    let options: RequestChallengeResponse =
        serde_json::from_value(r.json()["options"].clone()).unwrap();
    let stale = laptop.do_authentication(here.clone(), options).unwrap();
    for _ in 0..5 {
        let r = post(&mut c, "/api/v1/auth/passkey-challenge", json!({})).await;
        let answer =
            json!({ "passkey": { "ceremony": r.json()["ceremony"], "credential": stale } });
        let r = post(&mut c, "/api/v1/auth/second-factor", answer).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // Locked: no challenge is given, even to the right key's holder.
    let r = post(&mut c, "/api/v1/auth/passkey-challenge", json!({})).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["error"], "no_passkey");
}

#[tokio::test]
async fn second_factors_change_only_from_a_session_opened_with_one() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (mut c, a) = with_nurse_on(db).await;
        sign_in_with_password(&mut c, &a).await;
        // A second browser signed in with the password alone (a thief with the password).
        let mut thief = Client {
            s: carepost_testkit::TestServer::start_shared(&c.s),
            cookies: Vec::new(),
        };
        sign_in_with_password(&mut thief, &a).await;
        let mut laptop = SoftPasskey::new(true);
        let done = register(&mut c, &mut laptop, "Work laptop").await;
        let id = done["passkey"]["id"].as_i64().unwrap();
        // Registering the key proved it in the owner's session; every other session, opened
        // without it, ended.
        let r = post(
            &mut thief,
            "/api/v1/me/passkeys/registration",
            json!({ "password": GOOD }),
        )
        .await;
        assert_eq!(r.status, 401, "{}", r.body);
        let body = json!({ "password": GOOD }).to_string();
        let path = format!("/api/v1/me/passkeys/{id}");
        // A session without a recent proof of the factor may not change factors either.
        let dir = &c.s.running.context.directory;
        let account = dir.find_account(&admin(), &a).await.unwrap().id;
        let now = {
            use carepost_types::Clock;
            c.s.clock.now()
        };
        let session = |factor_at| carepost_identity::Session {
            id: 0,
            account,
            address: a.clone(),
            amr: vec!["pwd".to_string(), "mfa".to_string()],
            started_at: now,
            factor_at,
        };
        let e = dir.may_change_factors(&session(None)).await.unwrap_err();
        assert!(e.to_string().contains("needs a recent proof"), "{e}");
        assert!(dir.may_change_factors(&session(Some(now))).await.is_ok());
        let mut phone = SoftPasskey::new(true);
        register(&mut c, &mut phone, "Phone").await;
        assert_eq!(c.call("DELETE", &path, Some(&body)).await.status, 204);
    }
}

#[tokio::test]
async fn a_required_account_keeps_its_last_factor_and_a_temporary_password_enrolls_nothing() {
    let (mut c, a) = with_nurse_on(carepost_testkit::TestDb::sqlite()).await;
    let dir = c.s.running.context.directory.clone();
    let doc = dir
        .create_account(
            &admin(),
            &crate::support::new_account("Dee", None, "Doc", "D1", "Cardiology"),
        )
        .await
        .unwrap()
        .address;
    dir.set_password(&admin(), &doc, GOOD).await.unwrap();
    sign_in_with_password(&mut c, &doc).await;
    let mut laptop = SoftPasskey::new(true);
    let id = register(&mut c, &mut laptop, "Work laptop").await["passkey"]["id"]
        .as_i64()
        .unwrap();
    let body = json!({ "password": GOOD }).to_string();
    let r = c
        .call("DELETE", &format!("/api/v1/me/passkeys/{id}"), Some(&body))
        .await;
    assert_eq!(
        r.status, 409,
        "a clinician keeps a second factor: {}",
        r.body
    );

    // Whoever holds a temporary password must change it before choosing a second factor.
    let temporary = dir.reset_password(&admin(), &a).await.unwrap();
    let mut fresh = Client {
        s: carepost_testkit::TestServer::start_shared(&c.s),
        cookies: Vec::new(),
    };
    let r = post(
        &mut fresh,
        "/api/v1/auth/sign-in",
        json!({ "login": a, "password": temporary }),
    )
    .await;
    assert_eq!(r.json()["must_change_password"], true, "{}", r.body);
    let r = post(
        &mut fresh,
        "/api/v1/me/passkeys/registration",
        json!({ "password": temporary }),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.json()["error"], "password_change_required");
}

#[tokio::test]
async fn a_counter_behind_the_stored_one_is_refused_as_a_cloned_key() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (mut c, a) = with_nurse_on(db).await;
        sign_in_with_password(&mut c, &a).await;
        let mut laptop = SoftPasskey::new(true);
        register(&mut c, &mut laptop, "Work laptop").await;
        c.call("POST", "/api/v1/auth/sign-out", None).await;
        sign_in_with_password(&mut c, &a).await;
        let here = origin(&c);
        let (r, _) = passkey_step(&mut c, &mut laptop, &here).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // A copy of the key was used elsewhere and moved the stored counter far ahead.
        let pool = sqlx::AnyPool::connect(&c.s.db.url).await.unwrap();
        sqlx::query("UPDATE passkeys SET sign_count = 1000")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        c.call("POST", "/api/v1/auth/sign-out", None).await;
        sign_in_with_password(&mut c, &a).await;
        let (r, _) = passkey_step(&mut c, &mut laptop, &here).await;
        assert_eq!(r.status, 401, "{}", r.body);
        let audit =
            c.s.running
                .context
                .directory
                .audit_events(&admin(), &carepost_store::AuditFilter::default())
                .await
                .unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.action == "mfa.verify" && e.details.contains("possible cloned key")),
            "the refusal says why in the audit trail"
        );
    }
}

#[tokio::test]
async fn codes_made_before_the_first_factor_never_work() {
    let (mut c, a) = with_nurse_on(carepost_testkit::TestDb::sqlite()).await;
    sign_in_with_password(&mut c, &a).await;
    // A thief with the password asks for recovery codes before the owner has a factor.
    let r = post(
        &mut c,
        "/api/v1/me/recovery-codes",
        json!({ "password": GOOD }),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // The owner's first factor comes with fresh codes in any case.
    let mut laptop = SoftPasskey::new(true);
    let done = register(&mut c, &mut laptop, "Work laptop").await;
    assert_eq!(done["recovery_codes"].as_array().unwrap().len(), 10);
}

/// The step-up with a passkey: after a while, a factor change asks for a fresh proof, which the
/// passkey gives through `/me/step-up`.
#[tokio::test]
async fn a_passkey_confirms_it_is_you_again_for_the_step_up() {
    let (mut c, a) = with_nurse_on(carepost_testkit::TestDb::sqlite()).await;
    sign_in_with_password(&mut c, &a).await;
    let mut key = SoftPasskey::new(true);
    register(&mut c, &mut key, "Laptop").await;
    for _ in 0..2 {
        c.s.clock.advance(std::time::Duration::from_secs(10 * 60));
        assert_eq!(c.call("GET", "/api/v1/me", None).await.status, 200);
    }
    let r = post(
        &mut c,
        "/api/v1/me/recovery-codes",
        json!({ "password": GOOD }),
    )
    .await;
    assert_eq!(r.json()["error"], "step_up_required", "{}", r.body);
    let r = post(&mut c, "/api/v1/me/step-up/passkey-challenge", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let challenge = r.json();
    let options: RequestChallengeResponse =
        serde_json::from_value(challenge["options"].clone()).unwrap();
    let credential = key.do_authentication(origin(&c), options).unwrap();
    let answer =
        json!({ "passkey": { "ceremony": challenge["ceremony"], "credential": credential } });
    let r = post(&mut c, "/api/v1/me/step-up", answer.clone()).await;
    assert_eq!(r.status, 204, "{}", r.body);
    // The same answer again is a replay.
    assert_eq!(post(&mut c, "/api/v1/me/step-up", answer).await.status, 401);
    let r = post(
        &mut c,
        "/api/v1/me/recovery-codes",
        json!({ "password": GOOD }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}
