//! The directory through its service, on every backend: the address policy against a real
//! store, collisions under concurrency, renames, quarantine, aliases, permissions.

use crate::support::{DAY, Env, admin, new_account, on_each_backend};
use carepost_identity::{
    AccountStatus, Actor, IdentityError, ListFilter, PersonName, Rename, Role, verify_password,
};
use carepost_store::{AuditFilter, CredentialRepo, DirectoryRepo};
use std::collections::HashSet;

#[tokio::test]
async fn collisions_go_template_then_middle_initial_then_suffix() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        assert_eq!(
            env.create("John", Some("Allen"), "Smith", "E1").await,
            "john.smith@kaiser.org"
        );
        assert_eq!(
            env.create("John", Some("Allen"), "Smith", "E2").await,
            "john.a.smith@kaiser.org"
        );
        assert_eq!(
            env.create("John", Some("Allen"), "Smith", "E3").await,
            "john.smith2@kaiser.org"
        );
        assert_eq!(
            env.create("John", None, "Smith", "E4").await,
            "john.smith3@kaiser.org"
        );
        assert_eq!(
            env.create("José", None, "Núñez", "E5").await,
            "jose.nunez@kaiser.org"
        );
        assert_eq!(
            env.create("Zoë", None, "Ångström", "E6").await,
            "zoe.angstrom@kaiser.org"
        );
        assert_eq!(
            env.create("Łukasz", None, "Żółć", "E7").await,
            "lukasz.zolc@kaiser.org"
        );
        assert_eq!(
            env.create("Siobhan", None, "O'Connor", "E8").await,
            "siobhan.oconnor@kaiser.org"
        );
        assert_eq!(
            env.create("Mary-Jane", None, "de la Cruz", "E9").await,
            "mary-jane.de-la-cruz@kaiser.org"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_creating_john_smith_at_once_get_two_addresses() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let mut tasks = Vec::new();
        for i in 0..8 {
            let dir = env.second_process().await;
            tasks.push(tokio::spawn(async move {
                let new = new_account("John", None, "Smith", &format!("C{i}"), "Cardiology");
                dir.create_account(&admin(), &new).await.unwrap().address
            }));
        }
        let mut got = HashSet::new();
        for t in tasks {
            got.insert(t.await.unwrap());
        }
        let want: HashSet<String> = std::iter::once("john.smith@kaiser.org".to_string())
            .chain((2..=8).map(|n| format!("john.smith{n}@kaiser.org")))
            .collect();
        assert_eq!(got, want);
        assert!(env.dir.verify_audit(&admin()).await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn the_same_employee_id_cannot_get_two_accounts() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        env.create("Ann", None, "Lee", "E1").await;
        let e = env.try_create("Ann", None, "Lee", "E1").await.unwrap_err();
        assert!(matches!(e, IdentityError::Conflict(_)), "{e}");
        assert!(e.to_string().contains("E1"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn unknown_departments_categories_and_supervisors_are_clear_errors() {
    on_each_backend(async |env| {
        let e = env.try_create("Ann", None, "Lee", "E1").await.unwrap_err();
        assert!(
            e.to_string().contains("no department named 'Cardiology'"),
            "{e}"
        );
        env.department("Cardiology", None).await;
        let mut new = new_account("Ann", None, "Lee", "E1", "Cardiology");
        new.category = "wizard".into();
        let e = env.dir.create_account(&admin(), &new).await.unwrap_err();
        assert!(e.to_string().contains("not a role category"), "{e}");
        new.category = "nurse".into();
        new.supervisor = Some("nobody@kaiser.org".into());
        let e = env.dir.create_account(&admin(), &new).await.unwrap_err();
        assert!(
            e.to_string()
                .contains("no account has the address nobody@kaiser.org"),
            "{e}"
        );
        let e = env
            .dir
            .create_department(&admin(), "cardiology", None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_rename_moves_the_address_and_keeps_the_old_one_receiving() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let old = env.create("Mary", None, "Jones", "E1").await;
        let change = Rename {
            last: Some("Smith".into()),
            ..Rename::default()
        };
        let a = env.dir.rename(&admin(), &old, &change).await.unwrap();
        assert_eq!(a.address, "mary.smith@kaiser.org");
        assert_eq!(a.aliases, vec![old.clone()]);
        // The old address still finds her; nobody else can be given it.
        let by_old = env.dir.find_account(&admin(), &old).await.unwrap();
        assert_eq!(by_old.id, a.id);
        assert_eq!(
            env.create("Mary", None, "Jones", "E2").await,
            "mary.jones2@kaiser.org"
        );
        // A new middle name alone does not move the address.
        let change = Rename {
            middle: Some("Ann".into()),
            ..Rename::default()
        };
        let a = env.dir.rename(&admin(), &a.address, &change).await.unwrap();
        assert_eq!(a.address, "mary.smith@kaiser.org");
        assert_eq!(a.name.middle.as_deref(), Some("Ann"));
        // Renaming back gives the old address back as primary.
        let change = Rename {
            last: Some("Jones".into()),
            ..Rename::default()
        };
        let a = env.dir.rename(&admin(), &a.address, &change).await.unwrap();
        assert_eq!(a.address, old);
        assert_eq!(a.aliases, vec!["mary.smith@kaiser.org".to_string()]);
        let e = env
            .dir
            .rename(&admin(), &a.address, &change)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("nothing to change"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn a_deprovisioned_address_is_quarantined_before_anyone_else_gets_it() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let first = env.create("John", None, "Smith", "E1").await;
        let a = env
            .dir
            .set_status(&admin(), &first, AccountStatus::Deprovisioned)
            .await
            .unwrap();
        assert_eq!(a.status, AccountStatus::Deprovisioned);
        env.clock.advance(364 * DAY);
        assert_eq!(
            env.create("John", None, "Smith", "E2").await,
            "john.smith2@kaiser.org"
        );
        let preview = env
            .dir
            .preview_address(&PersonName::new("John", None, "Smith", None).unwrap())
            .await
            .unwrap();
        assert_eq!(preview.to_string(), "john.smith3@kaiser.org");
        env.clock.advance(2 * DAY);
        assert_eq!(env.create("John", None, "Smith", "E3").await, first);
        // The old account no longer owns it and cannot be restored onto it.
        let mut tx = env.store.read().await.unwrap();
        let old = tx.find_account_by_employee_id("E1").await.unwrap().unwrap();
        drop(tx);
        let e = env
            .dir
            .set_status(&admin(), &first, AccountStatus::Active)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("already active"),
            "found the new owner: {e}"
        );
        assert_eq!(old.status, "deprovisioned");
    })
    .await;
}

#[tokio::test]
async fn disable_enable_and_undo_a_deprovisioning() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let addr = env.create("Ann", None, "Lee", "E1").await;
        let a = env
            .dir
            .set_status(&admin(), &addr, AccountStatus::Disabled)
            .await
            .unwrap();
        assert_eq!(a.status, AccountStatus::Disabled);
        let e = env
            .dir
            .set_status(&admin(), &addr, AccountStatus::Disabled)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("already disabled"), "{e}");
        env.dir
            .set_status(&admin(), &addr, AccountStatus::Deprovisioned)
            .await
            .unwrap();
        let a = env
            .dir
            .set_status(&admin(), &addr, AccountStatus::Active)
            .await
            .unwrap();
        assert_eq!(a.status, AccountStatus::Active);
        // Back in service, the address is held again: no quarantine end applies.
        env.clock.advance(400 * DAY);
        assert_eq!(
            env.create("Ann", None, "Lee", "E2").await,
            "ann.lee2@kaiser.org"
        );
    })
    .await;
}

#[tokio::test]
async fn an_account_back_in_service_holds_its_address_whatever_its_new_status() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let addr = env.create("Ann", None, "Lee", "E1").await;
        env.dir
            .set_status(&admin(), &addr, AccountStatus::Deprovisioned)
            .await
            .unwrap();
        env.dir
            .set_status(&admin(), &addr, AccountStatus::Disabled)
            .await
            .unwrap();
        env.clock.advance(400 * DAY);
        assert_eq!(
            env.create("Ann", None, "Lee", "E2").await,
            "ann.lee2@kaiser.org"
        );
    })
    .await;
}

#[tokio::test]
async fn aliases_are_added_removed_and_quarantined() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let ann = env.create("Ann", None, "Lee", "E1").await;
        let bob = env.create("Bob", None, "Ray", "E2").await;
        let a = env
            .dir
            .add_alias(&admin(), &ann, "cardio-desk@kaiser.org", false)
            .await
            .unwrap();
        assert_eq!(a.aliases, vec!["cardio-desk@kaiser.org".to_string()]);
        let e = env
            .dir
            .add_alias(&admin(), &bob, "cardio-desk@kaiser.org", false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("is taken"), "{e}");
        let e = env
            .dir
            .add_alias(&admin(), &bob, "postmaster@kaiser.org", false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("reserved"), "{e}");
        env.dir
            .add_alias(&admin(), &bob, "postmaster@kaiser.org", true)
            .await
            .unwrap();
        let e = env
            .dir
            .add_alias(&admin(), &bob, "bob@gmail.com", false)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("not in one of the organization's domains"),
            "{e}"
        );
        let e = env
            .dir
            .remove_alias(&admin(), &ann, &ann)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("primary address"), "{e}");
        let a = env
            .dir
            .remove_alias(&admin(), &ann, "cardio-desk@kaiser.org")
            .await
            .unwrap();
        assert!(a.aliases.is_empty());
        let e = env
            .dir
            .add_alias(&admin(), &bob, "cardio-desk@kaiser.org", false)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("quarantined until"), "{e}");
        env.clock.advance(366 * DAY);
        let b = env
            .dir
            .add_alias(&admin(), &bob, "cardio-desk@kaiser.org", false)
            .await
            .unwrap();
        assert!(b.aliases.contains(&"cardio-desk@kaiser.org".to_string()));
    })
    .await;
}

#[tokio::test]
async fn listing_filters_by_department_subtree_status_and_text() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        env.create("Ann", None, "Lee", "E1").await;
        let bob = env.create("Bob", None, "Ray", "E2").await;
        env.dir
            .create_account(
                &admin(),
                &new_account("Cy", None, "O'Neil", "P1", "Pharmacy"),
            )
            .await
            .unwrap();
        env.dir
            .set_status(&admin(), &bob, AccountStatus::Disabled)
            .await
            .unwrap();
        let list = |f: ListFilter| {
            let dir = env.dir.clone();
            async move {
                dir.list_accounts(&admin(), &f)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|a| a.employee_id)
                    .collect::<Vec<_>>()
            }
        };
        let medicine = ListFilter {
            department: Some("medicine".into()),
            ..ListFilter::default()
        };
        assert_eq!(list(medicine).await, ["E1", "E2"]);
        let disabled = ListFilter {
            status: Some(AccountStatus::Disabled),
            ..ListFilter::default()
        };
        assert_eq!(list(disabled).await, ["E2"]);
        let query = ListFilter {
            query: Some("O'NEIL".into()),
            ..ListFilter::default()
        };
        assert_eq!(list(query).await, ["P1"]);
        let underscore = ListFilter {
            query: Some("_".into()),
            ..ListFilter::default()
        };
        assert!(
            list(underscore).await.is_empty(),
            "LIKE wildcards are taken literally"
        );
    })
    .await;
}

#[tokio::test]
async fn the_first_administrator_is_made_once_with_a_one_time_password() {
    on_each_backend(async |env| {
        let admin_made = env.dir.ensure_first_admin().await.unwrap().unwrap();
        assert_eq!(admin_made.address.to_string(), "administrator@kaiser.org");
        assert!(env.dir.ensure_first_admin().await.unwrap().is_none());
        let a = env
            .dir
            .find_account(&admin(), "administrator@kaiser.org")
            .await
            .unwrap();
        let mut tx = env.store.read().await.unwrap();
        let pw = tx.find_password(a.id).await.unwrap().unwrap();
        assert!(pw.must_change);
        assert!(verify_password(
            &admin_made.one_time_password,
            &pw.password_hash
        ));
        assert!(!pw.password_hash.contains(&admin_made.one_time_password));
        let roles = tx.list_roles(a.id).await.unwrap();
        assert_eq!(roles, vec![("it-admin".to_string(), None)]);
    })
    .await;
}

#[tokio::test]
async fn a_refused_operation_is_audited() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let mut helpdesk = Actor::local_cli("x");
        helpdesk.who = carepost_audit::Actor::Account {
            id: carepost_types::AccountId(99),
            address: "agent@kaiser.org".into(),
        };
        helpdesk.roles = vec![Role::Helpdesk];
        let new = new_account("Ann", None, "Lee", "E1", "Cardiology");
        let e = env.dir.create_account(&helpdesk, &new).await.unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let events = env
            .dir
            .audit_events(
                &admin(),
                &AuditFilter {
                    actor: Some("agent@kaiser.org".into()),
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].action, "authz.denied");
        assert_eq!(events[0].outcome, "denied");
        // Reading the directory is within a helpdesk agent's rights.
        assert!(
            env.dir
                .list_accounts(&helpdesk, &ListFilter::default())
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn audit_filters_find_events_by_actor_target_and_time() {
    on_each_backend(async |env: &Env| {
        env.department("Cardiology", None).await;
        let ann = env.create("Ann", None, "Lee", "E1").await;
        env.clock.advance(DAY);
        let since = env.clock_now();
        env.dir
            .set_status(&admin(), &ann, AccountStatus::Disabled)
            .await
            .unwrap();
        let by_target = env
            .dir
            .audit_events(
                &admin(),
                &AuditFilter {
                    target: Some(ann.clone()),
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap();
        let actions: Vec<&str> = by_target.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["account.create", "account.disable"]);
        let recent = env
            .dir
            .audit_events(
                &admin(),
                &AuditFilter {
                    since: Some(since),
                    ..AuditFilter::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].actor, "local-cli:tester");
    })
    .await;
}

impl Env {
    fn clock_now(&self) -> carepost_types::UnixMillis {
        use carepost_types::Clock;
        self.clock.now()
    }
}

#[tokio::test]
async fn roles_are_granted_and_the_last_it_administrator_stays() {
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
        let ann = env.create("Ann", None, "Lee", "E1").await;
        let e = env
            .dir
            .revoke_role(&admin(), &first, &Role::ItAdmin)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("last IT administrator"), "{e}");
        env.dir
            .grant_role(&admin(), &ann, &Role::ItAdmin, None)
            .await
            .unwrap();
        env.dir
            .revoke_role(&admin(), &first, &Role::ItAdmin)
            .await
            .unwrap();
        let e = env
            .dir
            .grant_role(&admin(), &ann, &Role::Supervisor, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("needs the department"), "{e}");
        env.dir
            .grant_role(&admin(), &ann, &Role::Supervisor, Some("Cardiology"))
            .await
            .unwrap();
        let e = env
            .dir
            .revoke_role(&admin(), &ann, &Role::Helpdesk)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("does not have the role"), "{e}");
    })
    .await;
}
