//! The authorization matrix: every administrative operation against every role, including a
//! supervisor of another department, allowed or refused as designed; refusals are audited.

use crate::support::{Env, admin, new_account, on_each_backend};
use carepost_identity::{AccountStatus, Actor, IdentityError, ListFilter, Role};
use carepost_store::AuditFilter;

const OPS: [&str; 15] = [
    "find",
    "list",
    "disable",
    "deprovision",
    "unlock",
    "reset-password",
    "create",
    "audit",
    "grant-role",
    "mfa-summary",
    "sso-apps",
    "read-policies",
    "change-policy",
    "request-change",
    "edit",
];

/// Who may do what: it-admin, helpdesk, supervisor of Medicine (the target's parent
/// department), supervisor of Pharmacy, security officer, communications, no role.
const MATRIX: [(&str, [bool; 7]); 15] = [
    ("find", [true, true, true, false, true, false, false]),
    ("list", [true, true, true, false, true, false, false]),
    ("disable", [true, false, true, false, false, false, false]),
    (
        "deprovision",
        [true, false, false, false, false, false, false],
    ),
    ("unlock", [true, true, false, false, false, false, false]),
    (
        "reset-password",
        [true, false, false, false, false, false, false],
    ),
    ("create", [true, false, false, false, false, false, false]),
    ("audit", [true, false, false, false, true, false, false]),
    (
        "grant-role",
        [true, false, false, false, false, false, false],
    ),
    ("mfa-summary", [true, true, true, false, true, false, false]),
    ("sso-apps", [true, false, false, false, false, false, false]),
    ("read-policies", [true, true, true, true, true, true, false]),
    (
        "change-policy",
        [true, false, false, false, false, false, false],
    ),
    (
        "request-change",
        [true, false, true, false, false, false, false],
    ),
    ("edit", [true, false, false, false, false, false, false]),
];

async fn actor(env: &Env, first: &str, id: &str, role: Option<(Role, Option<&str>)>) -> Actor {
    let a = env
        .dir
        .create_account(&admin(), &new_account(first, None, "Staff", id, "Pharmacy"))
        .await
        .unwrap();
    if let Some((role, dept)) = role {
        env.dir
            .grant_role(&admin(), &a.address, &role, dept)
            .await
            .unwrap();
    }
    env.staff_actor(a.id, &a.address).await
}

async fn run(
    env: &Env,
    who: &Actor,
    op: &str,
    target: &str,
    n: usize,
) -> Result<(), IdentityError> {
    let d = &env.dir;
    match op {
        "find" => d.find_account(who, target).await.map(drop),
        "list" => {
            let f = ListFilter {
                department: Some("Medicine".into()),
                ..ListFilter::default()
            };
            d.list_accounts(who, &f).await.map(drop)
        }
        "disable" => {
            d.set_status(who, target, AccountStatus::Disabled).await?;
            d.set_status(&admin(), target, AccountStatus::Active)
                .await
                .map(drop)
        }
        "deprovision" => {
            d.set_status(who, target, AccountStatus::Deprovisioned)
                .await?;
            d.set_status(&admin(), target, AccountStatus::Active)
                .await
                .map(drop)
        }
        "unlock" => d.unlock(who, target).await.map(|_| ()),
        "reset-password" => d.reset_password(who, target).await.map(drop),
        "create" => {
            let new = new_account("New", None, "Hire", &format!("NEW{n}"), "Cardiology");
            d.create_account(who, &new).await.map(drop)
        }
        "audit" => d.audit_events(who, &AuditFilter::default()).await.map(drop),
        "grant-role" => {
            d.grant_role(who, target, &Role::Communications, None)
                .await?;
            d.revoke_role(&admin(), target, &Role::Communications).await
        }
        "mfa-summary" => d.mfa_summary(who, target).await.map(drop),
        "sso-apps" => {
            d.require(
                who,
                carepost_identity::Permission::ManageApps,
                "oidc-clients",
            )
            .await
        }
        "read-policies" => d.policy_sections(who).await.map(drop),
        "change-policy" => {
            let m = serde_json::json!({ "threshold": 6 });
            d.change_policy(who, "lockout", m.as_object().unwrap())
                .await
                .map(drop)
        }
        "request-change" => {
            // One open request per account and kind: IT asks for a move, a supervisor for a
            // new name.
            let to = if who.roles.contains(&Role::ItAdmin) {
                carepost_identity::RequestedChange::Move {
                    department: "Pharmacy".into(),
                }
            } else {
                carepost_identity::RequestedChange::Rename {
                    first: None,
                    last: Some("Newname".into()),
                    preferred: None,
                }
            };
            d.request_change(who, target, &to, "HR ticket 1")
                .await
                .map(drop)
        }
        "edit" => {
            let to = carepost_identity::AccountEdit {
                employee_id: Some(format!("EDIT{n}")),
                ..Default::default()
            };
            d.edit_account(who, target, &to).await.map(drop)
        }
        other => panic!("unknown operation {other}"),
    }
}

#[tokio::test]
async fn every_operation_against_every_role() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        let target = env.create("Ann", None, "Lee", "T1").await;
        let actors = [
            actor(env, "Ida", "A1", Some((Role::ItAdmin, None))).await,
            actor(env, "Hal", "A2", Some((Role::Helpdesk, None))).await,
            actor(env, "Meg", "A3", Some((Role::Supervisor, Some("Medicine")))).await,
            actor(
                env,
                "Phil",
                "A4",
                Some((Role::Supervisor, Some("Pharmacy"))),
            )
            .await,
            actor(env, "Sue", "A5", Some((Role::SecurityOfficer, None))).await,
            actor(env, "Cam", "A6", Some((Role::Communications, None))).await,
            actor(env, "Ned", "A7", None).await,
        ];
        assert_eq!(OPS.len(), MATRIX.len());
        let mut n = 0;
        let mut wrong = Vec::new();
        for (op, allowed) in MATRIX {
            for (who, want) in actors.iter().zip(allowed) {
                n += 1;
                let got = run(env, who, op, &target, n).await;
                let refused = matches!(got, Err(IdentityError::Forbidden(_)));
                if let Err(e) = &got {
                    assert!(refused, "{op} by {}: unexpected error {e}", who.who);
                }
                if refused == want {
                    wrong.push(format!("{op} by {}: allowed={}", who.who, !refused));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
        let denials = env
            .dir
            .audit_events(&admin(), &AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "authz.denied")
            .count();
        let expected = MATRIX.iter().flat_map(|(_, a)| a).filter(|a| !**a).count();
        assert_eq!(denials, expected, "every refusal is audited");
    })
    .await;
}

#[tokio::test]
async fn only_it_unlocks_an_administrator_unless_the_file_lets_the_helpdesk() {
    on_each_backend(async |env| {
        env.department("Pharmacy", None).await;
        env.department("Cardiology", None).await;
        let helpdesk = actor(env, "Hal", "H1", Some((Role::Helpdesk, None))).await;
        let boss = actor(env, "Ida", "I1", Some((Role::ItAdmin, None))).await;
        let target = boss.who.to_string();
        let target = target.trim_start_matches("account:").to_string();
        let refused = env.dir.unlock(&helpdesk, &target).await;
        assert!(
            matches!(&refused, Err(IdentityError::Forbidden(m)) if m.contains("manage-privileged-accounts") && m.contains("it-admin")),
            "{refused:?}"
        );
        // A colleague without a role is still the helpdesk's to unlock, and IT unlocks anyone.
        let plain = env
            .dir
            .create_account(&admin(), &new_account("Pat", None, "Plain", "P9", "Pharmacy"))
            .await
            .unwrap()
            .address;
        assert!(env.dir.unlock(&helpdesk, &plain).await.is_ok());
        let it = actor(env, "Jo", "J1", Some((Role::ItAdmin, None))).await;
        assert!(env.dir.unlock(&it, &target).await.is_ok());
    })
    .await;
    // The file may let the helpdesk do it.
    for db in carepost_testkit::backends().await {
        let mut config = carepost_testkit::test_config(&db);
        config.lockout.helpdesk_unlocks_role_holders = true;
        let env = Env::with_config(db, config).await;
        env.department("Pharmacy", None).await;
        let helpdesk = actor(&env, "Hal", "H1", Some((Role::Helpdesk, None))).await;
        let boss = actor(&env, "Ida", "I1", Some((Role::ItAdmin, None))).await;
        let target = boss.who.to_string();
        let target = target.trim_start_matches("account:").to_string();
        assert!(env.dir.unlock(&helpdesk, &target).await.is_ok());
    }
}
