//! Helpdesk resets that a phone call alone cannot trigger: the person's second-factor code, or
//! a supervisor's approval by someone other than the agent who asked.

use crate::auth::{GOOD, GOOD2, WORKSTATION, totp_code, unix};
use crate::support::{Env, admin, new_account, on_each_backend};
use carepost_identity::{Actor, IdentityError, Protocol, Role};
use std::time::Duration;

async fn staff(env: &Env, first: &str, id: &str, role: Role, dept: Option<&str>) -> Actor {
    let a = env
        .dir
        .create_account(&admin(), &new_account(first, None, "Staff", id, "Pharmacy"))
        .await
        .unwrap();
    env.dir
        .grant_role(&admin(), &a.address, &role, dept)
        .await
        .unwrap();
    env.staff_actor(a.id, &a.address).await
}

/// A nurse in Cardiology, below Medicine, with a password, signed in once from the ward.
async fn nurse(env: &Env) -> String {
    let mut new = new_account("Ann", None, "Lee", "E1", "Cardiology");
    new.category = "nurse".into();
    let a = env
        .dir
        .create_account(&admin(), &new)
        .await
        .unwrap()
        .address;
    env.dir.set_password(&admin(), &a, GOOD).await.unwrap();
    assert!(
        env.try_sign_in(&a, GOOD, Protocol::Web, WORKSTATION)
            .await
            .is_ok()
    );
    a
}

#[tokio::test]
async fn a_caller_without_proof_cannot_get_a_reset_of_an_account_with_mfa() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        let a = nurse(env).await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        let agent = staff(env, "Hal", "H1", Role::Helpdesk, None).await;
        // Without a second factor, the agent may reset directly (audited).
        let temporary = env.dir.helpdesk_reset(&agent, &a, None).await.unwrap();
        assert_eq!(temporary.len(), 23);
        env.dir.set_password(&admin(), &a, GOOD2).await.unwrap();
        let e = env.dir.begin_totp(id).await.unwrap();
        env.dir
            .confirm_totp(id, &totp_code(&e.secret, unix(env)))
            .await
            .unwrap();
        // With one, a story is not enough...
        let refused = env.dir.helpdesk_reset(&agent, &a, None).await.unwrap_err();
        assert!(matches!(refused, IdentityError::Forbidden(_)), "{refused}");
        let wrong = env
            .dir
            .helpdesk_reset(&agent, &a, Some("123456"))
            .await
            .unwrap_err();
        assert!(wrong.to_string().contains("not right"), "{wrong}");
        // ...the code the person reads from their phone is.
        env.clock.advance(Duration::from_secs(30));
        let code = totp_code(&e.secret, unix(env));
        env.dir
            .helpdesk_reset(&agent, &a, Some(&code))
            .await
            .unwrap();
        let old = env.try_sign_in(&a, GOOD2, Protocol::Web, WORKSTATION).await;
        assert_eq!(
            old,
            Err(carepost_identity::Refusal::Invalid),
            "the old password is gone"
        );
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_of_the_department_approves_a_reset_someone_else_asked_for() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        let a = nurse(env).await;
        let id = env.dir.find_account(&admin(), &a).await.unwrap().id;
        let e = env.dir.begin_totp(id).await.unwrap();
        env.dir
            .confirm_totp(id, &totp_code(&e.secret, unix(env)))
            .await
            .unwrap();
        let agent = staff(env, "Hal", "H1", Role::Helpdesk, None).await;
        let boss = staff(env, "Meg", "S1", Role::Supervisor, Some("Medicine")).await;
        let stranger = staff(env, "Phil", "S2", Role::Supervisor, Some("Pharmacy")).await;
        let e = env.dir.request_reset(&agent, &a, "").await.unwrap_err();
        assert!(e.to_string().contains("needs a reason"), "{e}");
        let request = env
            .dir
            .request_reset(&agent, &a, "ticket 77: lost phone, called from ward")
            .await
            .unwrap();
        let e = env.dir.approve_reset(&stranger, request).await.unwrap_err();
        assert!(
            matches!(e, IdentityError::Forbidden(_)),
            "another department's supervisor: {e}"
        );
        let e = env.dir.approve_reset(&agent, request).await.unwrap_err();
        assert!(
            matches!(e, IdentityError::Forbidden(_)),
            "helpdesk cannot approve: {e}"
        );
        let temporary = env.dir.approve_reset(&boss, request).await.unwrap();
        assert_eq!(temporary.len(), 23);
        let e = env.dir.approve_reset(&boss, request).await.unwrap_err();
        assert!(
            matches!(e, IdentityError::NotFound(_)),
            "a request is used once: {e}"
        );
        // Requests expire.
        let late = env
            .dir
            .request_reset(&agent, &a, "ticket 78: still no phone")
            .await
            .unwrap();
        env.clock.advance(Duration::from_secs(25 * 3600));
        assert!(env.dir.approve_reset(&boss, late).await.is_err());
        // An IT administrator who asked cannot approve their own request either.
        let it = staff(env, "Ida", "I1", Role::ItAdmin, None).await;
        let own = env
            .dir
            .request_reset(&it, &a, "ticket 79: it asked")
            .await
            .unwrap();
        let e = env.dir.approve_reset(&it, own).await.unwrap_err();
        assert!(e.to_string().contains("cannot approve it too"), "{e}");
        let trail = env
            .dir
            .audit_events(
                &admin(),
                &carepost_store::AuditFilter {
                    target: Some(a.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for action in [
            "password.reset_request",
            "password.reset_approve",
            "password.reset",
        ] {
            assert!(
                trail.iter().any(|e| e.action == action),
                "{action} is audited"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn administrators_and_unenrolled_clinicians_are_out_of_the_helpdesks_reach() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        let agent = staff(env, "Hal", "H1", Role::Helpdesk, None).await;
        let boss = staff(env, "Meg", "S1", Role::Supervisor, Some("Medicine")).await;
        // An IT administrator sitting in Cardiology.
        let it = env.create("Ida", None, "Admin", "I1").await;
        env.dir
            .grant_role(&admin(), &it, &Role::ItAdmin, None)
            .await
            .unwrap();
        let e = env.dir.helpdesk_reset(&agent, &it, None).await.unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let e = env
            .dir
            .set_status(&boss, &it, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap_err();
        assert!(
            matches!(e, IdentityError::Forbidden(_)),
            "a supervisor cannot disable an administrator: {e}"
        );
        // A security officer with no second factor (none required for the role) is out of
        // reach too, although the helpdesk may reset people in general.
        let mut n = new_account("Oz", None, "Sec", "O1", "Cardiology");
        n.category = "administrative".into();
        let officer = env.dir.create_account(&admin(), &n).await.unwrap().address;
        env.dir
            .grant_role(&admin(), &officer, &Role::SecurityOfficer, None)
            .await
            .unwrap();
        let e = env
            .dir
            .helpdesk_reset(&agent, &officer, None)
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let e = env
            .dir
            .request_reset(&agent, &officer, "ticket 81: says they forgot")
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        // A clinician must use MFA: without a code to give, only an approval resets them.
        let doc = env.create("Dee", None, "Doc", "D1").await;
        let e = env
            .dir
            .helpdesk_reset(&agent, &doc, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("second factor"), "{e}");
        let request = env
            .dir
            .request_reset(&agent, &doc, "ticket 80: new phone, no codes")
            .await
            .unwrap();
        env.dir.approve_reset(&boss, request).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn the_last_active_it_administrator_cannot_be_disabled() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let first = env
            .dir
            .ensure_first_admin()
            .await
            .unwrap()
            .unwrap()
            .address
            .to_string();
        let e = env
            .dir
            .set_status(&admin(), &first, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("last active IT administrator"),
            "{e}"
        );
        let ann = env.create("Ann", None, "Lee", "E1").await;
        env.dir
            .grant_role(&admin(), &ann, &Role::ItAdmin, None)
            .await
            .unwrap();
        env.dir
            .set_status(&admin(), &first, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap();
    })
    .await;
}
