//! Departments after they were made (issue 17, point 13): renamed, moved without loops,
//! removed when empty, built from an HR `department_path`; and people who move keep a
//! supervisor who looks after them.

use crate::support::{admin, new_account, on_each_backend};
use carepost_identity::{AccountEdit, Role};

#[tokio::test]
async fn departments_are_renamed_moved_without_loops_and_removed_only_when_empty() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        let ann = env
            .dir
            .create_account(
                &admin(),
                &new_account("Ann", None, "Lee", "E1", "Cardiology"),
            )
            .await
            .unwrap()
            .address;
        let d = env
            .dir
            .rename_department(&admin(), "cardiology", "Heart Centre")
            .await
            .unwrap();
        assert_eq!(
            (d.name.as_str(), d.parent.as_deref()),
            ("Heart Centre", Some("Medicine"))
        );
        let a = env.dir.find_account(&admin(), &ann).await.unwrap();
        assert_eq!(a.department, "Heart Centre");
        let e = env
            .dir
            .rename_department(&admin(), "Heart Centre", "medicine")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        // Below itself, or below its own department: refused.
        for parent in ["Medicine", "Heart Centre"] {
            let e = env
                .dir
                .move_department(&admin(), "Medicine", Some(parent))
                .await
                .unwrap_err();
            assert!(e.to_string().contains("cannot go below itself"), "{e}");
        }
        let e = env
            .dir
            .remove_department(&admin(), "Medicine")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 department below it"), "{e}");
        env.dir
            .move_department(&admin(), "Heart Centre", None)
            .await
            .unwrap();
        env.dir
            .remove_department(&admin(), "Medicine")
            .await
            .unwrap();
        let e = env
            .dir
            .remove_department(&admin(), "Heart Centre")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 account"), "{e}");
        let names: Vec<String> = env
            .dir
            .list_departments(&admin())
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, ["Heart Centre"]);
        let actions: Vec<String> = env
            .dir
            .audit_events(&admin(), &Default::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .filter(|a| a.starts_with("department."))
            .collect();
        assert_eq!(
            actions,
            [
                "department.create",
                "department.create",
                "department.rename",
                "department.move",
                "department.remove"
            ]
        );
    })
    .await;
}

#[tokio::test]
async fn a_moved_person_is_never_left_with_a_supervisor_who_cannot_see_them() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Oncology", None).await;
        let person = |first: &'static str, id: &'static str, dept: &'static str| {
            let dir = env.dir.clone();
            async move {
                dir.create_account(&admin(), &new_account(first, None, "Staff", id, dept))
                    .await
                    .unwrap()
                    .address
            }
        };
        let meg = person("Meg", "S1", "Medicine").await;
        let otto = person("Otto", "S2", "Oncology").await;
        let hal = person("Hal", "M1", "Cardiology").await;
        env.dir
            .grant_role(&admin(), &meg, &Role::Supervisor, Some("Medicine"))
            .await
            .unwrap();
        env.dir
            .grant_role(&admin(), &otto, &Role::Supervisor, Some("Oncology"))
            .await
            .unwrap();
        let ann = person("Ann", "E1", "Cardiology").await;
        let bo = person("Bo", "E2", "Cardiology").await;
        let cy = person("Cy", "E3", "Cardiology").await;
        let set_supervisor = |who: String, sup: String| {
            let dir = env.dir.clone();
            async move {
                let edit = AccountEdit {
                    supervisor: Some(sup),
                    ..AccountEdit::default()
                };
                dir.edit_account(&admin(), &who, &edit).await.unwrap();
            }
        };
        set_supervisor(ann.clone(), meg.clone()).await;
        set_supervisor(bo.clone(), hal.clone()).await;
        set_supervisor(cy.clone(), meg.clone()).await;
        let to_oncology = AccountEdit {
            department: Some("Oncology".into()),
            ..AccountEdit::default()
        };
        // Ann moves to Oncology: Meg does not look after it, Otto does.
        env.dir
            .edit_account(&admin(), &ann, &to_oncology)
            .await
            .unwrap();
        let a = env.dir.find_account(&admin(), &ann).await.unwrap();
        assert_eq!(a.supervisor.as_deref(), Some(otto.as_str()));
        // Bo's supervisor is a manager HR named, without the role: left as HR set it.
        env.dir
            .edit_account(&admin(), &bo, &to_oncology)
            .await
            .unwrap();
        let b = env.dir.find_account(&admin(), &bo).await.unwrap();
        assert_eq!(b.supervisor.as_deref(), Some(hal.as_str()));
        // Cardiology leaves Medicine: Meg no longer covers Cy, and nobody supervises
        // Cardiology, so Cy has no supervisor rather than one who cannot see them.
        env.dir
            .move_department(&admin(), "Cardiology", None)
            .await
            .unwrap();
        let c = env.dir.find_account(&admin(), &cy).await.unwrap();
        assert_eq!(c.supervisor, None);
    })
    .await;
}

#[tokio::test]
async fn an_hr_department_path_builds_the_tree() {
    on_each_backend(async |env| {
        let csv = "employee_id,first,last,category,department_path\n\
                   P1,Ann,Lee,nurse,Medicine/Cardiology\n\
                   P2,Bo,Ray,nurse,Medicine/Cardiology/Cath Lab\n\
                   P3,Cy,Lo,nurse,Medicine//Oops\n";
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        assert_eq!(
            (s.created, s.failed, s.departments_created),
            (2, 1, 3),
            "{s:?}"
        );
        assert!(s.errors[0].reason.contains("empty part"), "{s:?}");
        let tree: Vec<(String, Option<String>)> = env
            .dir
            .list_departments(&admin())
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.name, d.parent))
            .collect();
        assert!(
            tree.contains(&("Cardiology".into(), Some("Medicine".into()))),
            "{tree:?}"
        );
        assert!(
            tree.contains(&("Cath Lab".into(), Some("Cardiology".into()))),
            "{tree:?}"
        );
        assert!(tree.contains(&("Medicine".into(), None)), "{tree:?}");
        let bo = env
            .dir
            .find_account(&admin(), "bo.ray@kaiser.org")
            .await
            .unwrap();
        assert_eq!(bo.department, "Cath Lab");
    })
    .await;
}

#[tokio::test]
async fn a_rename_keeps_the_mfa_rule_and_an_application_keeps_its_department() {
    let db = carepost_testkit::TestDb::sqlite();
    let mut config = carepost_testkit::test_config(&db);
    config.mfa.required_departments = vec!["ICU".into()];
    let env = crate::support::Env::with_config(db, config).await;
    env.department("ICU", None).await;
    let e = env
        .dir
        .rename_department(&admin(), "ICU", "Intensive Care")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("mfa.required_departments"), "{e}");
    // An application open to one department holds it, like its people would.
    env.department("Radiology", None).await;
    let provider = carepost_oidc::Provider::new(
        env.store.clone(),
        env.dir.clone(),
        env.config.clone(),
        env.clock.clone(),
        std::sync::Arc::new(carepost_types::SeededRng::new(3)),
    );
    provider
        .register_client(
            &admin(),
            &carepost_oidc::NewClient {
                name: "PACS".into(),
                redirect_uris: vec!["https://pacs.kaiser.org/cb".into()],
                allowed_departments: vec!["Radiology".into()],
                ..carepost_oidc::NewClient::default()
            },
        )
        .await
        .unwrap();
    let e = env
        .dir
        .remove_department(&admin(), "Radiology")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("1 application"), "{e}");
}
