//! Second factors, app passwords and web sessions, on every backend with an injected clock.

use crate::auth::{GOOD, GOOD2, WORKSTATION, ip, totp_code, unix};
use crate::support::{DAY, admin, on_each_backend};
use carepost_identity::{Protocol, Refusal, SecondFactor, SignIn};
use std::time::Duration;

#[tokio::test]
async fn totp_accepts_each_code_once_with_one_step_of_skew() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        let enrollment = env.dir.begin_totp(id).await.unwrap();
        assert!(
            enrollment.otpauth_url.starts_with("otpauth://totp/"),
            "{}",
            enrollment.otpauth_url
        );
        let e = env.dir.confirm_totp(id, "000000").await.unwrap_err();
        assert!(e.to_string().contains("does not match"), "{e}");
        let code = totp_code(&enrollment.secret, unix(env));
        let codes = env.dir.confirm_totp(id, &code).await.unwrap().unwrap();
        assert_eq!(codes.len(), 10);
        // A password sign-in now needs the second step; mail clients need an app password.
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert_eq!(
            s.second_factor,
            SecondFactor::Required {
                totp: true,
                passkeys: 0,
                recovery_codes: 10
            }
        );
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION).await,
            Err(Refusal::AppPasswordRequired)
        );
        let attempt = SignIn {
            login: &a,
            secret: "",
            protocol: Protocol::Web,
            source: ip(WORKSTATION),
        };
        env.clock.advance(Duration::from_secs(60));
        let code = totp_code(&enrollment.secret, unix(env));
        assert!(
            env.dir
                .verify_second_factor(id, &code, &attempt)
                .await
                .unwrap()
        );
        assert!(
            !env.dir
                .verify_second_factor(id, &code, &attempt)
                .await
                .unwrap(),
            "replay"
        );
        env.clock.advance(Duration::from_secs(60));
        let late = totp_code(&enrollment.secret, unix(env) - 30);
        assert!(
            env.dir
                .verify_second_factor(id, &late, &attempt)
                .await
                .unwrap(),
            "one step behind"
        );
        let stale = totp_code(&enrollment.secret, unix(env) - 90);
        assert!(
            !env.dir
                .verify_second_factor(id, &stale, &attempt)
                .await
                .unwrap(),
            "three steps behind"
        );
    })
    .await;
}

#[tokio::test]
async fn recovery_codes_work_once_each_and_are_counted() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        // Without a second factor there are no recovery codes to make.
        let e = env.dir.regenerate_recovery_codes(id).await.unwrap_err();
        assert!(e.to_string().contains("come with a second factor"), "{e}");
        let enrollment = env.dir.begin_totp(id).await.unwrap();
        let code = totp_code(&enrollment.secret, unix(env));
        let codes = env.dir.confirm_totp(id, &code).await.unwrap().unwrap();
        assert_eq!(codes.len(), 10);
        let attempt = SignIn {
            login: &a,
            secret: "",
            protocol: Protocol::Web,
            source: ip(WORKSTATION),
        };
        assert!(
            env.dir
                .verify_second_factor(id, &codes[3].to_uppercase(), &attempt)
                .await
                .unwrap()
        );
        assert!(
            !env.dir
                .verify_second_factor(id, &codes[3], &attempt)
                .await
                .unwrap(),
            "single use"
        );
        let m = env.dir.mfa_summary(&admin(), &a).await.unwrap();
        assert_eq!(m.recovery_codes_left, 9);
        let again = env.dir.regenerate_recovery_codes(id).await.unwrap();
        assert!(
            !env.dir
                .verify_second_factor(id, &codes[4], &attempt)
                .await
                .unwrap(),
            "old codes are gone"
        );
        assert!(
            env.dir
                .verify_second_factor(id, &again[0], &attempt)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn app_passwords_sign_mail_clients_in_within_their_scope() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        let (ap_id, secret) = env
            .dir
            .create_app_password(id, "iPhone Mail", &[Protocol::Imap], None)
            .await
            .unwrap();
        let s = env
            .sign_in_ok(&a, &secret, Protocol::Imap, "172.16.0.5")
            .await;
        assert_eq!(
            s.credential,
            carepost_identity::Credential::AppPassword(ap_id)
        );
        assert_eq!(
            env.try_sign_in(&a, &secret, Protocol::Smtp, WORKSTATION)
                .await,
            Err(Refusal::Invalid),
            "out of scope"
        );
        assert_eq!(
            env.try_sign_in(&a, &secret, Protocol::Web, WORKSTATION)
                .await,
            Err(Refusal::Invalid),
            "never for the web"
        );
        let listed = env.dir.list_app_passwords(id).await.unwrap();
        assert_eq!(listed[0].last_used_source.as_deref(), Some("172.16.0.5"));
        env.dir.revoke_app_passwords(id, Some(ap_id)).await.unwrap();
        assert_eq!(
            env.try_sign_in(&a, &secret, Protocol::Imap, WORKSTATION)
                .await,
            Err(Refusal::Invalid)
        );
        let soon = {
            use carepost_types::Clock;
            env.clock.now().plus(DAY)
        };
        let (_, short_lived) = env
            .dir
            .create_app_password(id, "laptop", &[Protocol::Smtp], Some(soon))
            .await
            .unwrap();
        assert!(
            env.try_sign_in(&a, &short_lived, Protocol::Smtp, WORKSTATION)
                .await
                .is_ok()
        );
        env.clock.advance(2 * DAY);
        assert_eq!(
            env.try_sign_in(&a, &short_lived, Protocol::Smtp, WORKSTATION)
                .await,
            Err(Refusal::Invalid),
            "expired"
        );
        let e = env
            .dir
            .create_app_password(id, "x", &[Protocol::Web], None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("imap, smtp and caldav"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn clinicians_must_enroll_mfa_within_the_grace_period() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let a = env.create("Cy", None, "Ray", "C1").await;
        env.dir.set_password(&admin(), &a, GOOD).await.unwrap();
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert!(
            matches!(
                s.second_factor,
                SecondFactor::EnrollmentRequired { overdue: false, .. }
            ),
            "{:?}",
            s.second_factor
        );
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION)
                .await
                .is_ok(),
            "mail works during the grace"
        );
        env.clock.advance(8 * DAY);
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert!(matches!(
            s.second_factor,
            SecondFactor::EnrollmentRequired { overdue: true, .. }
        ));
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION).await,
            Err(Refusal::AppPasswordRequired)
        );
        let e = env.dir.mfa_reset(&admin(), &a, "").await.unwrap_err();
        assert!(e.to_string().contains("needs a reason"), "{e}");
        env.dir
            .mfa_reset(&admin(), &a, "ticket 4711, verified by badge")
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_first_second_factor_revokes_the_app_passwords_made_before_it() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        // Made by a session that had only the password (the owner's, or a thief's).
        let (_, before) = env
            .dir
            .create_app_password(id, "Phone", &[Protocol::Imap], None)
            .await
            .unwrap();
        assert!(
            env.try_sign_in(&a, &before, Protocol::Imap, WORKSTATION)
                .await
                .is_ok()
        );
        let enrollment = env.dir.begin_totp(id).await.unwrap();
        let code = totp_code(&enrollment.secret, unix(env));
        env.dir.confirm_totp(id, &code).await.unwrap();
        assert_eq!(
            env.try_sign_in(&a, &before, Protocol::Imap, WORKSTATION)
                .await,
            Err(Refusal::Invalid)
        );
        // One made after it works, and a second factor later revokes nothing.
        let (_, after) = env
            .dir
            .create_app_password(id, "Phone", &[Protocol::Imap], None)
            .await
            .unwrap();
        assert!(
            env.try_sign_in(&a, &after, Protocol::Imap, WORKSTATION)
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn the_grace_starts_when_the_policy_first_applies_and_is_given_once() {
    use carepost_types::Clock;
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let a = env.create("Cy", None, "Ray", "C1").await;
        env.dir.set_password(&admin(), &a, GOOD).await.unwrap();
        // An account made long before its first sign-in still gets the whole grace.
        env.clock.advance(30 * DAY);
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        let SecondFactor::EnrollmentRequired {
            grace_until,
            overdue: false,
        } = s.second_factor
        else {
            panic!("{:?}", s.second_factor)
        };
        assert_eq!(grace_until, env.clock.now().plus(7 * DAY));
        // Enrolling, then removing the factor, does not buy a new grace.
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        let enrollment = env.dir.begin_totp(id).await.unwrap();
        let code = totp_code(&enrollment.secret, unix(env));
        env.dir.confirm_totp(id, &code).await.unwrap();
        env.clock.advance(8 * DAY);
        env.dir
            .mfa_reset(&admin(), &a, "ticket 12, phone lost, verified in person")
            .await
            .unwrap();
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert!(
            matches!(
                s.second_factor,
                SecondFactor::EnrollmentRequired { overdue: true, .. }
            ),
            "{:?}",
            s.second_factor
        );
    })
    .await;
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_absolute_limit_or_when_revoked() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        let (token, session) = env
            .dir
            .start_session(&s, &["pwd"], "Firefox on ward PC", ip(WORKSTATION))
            .await
            .unwrap();
        assert_eq!(session.amr, ["pwd"]);
        // Active use keeps it alive past the idle timeout...
        for _ in 0..6 {
            env.clock.advance(Duration::from_secs(10 * 60));
            assert!(env.dir.resume_session(&token).await.unwrap().is_some());
        }
        // ...but 15 idle minutes end it.
        env.clock.advance(Duration::from_secs(15 * 60));
        assert!(env.dir.resume_session(&token).await.unwrap().is_none());
        // The absolute limit ends even a busy session.
        let (token, _) = env
            .dir
            .start_session(&s, &["pwd"], "tablet", None)
            .await
            .unwrap();
        for _ in 0..(12 * 6) {
            env.clock.advance(Duration::from_secs(10 * 60));
            env.dir.resume_session(&token).await.unwrap();
        }
        assert!(
            env.dir.resume_session(&token).await.unwrap().is_none(),
            "12 hours at most"
        );
        let (token, _) = env
            .dir
            .start_session(&s, &["pwd"], "phone", None)
            .await
            .unwrap();
        assert_eq!(env.dir.list_sessions(s.account).await.unwrap().len(), 1);
        env.dir.end_all_sessions(&admin(), &a).await.unwrap();
        assert!(env.dir.resume_session(&token).await.unwrap().is_none());
        assert!(
            env.dir
                .resume_session("forged-token")
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn a_new_password_ends_other_sessions_and_revokes_app_passwords() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        env.clock.advance(2 * DAY);
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        let (this, this_session) = env
            .dir
            .start_session(&s, &["pwd"], "here", None)
            .await
            .unwrap();
        let (other, _) = env
            .dir
            .start_session(&s, &["pwd"], "elsewhere", None)
            .await
            .unwrap();
        let (_, app) = env
            .dir
            .create_app_password(s.account, "phone", &[Protocol::Imap], None)
            .await
            .unwrap();
        env.dir
            .change_own_password(s.account, GOOD, GOOD2, None, Some(this_session.id))
            .await
            .unwrap();
        assert!(env.dir.resume_session(&this).await.unwrap().is_some());
        assert!(env.dir.resume_session(&other).await.unwrap().is_none());
        assert_eq!(
            env.try_sign_in(&a, &app, Protocol::Imap, WORKSTATION).await,
            Err(Refusal::Invalid)
        );
        // Leaving ends everything.
        let (_, app) = env
            .dir
            .create_app_password(s.account, "phone", &[Protocol::Imap], None)
            .await
            .unwrap();
        env.dir
            .set_status(
                &admin(),
                &a,
                carepost_identity::AccountStatus::Deprovisioned,
            )
            .await
            .unwrap();
        assert!(env.dir.resume_session(&this).await.unwrap().is_none());
        env.dir
            .set_status(&admin(), &a, carepost_identity::AccountStatus::Active)
            .await
            .unwrap();
        assert_eq!(
            env.try_sign_in(&a, &app, Protocol::Imap, WORKSTATION).await,
            Err(Refusal::Invalid)
        );
    })
    .await;
}

#[tokio::test]
async fn a_stolen_password_cannot_be_used_to_guess_the_second_factor_forever() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        let enrollment = env.dir.begin_totp(id).await.unwrap();
        let code = totp_code(&enrollment.secret, unix(env));
        env.dir.confirm_totp(id, &code).await.unwrap();
        let e = env.dir.begin_totp(id).await.unwrap_err();
        assert!(
            e.to_string().contains("already enrolled"),
            "re-enrolling would switch MFA off: {e}"
        );
        let thief = "203.0.113.77";
        let attempt = SignIn {
            login: &a,
            secret: "",
            protocol: Protocol::Web,
            source: ip(thief),
        };
        for round in 0..3 {
            // The right password again and again does not reset the count of wrong codes.
            let s = env.sign_in_ok(&a, GOOD, Protocol::Web, thief).await;
            assert!(!s.complete, "round {round}: a second factor is still due");
            for guess in ["111111", "222222"] {
                assert!(
                    !env.dir
                        .verify_second_factor(id, guess, &attempt)
                        .await
                        .unwrap()
                );
            }
        }
        // Five wrong codes locked the account for that kind of source: even the right code fails.
        env.clock.advance(Duration::from_secs(60));
        let right = totp_code(&enrollment.secret, unix(env));
        assert!(
            !env.dir
                .verify_second_factor(id, &right, &attempt)
                .await
                .unwrap()
        );
        // From the ward, the owner is not locked out.
        let ward = SignIn {
            login: &a,
            secret: "",
            protocol: Protocol::Web,
            source: ip(WORKSTATION),
        };
        assert!(
            env.dir
                .verify_second_factor(id, &right, &ward)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn a_session_that_owes_a_password_change_lives_one_idle_period_at_most() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let temporary = env.dir.reset_password(&admin(), &a).await.unwrap();
        let s = env
            .sign_in_ok(&a, &temporary, Protocol::Web, WORKSTATION)
            .await;
        assert!(s.must_change_password);
        let (token, _) = env
            .dir
            .start_session(&s, &["pwd"], "kiosk", None)
            .await
            .unwrap();
        for _ in 0..2 {
            env.clock.advance(Duration::from_secs(7 * 60));
            assert!(env.dir.resume_session(&token).await.unwrap().is_some());
        }
        env.clock.advance(Duration::from_secs(2 * 60));
        assert!(
            env.dir.resume_session(&token).await.unwrap().is_none(),
            "ended at 15 minutes despite activity"
        );
    })
    .await;
}
