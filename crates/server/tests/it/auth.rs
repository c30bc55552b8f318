//! Authentication on every backend, with an injected clock: password policy, history and ages,
//! expiry, lockout and its backoff, smart lockout under a spray, TOTP, recovery codes, app
//! passwords and the MFA policy.

use crate::support::{DAY, Env, admin, on_each_backend};
use carepost_identity::{IdentityError, Protocol, Refusal, SignIn, SignInResult, SignedIn};
use carepost_store::AuditFilter;
use std::net::IpAddr;
use std::time::Duration;

pub(crate) const GOOD: &str = "glacier violin tundra 57 orbit";
pub(crate) const GOOD2: &str = "harbor cactus meteor 93 quilt";
const GOOD3: &str = "velvet lantern oyster 18 prism";
const GOOD4: &str = "copper walrus fjord 64 ember";
pub(crate) const WORKSTATION: &str = "10.20.30.40";

pub(crate) fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

impl Env {
    /// A nurse (no MFA required by default) with a password, signed in once from the ward.
    pub(crate) async fn nurse(&self) -> String {
        self.department("Cardiology", None).await;
        let mut new = crate::support::new_account("Ann", None, "Lee", "E1", "Cardiology");
        new.category = "nurse".into();
        let a = self
            .dir
            .create_account(&admin(), &new)
            .await
            .unwrap()
            .address;
        self.dir.set_password(&admin(), &a, GOOD).await.unwrap();
        assert!(
            self.try_sign_in(&a, GOOD, Protocol::Web, WORKSTATION)
                .await
                .is_ok()
        );
        a
    }

    pub(crate) async fn try_sign_in(
        &self,
        login: &str,
        secret: &str,
        p: Protocol,
        from: &str,
    ) -> SignInResult {
        let attempt = SignIn {
            login,
            secret,
            protocol: p,
            source: ip(from),
        };
        self.dir.sign_in(&attempt).await.unwrap()
    }

    pub(crate) async fn sign_in_ok(
        &self,
        login: &str,
        secret: &str,
        p: Protocol,
        from: &str,
    ) -> SignedIn {
        self.try_sign_in(login, secret, p, from).await.unwrap()
    }
}

#[tokio::test]
async fn passwords_are_checked_against_the_policy_with_reasons() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        for (pw, rule) in [
            ("short", "shorter than 12"),
            ("ann.lee glacier violin", "contains your"),
            ("password1234", "common and breached"),
            ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ] {
            let e = env.dir.set_password(&admin(), &a, pw).await.unwrap_err();
            assert!(matches!(e, IdentityError::PasswordRejected(_)), "{e}");
            assert!(e.to_string().contains(rule), "{pw}: {e}");
        }
    })
    .await;
}

#[tokio::test]
async fn history_and_minimum_age_stop_cycling_back_to_an_old_password() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        // The administrator's password is left at once; the owner's own choice then keeps
        // the minimum age.
        env.dir
            .change_own_password(id, GOOD, GOOD3, None, None)
            .await
            .unwrap();
        let e = env
            .dir
            .change_own_password(id, GOOD3, GOOD2, None, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("changed too recently"), "{e}");
        env.clock.advance(DAY);
        env.dir
            .change_own_password(id, GOOD3, GOOD2, None, None)
            .await
            .unwrap();
        env.clock.advance(DAY);
        let e = env
            .dir
            .change_own_password(id, GOOD2, GOOD, None, None)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("one of your last 12 passwords"),
            "{e}"
        );
        let e = env
            .dir
            .change_own_password(id, "wrong", GOOD4, None, None)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("current password is not right"),
            "{e}"
        );
        env.dir
            .change_own_password(id, GOOD2, GOOD4, None, None)
            .await
            .unwrap();
        assert!(
            env.try_sign_in(&a, GOOD4, Protocol::Imap, WORKSTATION)
                .await
                .is_ok()
        );
        assert_eq!(
            env.try_sign_in(&a, GOOD2, Protocol::Imap, WORKSTATION)
                .await,
            Err(Refusal::Invalid)
        );
    })
    .await;
}

#[tokio::test]
async fn an_expiring_password_warns_then_must_be_changed() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        env.clock.advance(350 * DAY);
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert!(!s.password_expires_soon && !s.must_change_password);
        env.clock.advance(2 * DAY);
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert!(s.password_expires_soon, "within 14 days of expiry");
        env.clock.advance(14 * DAY);
        let s = env.sign_in_ok(&a, GOOD, Protocol::Web, WORKSTATION).await;
        assert!(s.must_change_password, "the portal forces a change");
        let r = env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION).await;
        assert_eq!(r, Err(Refusal::PasswordExpired));
        assert!(Refusal::PasswordExpired.message().contains("portal"));
        // A wrong password to an expired account says nothing of the expiry.
        let r = env
            .try_sign_in(&a, "not it at all 9", Protocol::Imap, WORKSTATION)
            .await;
        assert_eq!(r, Err(Refusal::Invalid));
    })
    .await;
}

#[tokio::test]
async fn a_temporary_password_stops_working_after_its_lifetime() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let temporary = env.dir.reset_password(&admin(), &a).await.unwrap();
        env.clock.advance(2 * DAY);
        let s = env
            .sign_in_ok(&a, &temporary, Protocol::Web, WORKSTATION)
            .await;
        assert!(s.must_change_password);
        env.clock.advance(DAY);
        for protocol in [Protocol::Web, Protocol::Imap, Protocol::Smtp] {
            let r = env.try_sign_in(&a, &temporary, protocol, WORKSTATION).await;
            assert_eq!(r, Err(Refusal::TemporaryPasswordExpired), "{protocol:?}");
        }
        assert!(
            Refusal::TemporaryPasswordExpired
                .message()
                .contains("helpdesk")
        );
        // Said only to someone who knows it: a wrong password gets the usual answer.
        let r = env
            .try_sign_in(&a, "not it at all 9", Protocol::Web, WORKSTATION)
            .await;
        assert_eq!(r, Err(Refusal::Invalid));
        // A new reset gives a new lifetime.
        let again = env.dir.reset_password(&admin(), &a).await.unwrap();
        assert!(
            env.try_sign_in(&a, &again, Protocol::Web, WORKSTATION)
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn a_reset_gives_a_temporary_password_that_must_be_changed() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let temporary = env.dir.reset_password(&admin(), &a).await.unwrap();
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Web, WORKSTATION).await,
            Err(Refusal::Invalid)
        );
        let s = env
            .sign_in_ok(&a, &temporary, Protocol::Web, WORKSTATION)
            .await;
        assert!(s.must_change_password);
        let r = env
            .try_sign_in(&a, &temporary, Protocol::Smtp, WORKSTATION)
            .await;
        assert_eq!(r, Err(Refusal::PasswordExpired));
        // The minimum age does not hold back replacing a temporary password.
        env.dir
            .change_own_password(s.account, &temporary, GOOD2, None, None)
            .await
            .unwrap();
        assert!(
            env.try_sign_in(&a, GOOD2, Protocol::Smtp, WORKSTATION)
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn five_failures_lock_then_locks_double_and_success_resets() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let attacker = "203.0.113.9";
        for _ in 0..5 {
            assert_eq!(
                env.try_sign_in(&a, "guess", Protocol::Imap, attacker).await,
                Err(Refusal::Invalid)
            );
        }
        // Locked: even the right password gets the same answer as a wrong one.
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, attacker).await,
            Err(Refusal::Invalid)
        );
        env.clock.advance(Duration::from_secs(15 * 60 + 1));
        for _ in 0..5 {
            env.try_sign_in(&a, "guess", Protocol::Web, attacker)
                .await
                .unwrap_err();
        }
        env.clock.advance(Duration::from_secs(16 * 60));
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, attacker).await,
            Err(Refusal::Invalid),
            "the second lock lasts 30 minutes"
        );
        env.clock.advance(Duration::from_secs(15 * 60));
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, attacker)
                .await
                .is_ok()
        );
        let locks = env
            .dir
            .audit_events(
                &admin(),
                &AuditFilter {
                    target: Some(a.clone()),
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "account.lock")
            .count();
        assert_eq!(locks, 2);
    })
    .await;
}

#[tokio::test]
async fn a_spray_from_fifty_addresses_locks_the_attacker_out_not_the_clinician() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        for i in 0..50 {
            let from = format!("198.51.{i}.7");
            for _ in 0..3 {
                env.try_sign_in(&a, "Winter2026!", Protocol::Imap, &from)
                    .await
                    .unwrap_err();
            }
        }
        let state = env.dir.lock_state(&admin(), &a).await.unwrap();
        assert!(
            state
                .iter()
                .any(|(k, until, _)| k == "unfamiliar" && until.is_some()),
            "{state:?}"
        );
        // From the ward, the clinician still signs in; from anywhere new, nobody does.
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION)
                .await
                .is_ok()
        );
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, "10.20.30.99")
                .await
                .is_ok(),
            "same /24"
        );
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, "192.0.2.1").await,
            Err(Refusal::Invalid)
        );
        env.dir.unlock(&admin(), &a).await.unwrap();
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, "192.0.2.1")
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn one_source_trying_many_accounts_is_slowed_down_but_not_the_ward() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let attacker = "203.0.113.50";
        for i in 0..20 {
            let login = format!("someone{i}@kaiser.org");
            assert_eq!(
                env.try_sign_in(&login, "guess", Protocol::Smtp, attacker)
                    .await,
                Err(Refusal::Invalid)
            );
        }
        // Now even a right password from that network is refused for accounts that do not
        // know it, with a plain word that the network is paused (the same for every login)...
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Smtp, attacker).await,
            Err(Refusal::SourcePaused { minutes: 15 })
        );
        assert_eq!(
            env.try_sign_in("nobody@kaiser.org", "x", Protocol::Smtp, attacker)
                .await,
            Err(Refusal::SourcePaused { minutes: 15 })
        );
        // ...while the account's own network is unaffected, and the window ends.
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Smtp, WORKSTATION)
                .await
                .is_ok()
        );
        env.clock.advance(Duration::from_secs(16 * 60));
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Smtp, attacker)
                .await
                .is_ok()
        );
        let unknown = env
            .dir
            .audit_events(
                &admin(),
                &AuditFilter {
                    target: Some("login:someone3@kaiser.org".into()),
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].outcome, "failure");
    })
    .await;
}

pub(crate) fn totp_code(secret: &str, unix: u64) -> String {
    let seed = totp_rs::Secret::try_from_base32(secret).unwrap();
    let totp = totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(seed)
        .with_account_name("x")
        .build()
        .unwrap();
    totp.generate(unix).to_string()
}

pub(crate) fn unix(env: &Env) -> u64 {
    use carepost_types::Clock;
    (env.clock.now().0 / 1000) as u64
}

#[tokio::test]
async fn unknown_disabled_and_wrong_all_get_the_same_answer() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let unknown = env
            .try_sign_in("nobody@kaiser.org", GOOD, Protocol::Imap, WORKSTATION)
            .await;
        let garbage = env
            .try_sign_in("not an address", GOOD, Protocol::Imap, WORKSTATION)
            .await;
        let wrong = env
            .try_sign_in(&a, "nope", Protocol::Imap, WORKSTATION)
            .await;
        env.dir
            .set_status(&admin(), &a, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap();
        let disabled = env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION).await;
        for r in [unknown, garbage, wrong, disabled] {
            assert_eq!(r, Err(Refusal::Invalid));
        }
        assert!(env.dir.verify_audit(&admin()).await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn sasl_plain_from_a_mail_client_reaches_the_same_authentication_service() {
    use base64::Engine;
    use carepost_proto_sasl::{Credentials, Exchange, Mechanism, Step};
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let initial = base64::engine::general_purpose::STANDARD.encode(format!("\0{a}\0{GOOD}"));
        let (_, step) = Exchange::start(Mechanism::Plain, Some(&initial));
        let Step::Done(credentials) = step else {
            panic!("{step:?}")
        };
        let login = credentials.login().unwrap().to_string();
        let Credentials::Password { password, .. } = credentials else {
            unreachable!()
        };
        let attempt = SignIn {
            login: &login,
            secret: &password,
            protocol: Protocol::Imap,
            source: ip(WORKSTATION),
        };
        assert!(env.dir.sign_in(&attempt).await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn guessing_the_current_password_on_a_signed_in_workstation_counts_toward_lockout() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        env.clock.advance(2 * DAY);
        for _ in 0..5 {
            env.dir
                .change_own_password(id, "guess", GOOD2, ip(WORKSTATION), None)
                .await
                .unwrap_err();
        }
        assert_eq!(
            env.try_sign_in(&a, GOOD, Protocol::Web, WORKSTATION).await,
            Err(Refusal::Invalid),
            "locked"
        );
    })
    .await;
}

#[tokio::test]
async fn passwords_compare_after_unicode_normalization_and_stay_out_of_the_trail() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        // "é" typed as one code point on one keyboard and as e + combining accent on another.
        let composed = "caf\u{e9} violin tundra 57 orbit";
        let decomposed = "cafe\u{301} violin tundra 57 orbit";
        env.dir
            .set_password(&admin(), &a, decomposed)
            .await
            .unwrap();
        assert!(
            env.try_sign_in(&a, composed, Protocol::Imap, WORKSTATION)
                .await
                .is_ok()
        );
        // A password typed into the login field is not written to the audit trail.
        env.try_sign_in("hunter2 secret!", "x", Protocol::Imap, WORKSTATION)
            .await
            .unwrap_err();
        let events = env
            .dir
            .audit_events(&admin(), &AuditFilter::default())
            .await
            .unwrap();
        assert!(events.iter().all(|e| !e.target.contains("hunter2")));
        assert!(events.iter().any(|e| e.target == "login:(not an address)"));
    })
    .await;
}

#[tokio::test]
async fn an_oversized_secret_is_refused_alike_for_known_and_unknown_accounts() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let huge = "x".repeat(1 << 20);
        for login in [a.as_str(), "nobody.here@kaiser.org"] {
            let r = env
                .try_sign_in(login, &huge, Protocol::Imap, WORKSTATION)
                .await;
            assert!(matches!(r, Err(Refusal::Invalid)), "{login}: {r:?}");
        }
        // Not counted toward the account's lockout: the real password still works.
        for _ in 0..6 {
            let _ = env
                .try_sign_in(&a, &huge, Protocol::Imap, WORKSTATION)
                .await;
        }
        assert!(
            env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION)
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn on_a_paused_network_a_mail_app_cannot_tell_a_right_password_either() {
    on_each_backend(async |env| {
        let a = env.nurse().await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        env.with_second_factor(id).await;
        // Someone on the ward's own /24 pauses it with guesses at names that are no account.
        for i in 0..20 {
            let login = format!("someone{i}@kaiser.org");
            let _ = env
                .try_sign_in(&login, "guess", Protocol::Imap, "10.20.30.99")
                .await;
        }
        // From the ward (a network Ann knows), her right password, which a mail app may not
        // use, reads exactly like a wrong one.
        let right = env.try_sign_in(&a, GOOD, Protocol::Imap, WORKSTATION).await;
        let wrong = env
            .try_sign_in(&a, "not-it", Protocol::Imap, WORKSTATION)
            .await;
        assert!(
            matches!(right, Err(Refusal::SourcePaused { .. })),
            "{right:?}"
        );
        assert_eq!(right, wrong);
    })
    .await;
}
