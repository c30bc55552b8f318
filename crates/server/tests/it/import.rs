//! Bulk provisioning from CSV, on every backend.

use crate::support::{admin, on_each_backend};
use carepost_identity::AccountStatus;

const HEADER: &str =
    "employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status\n";

#[tokio::test]
async fn an_hr_export_creates_accounts_departments_and_supervisors() {
    on_each_backend(async |env| {
        let csv = format!(
            "{HEADER}E1,John,,Smith,,clinician,Cardiology,E2,\n\
             E2,Maria,Luisa,García,Malu,clinician,Cardiology,,active\n\
             E3,John,,Smith,,nurse,Pharmacy,E2,\n"
        );
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        assert_eq!(
            (s.rows, s.created, s.failed, s.departments_created),
            (3, 3, 0, 2),
            "{s:?}"
        );
        let john = env
            .dir
            .find_account(&admin(), "john.smith@kaiser.org")
            .await
            .unwrap();
        assert_eq!(john.employee_id, "E1");
        assert_eq!(john.supervisor.as_deref(), Some("maria.garcia@kaiser.org"));
        let john2 = env
            .dir
            .find_account(&admin(), "john.smith2@kaiser.org")
            .await
            .unwrap();
        assert_eq!(john2.department, "Pharmacy");
        // A second run of the same file changes nothing.
        let again = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        assert_eq!(
            (again.unchanged, again.created, again.updated),
            (3, 0, 0),
            "{again:?}"
        );
        assert!(env.dir.verify_audit(&admin()).await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn changed_rows_update_rename_and_deprovision() {
    on_each_backend(async |env| {
        let before = format!("{HEADER}E1,Mary,,Jones,,nurse,Cardiology,,\nE2,Bob,,Ray,,nurse,Cardiology,,\nE3,Cy,,Lo,,nurse,Cardiology,,\n");
        env.dir.import_csv(&admin(), before.as_bytes()).await.unwrap();
        let after = format!(
            "{HEADER}E1,Mary,,Smith,,nurse,Cardiology,,\n\
             E2,Bob,,Ray,,clinician,Oncology,E1,\n\
             E3,Cy,,Lo,,nurse,Cardiology,,deprovisioned\n"
        );
        let s = env.dir.import_csv(&admin(), after.as_bytes()).await.unwrap();
        assert_eq!((s.renamed, s.updated, s.unchanged, s.failed), (1, 2, 0, 0), "{s:?}");
        let mary = env.dir.find_account(&admin(), "mary.jones@kaiser.org").await.unwrap();
        assert_eq!(mary.address, "mary.smith@kaiser.org");
        assert_eq!(mary.aliases, vec!["mary.jones@kaiser.org".to_string()]);
        let bob = env.dir.find_account(&admin(), "bob.ray@kaiser.org").await.unwrap();
        assert_eq!((bob.category.as_str(), bob.department.as_str()), ("clinician", "Oncology"));
        assert_eq!(bob.supervisor.as_deref(), Some("mary.smith@kaiser.org"));
        let cy = env.dir.find_account(&admin(), "cy.lo@kaiser.org").await.unwrap();
        assert_eq!(cy.status, AccountStatus::Deprovisioned);
    })
    .await;
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_do_not_stop_the_others() {
    on_each_backend(async |env| {
        let csv = format!(
            "{HEADER}E1,Ann,,Lee,,clinician,Cardiology,,\n\
             E2,,,Lee,,clinician,Cardiology,,\n\
             E3,Bo,,Ray,,wizard,Cardiology,,\n\
             E1,Ann,,Lee,,clinician,Cardiology,,\n\
             E5,!!,,Ray,,nurse,Cardiology,,\n\
             E6,Di,,Ray,,nurse,Cardiology,E404,\n\
             E7,Ed,,Ray,,nurse,Cardiology,,retired\n\
             E8,Flo,,Ray,,nurse,Cardiology,,\n"
        );
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        let lines: Vec<(u64, &str)> = s
            .errors
            .iter()
            .map(|e| (e.line, e.reason.as_str()))
            .collect();
        let want = [
            (3, "the first name is required"),
            (4, "'wizard' is not a role category"),
            (5, "employee id E1 already appeared on line 2"),
            (6, "the first name '!!' has no letters"),
            (8, "'retired' is not a status"),
        ];
        assert_eq!(lines.len(), want.len(), "{lines:?}");
        for ((line, reason), (wline, wreason)) in lines.iter().zip(want) {
            assert_eq!(*line, wline, "{reason}");
            assert!(reason.contains(wreason), "line {line}: {reason}");
        }
        // A row created without its unknown supervisor is created, with a warning: the
        // counts add up to the rows.
        assert_eq!(s.warnings.len(), 1, "{s:?}");
        assert_eq!(s.warnings[0].line, 7);
        assert!(
            s.warnings[0]
                .reason
                .contains("supervisor E404 has no account")
        );
        assert_eq!(
            (s.created, s.failed),
            (3, 5),
            "E1, E6 and E8 are created: {s:?}"
        );
        assert_eq!(
            s.created + s.updated + s.unchanged + s.renamed + s.failed,
            s.rows
        );
        assert!(
            env.dir
                .find_account(&admin(), "flo.ray@kaiser.org")
                .await
                .is_ok()
        );
    })
    .await;
}

#[tokio::test]
async fn a_header_without_the_required_columns_is_refused() {
    on_each_backend(async |env| {
        let e = env
            .dir
            .import_csv(&admin(), "id,name\n1,Ann\n".as_bytes())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("lacks the column(s) employee_id, first, last"),
            "{e}"
        );
    })
    .await;
}

#[tokio::test]
async fn hr_status_follows_employment_and_never_undoes_a_security_decision() {
    on_each_backend(async |env| {
        let csv = format!("{HEADER}E1,Ann,,Lee,,nurse,Cardiology,,\nE2,Bob,,Ray,,nurse,Cardiology,,deprovisioned\n");
        env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        // IT disables Ann; HR still says active: she stays disabled.
        env.dir.set_status(&admin(), "ann.lee@kaiser.org", AccountStatus::Disabled).await.unwrap();
        // Bob is rehired.
        let csv = format!("{HEADER}E1,Ann,,Lee,,nurse,Cardiology,,active\nE2,Bob,,Ray,,nurse,Cardiology,,active\n");
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        assert_eq!((s.unchanged, s.updated), (1, 1), "{s:?}");
        let ann = env.dir.find_account(&admin(), "ann.lee@kaiser.org").await.unwrap();
        assert_eq!(ann.status, AccountStatus::Disabled);
        let bob = env.dir.find_account(&admin(), "bob.ray@kaiser.org").await.unwrap();
        assert_eq!(bob.status, AccountStatus::Active);
    })
    .await;
}

#[tokio::test]
async fn an_address_taken_by_another_process_during_an_import_is_not_shared() {
    on_each_backend(async |env| {
        // The import decides addresses from what it read at its start; a second process
        // creating the same name meanwhile must still end with two addresses.
        env.department("Cardiology", None).await;
        let other = env.second_process().await;
        let rows: String = (0..600)
            .map(|i| format!("P{i},Pat,,Kim{i},,nurse,Cardiology,,\n"))
            .collect();
        let csv = format!("{HEADER}{rows}E1,John,,Smith,,nurse,Cardiology,,\n");
        let actor = admin();
        let import = env.dir.import_csv(&actor, csv.as_bytes());
        let create = async {
            let new = crate::support::new_account("John", None, "Smith", "X1", "Cardiology");
            other.create_account(&admin(), &new).await.unwrap().address
        };
        let (summary, created) = tokio::join!(import, create);
        assert_eq!(summary.unwrap().failed, 0);
        let imported = env
            .dir
            .list_accounts(
                &admin(),
                &carepost_identity::ListFilter {
                    query: Some("john".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let addresses: std::collections::HashSet<_> =
            imported.iter().map(|a| a.address.clone()).collect();
        assert_eq!(addresses.len(), 2, "{addresses:?}");
        assert!(addresses.contains(&created));
    })
    .await;
}

#[tokio::test]
async fn semicolon_and_tab_separated_exports_are_read_and_others_are_named() {
    on_each_backend(async |env| {
        for (sep, id, first) in [(";", "S1", "Jörg"), ("\t", "S2", "Åsa")] {
            let csv = format!(
                "employee_id{sep}first{sep}last{sep}category{sep}department\n\
                 {id}{sep}{first}{sep}Weiß{sep}nurse{sep}Cardiology\n"
            );
            let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
            assert_eq!((s.created, s.failed), (1, 0), "{sep:?}: {s:?}");
        }
        for a in ["jorg.weiss@kaiser.org", "asa.weiss@kaiser.org"] {
            assert!(env.dir.find_account(&admin(), a).await.is_ok(), "{a}");
        }
        let e = env
            .dir
            .import_csv(
                &admin(),
                "employee_id|first|last|category|department\nP1|Ann|Lee|nurse|Cardiology\n"
                    .as_bytes(),
            )
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("separated by '|'"), "{e}");
    })
    .await;
}

#[tokio::test]
async fn people_with_one_legal_name_are_imported_through_the_collision_rules() {
    on_each_backend(async |env| {
        let csv = "employee_id,first,last,category,department,single_name\n\
                   M1,Suharto,,nurse,Cardiology,yes\n\
                   M2,Suharto,,clinician,Cardiology,yes\n\
                   M3,Admin,,nurse,Cardiology,yes\n\
                   M4,Bo,,nurse,Cardiology,\n\
                   M5,Cy,Lo,nurse,Cardiology,yes\n\
                   M6,Zoë 😀,Happy,nurse,Cardiology,no\n";
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        assert_eq!(s.created, 4, "{s:?}");
        let reasons: Vec<(u64, &str)> = s
            .errors
            .iter()
            .map(|e| (e.line, e.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert_eq!(reasons[0].0, 5);
        assert!(
            reasons[0].1.contains("mark it a single name"),
            "{reasons:?}"
        );
        assert_eq!(reasons[1].0, 6);
        assert!(
            reasons[1].1.contains("single name has no last"),
            "{reasons:?}"
        );
        for address in [
            "suharto@kaiser.org",
            "suharto2@kaiser.org",
            "admin2@kaiser.org",
            "zoe.happy@kaiser.org",
        ] {
            let a = env.dir.find_account(&admin(), address).await.unwrap();
            assert!(!a.address.contains("grinning"));
        }
        let one = env
            .dir
            .find_account(&admin(), "suharto@kaiser.org")
            .await
            .unwrap();
        assert_eq!(one.name.display(), "Suharto");
    })
    .await;
}

#[tokio::test]
async fn hr_reactivates_a_disabled_person_where_the_policy_says_so_and_a_rehire_gets_a_free_address()
 {
    for db in carepost_testkit::backends().await {
        let mut config = carepost_testkit::test_config(&db);
        config.import_reactivates_disabled = true;
        let env = crate::support::Env::with_config(db, config).await;
        let csv = format!(
            "{HEADER}E1,Ann,,Lee,,nurse,Cardiology,,disabled\nE2,Bob,,Ray,,nurse,Cardiology,,deprovisioned\n"
        );
        env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        // A year and a day on, Bob's quarantined address goes to a new Bob Ray.
        env.clock
            .advance(std::time::Duration::from_secs(366 * 86_400));
        let csv = format!("{HEADER}E3,Bob,,Ray,,nurse,Oncology,,\n");
        env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        let new_bob = env
            .dir
            .find_account(&admin(), "bob.ray@kaiser.org")
            .await
            .unwrap();
        assert_eq!(new_bob.employee_id, "E3");
        // Both return: Ann is enabled again (the policy allows it), Bob comes back under the
        // next free address, his old one staying his namesake's.
        let csv = format!(
            "{HEADER}E1,Ann,,Lee,,nurse,Cardiology,,active\nE2,Bob,,Ray,,nurse,Cardiology,,active\n"
        );
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        assert_eq!((s.updated, s.failed), (2, 0), "{s:?}");
        let ann = env
            .dir
            .find_account(&admin(), "ann.lee@kaiser.org")
            .await
            .unwrap();
        assert_eq!(ann.status, AccountStatus::Active);
        let bob = env
            .dir
            .find_account(&admin(), "bob.ray2@kaiser.org")
            .await
            .unwrap();
        assert_eq!(
            (bob.employee_id.as_str(), bob.status),
            ("E2", AccountStatus::Active)
        );
        let still = env
            .dir
            .find_account(&admin(), "bob.ray@kaiser.org")
            .await
            .unwrap();
        assert_eq!(still.employee_id, "E3");
    }
}
