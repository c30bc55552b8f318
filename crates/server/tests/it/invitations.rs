//! First-sign-in invitations (issue 17, point 6): issued for accounts an import made, used
//! once to set the first password, revoked by a newer one or by hand, expiring, on the record;
//! a wrong code counts like a wrong password.

use crate::auth::{GOOD, WORKSTATION};
use crate::support::{admin, on_each_backend};
use carepost_identity::{IdentityError, Protocol, Refusal, Role};
use std::time::Duration;

const HR: &str = "employee_id,first,last,category,department\n\
                  N1,Nia,Cole,nurse,Cardiology\n\
                  N2,Bo,Ray,nurse,Cardiology\n\
                  N3,Cy,Lo,nurse,Cardiology\n";

#[tokio::test]
async fn an_invitation_sets_the_first_password_once_and_only_with_its_code() {
    on_each_backend(async |env| {
        env.dir.import_csv(&admin(), HR.as_bytes()).await.unwrap();
        env.dir
            .set_password(&admin(), "cy.lo@kaiser.org", GOOD)
            .await
            .unwrap();
        let issued = env
            .dir
            .invite_department(&admin(), "Cardiology")
            .await
            .unwrap();
        let mut who: Vec<&str> = issued.iter().map(|i| i.address.as_str()).collect();
        who.sort();
        assert_eq!(
            who,
            ["bo.ray@kaiser.org", "nia.cole@kaiser.org"],
            "Cy has a password"
        );
        let nia = issued
            .iter()
            .find(|i| i.address.starts_with("nia"))
            .unwrap();
        assert_eq!(
            (nia.name.as_str(), nia.department.as_str()),
            ("Nia Cole", "Cardiology")
        );
        let src = crate::auth::ip(WORKSTATION);
        // Another's code, or a made-up one: the same refusal.
        let bo = issued.iter().find(|i| i.address.starts_with("bo")).unwrap();
        for code in [bo.code.as_str(), "AAAA-BBBB-CCCC-DDDD"] {
            let r = env
                .dir
                .accept_invitation(&nia.address, code, GOOD, src)
                .await
                .unwrap();
            assert_eq!(r, None);
        }
        // A weak password is refused without spending the code.
        let e = env
            .dir
            .accept_invitation(&nia.address, &nia.code, "password1234", src)
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::PasswordRejected(_)), "{e}");
        // Case and dashes do not matter on the slip.
        let typed = nia.code.replace('-', " ").to_uppercase();
        let r = env
            .dir
            .accept_invitation(&nia.address, &typed, GOOD, src)
            .await
            .unwrap();
        assert!(r.is_some());
        assert!(
            env.try_sign_in(&nia.address, GOOD, Protocol::Web, WORKSTATION)
                .await
                .is_ok()
        );
        // Used once only.
        let again = env
            .dir
            .accept_invitation(&nia.address, &nia.code, GOOD, src)
            .await
            .unwrap();
        assert_eq!(again, None);
        // A new invitation replaces the old; the old one stops working; expiry ends one.
        let second = env
            .dir
            .invite(&admin(), std::slice::from_ref(&bo.address))
            .await
            .unwrap();
        assert_eq!(
            env.dir
                .accept_invitation(&bo.address, &bo.code, GOOD, src)
                .await
                .unwrap(),
            None
        );
        env.clock.advance(Duration::from_secs(8 * 86_400));
        assert_eq!(
            env.dir
                .accept_invitation(&bo.address, &second[0].code, GOOD, src)
                .await
                .unwrap(),
            None
        );
        let mut states: Vec<(String, &str)> = env
            .dir
            .list_invitations(&admin(), None)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.address, i.state))
            .collect();
        states.sort();
        assert_eq!(
            states,
            [
                ("bo.ray@kaiser.org".to_string(), "expired"),
                ("bo.ray@kaiser.org".to_string(), "revoked"),
                ("nia.cole@kaiser.org".to_string(), "used"),
            ]
        );
        // Someone with a password is not invited (a reset is for that).
        let e = env
            .dir
            .invite(&admin(), &["cy.lo@kaiser.org".to_string()])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("has a password already"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn wrong_codes_lock_like_wrong_passwords_and_supervisors_invite_only_their_staff() {
    on_each_backend(async |env| {
        env.dir.import_csv(&admin(), HR.as_bytes()).await.unwrap();
        env.department("Oncology", None).await;
        let issued = env
            .dir
            .invite(&admin(), &["bo.ray@kaiser.org".to_string()])
            .await
            .unwrap();
        for _ in 0..5 {
            let r = env
                .dir
                .accept_invitation("bo.ray@kaiser.org", "WRONG-WRONG-WRONG-WRON", GOOD, None)
                .await
                .unwrap();
            assert_eq!(r, None);
        }
        // Locked now: even the right code waits, and says no more.
        assert_eq!(
            env.dir
                .accept_invitation("bo.ray@kaiser.org", &issued[0].code, GOOD, None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            env.try_sign_in("bo.ray@kaiser.org", GOOD, Protocol::Web, "127.0.0.1")
                .await,
            Err(Refusal::Invalid)
        );
        let sup = |first: &'static str, id: &'static str, dept: &'static str| async move {
            let a = env
                .dir
                .create_account(
                    &admin(),
                    &crate::support::new_account(first, None, "Lead", id, dept),
                )
                .await
                .unwrap();
            env.dir
                .grant_role(&admin(), &a.address, &Role::Supervisor, Some(dept))
                .await
                .unwrap();
            env.staff_actor(a.id, &a.address).await
        };
        let other = sup("Otto", "S2", "Oncology").await;
        let e = env
            .dir
            .invite(&other, &["nia.cole@kaiser.org".to_string()])
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let own = sup("Meg", "S1", "Cardiology").await;
        let slips = env
            .dir
            .invite(&own, &["nia.cole@kaiser.org".to_string()])
            .await
            .unwrap();
        assert_eq!(slips.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_cannot_invite_a_role_holder_and_a_password_set_meanwhile_ends_an_invitation()
{
    on_each_backend(async |env| {
        env.dir.import_csv(&admin(), HR.as_bytes()).await.unwrap();
        // Nia holds a role and has no password yet: only IT may hand out her way in.
        env.dir
            .grant_role(&admin(), "nia.cole@kaiser.org", &Role::ItAdmin, None)
            .await
            .unwrap();
        let meg = env
            .dir
            .create_account(
                &admin(),
                &crate::support::new_account("Meg", None, "Lead", "S1", "Cardiology"),
            )
            .await
            .unwrap();
        env.dir
            .grant_role(
                &admin(),
                &meg.address,
                &Role::Supervisor,
                Some("Cardiology"),
            )
            .await
            .unwrap();
        let meg = env.staff_actor(meg.id, &meg.address).await;
        let e = env
            .dir
            .invite(&meg, &["nia.cole@kaiser.org".to_string()])
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        // Bo is invited, then the helpdesk resets him before he uses it: the slip opens nothing.
        let slip = env
            .dir
            .invite(&admin(), &["bo.ray@kaiser.org".to_string()])
            .await
            .unwrap();
        env.dir
            .reset_password(&admin(), "bo.ray@kaiser.org")
            .await
            .unwrap();
        assert_eq!(
            env.dir
                .accept_invitation("bo.ray@kaiser.org", &slip[0].code, GOOD, None)
                .await
                .unwrap(),
            None
        );
    })
    .await;
}

#[tokio::test]
async fn an_invitation_is_mailed_to_the_personal_address_hr_recorded() {
    for db in carepost_testkit::backends().await {
        let sink = carepost_testkit::SmtpSink::start().await;
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("dkim.pem");
        carepost_mail::generate_key_file(&key).unwrap();
        let relay = ("127.0.0.1".to_string(), sink.addr.port());
        let s = carepost_testkit::TestServer::start_with(db, |c| {
            c.mail.relay_host = Some(relay);
            c.mail.dkim_key = Some(key);
        })
        .await;
        let dir = &s.running.context.directory;
        // A personal address, none, and one inside the organization (refused: it could not
        // be read before the first sign-in).
        let hr = "employee_id,first,last,category,department,personal_email\n\
                  N1,Nia,Cole,nurse,Cardiology,Nia.Cole@Example.net\n\
                  N2,Bo,Ray,nurse,Cardiology,\n\
                  N3,Cy,Lo,nurse,Cardiology,cy@kaiser.org\n";
        let summary = dir.import_csv(&admin(), hr.as_bytes()).await.unwrap();
        assert_eq!(summary.created, 2, "{summary:?}");
        assert_eq!(summary.errors.len(), 1, "{summary:?}");
        assert!(
            summary.errors[0]
                .reason
                .contains("the organization's own domain"),
            "{summary:?}"
        );
        // The same file again changes nothing; a changed address is an update.
        let again = dir.import_csv(&admin(), hr.as_bytes()).await.unwrap();
        assert_eq!((again.unchanged, again.updated), (2, 0), "{again:?}");
        let moved = hr.replace("Nia.Cole@Example.net", "nia@example.org");
        let changed = dir.import_csv(&admin(), moved.as_bytes()).await.unwrap();
        assert_eq!(changed.updated, 1, "{changed:?}");

        let mut issued = dir.invite_department(&admin(), "Cardiology").await.unwrap();
        carepost_web::mail_invitations(&s.running.context.mail, &admin(), &mut issued).await;
        let nia = issued
            .iter()
            .find(|i| i.address.starts_with("nia"))
            .unwrap();
        let bo = issued.iter().find(|i| i.address.starts_with("bo")).unwrap();
        assert!(nia.mailed && !bo.mailed, "{issued:?}");
        // The API never shows the personal address (a supervisor hands out slips).
        let shown = serde_json::to_string(&issued).unwrap();
        assert!(!shown.contains("example.org"), "{shown}");

        let wait = async {
            while sink.messages().is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .expect("the queue delivers the invitation");
        let got = sink.messages();
        assert_eq!(got.len(), 1, "only Nia has a personal address");
        assert_eq!(got[0].to, ["nia@example.org"]);
        assert_eq!(got[0].from, "no-reply@kaiser.org");
        let text = String::from_utf8_lossy(&got[0].data);
        assert!(text.starts_with("DKIM-Signature: "), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"), "{text}");
        assert!(
            text.contains(&nia.code) && text.contains("nia.cole@kaiser.org"),
            "{text}"
        );
        assert!(text.contains("/welcome"), "{text}");
        assert!(
            text.contains("Nobody from IT will ask you for this"),
            "{text}"
        );
        // The code in the mail opens the first sign-in.
        dir.accept_invitation(
            &nia.address,
            &nia.code,
            GOOD,
            Some(WORKSTATION.parse().unwrap()),
        )
        .await
        .unwrap();
    }
}
