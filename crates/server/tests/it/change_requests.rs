//! Changes to accounts: IT edits an account's department, category, supervisor and employee
//! id; a supervisor asks IT to rename or move one of their people, and IT approves (the change
//! is made) or declines with a note; the supervisor sees the outcome. Through the domain on
//! both backends, the console in a browser-like client, and the API.

use crate::browser::Browser;
use crate::support::{
    Env, admin, new_account, on_each_backend, server_with_nurse, with_cookies, with_token,
};
use carepost_identity::{Actor, IdentityError, RequestedChange, Role};
use carepost_store::AuditFilter;
use carepost_testkit::TestServer;
use std::time::Duration;

async fn person(
    env: &Env,
    first: &str,
    id: &str,
    dept: &str,
    role: Option<(Role, Option<&str>)>,
) -> Actor {
    let a = env
        .dir
        .create_account(&admin(), &new_account(first, None, "Staff", id, dept))
        .await
        .unwrap();
    if let Some((role, scope)) = role {
        env.dir
            .grant_role(&admin(), &a.address, &role, scope)
            .await
            .unwrap();
    }
    env.staff_actor(a.id, &a.address).await
}

fn moving(to: &str) -> RequestedChange {
    RequestedChange::Move {
        department: to.into(),
    }
}

#[tokio::test]
async fn a_supervisor_asks_it_decides_and_the_change_is_made_by_the_approver() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        let ann = env.create("Ann", None, "Lee", "T1").await;
        let bob = env.create("Bob", None, "Smith", "T2").await;
        let meg = person(
            env,
            "Meg",
            "S1",
            "Medicine",
            Some((Role::Supervisor, Some("Medicine"))),
        )
        .await;
        let phil = person(
            env,
            "Phil",
            "S2",
            "Pharmacy",
            Some((Role::Supervisor, Some("Pharmacy"))),
        )
        .await;
        let hal = person(env, "Hal", "H1", "Pharmacy", Some((Role::Helpdesk, None))).await;
        let ida = person(env, "Ida", "I1", "Pharmacy", Some((Role::ItAdmin, None))).await;

        // Who may ask: the supervisor of Ann's department (or above), not another's, not the
        // helpdesk, not the command line (a request is a person's).
        for who in [&phil, &hal, &admin()] {
            let e = env
                .dir
                .request_change(who, &ann, &moving("Pharmacy"), "HR-1 transfer")
                .await
                .unwrap_err();
            assert!(matches!(e, IdentityError::Forbidden(_)), "{}: {e}", who.who);
        }
        // What is asked must be possible, and say why.
        for (change, reason) in [
            (moving("Pharmacy"), "hr"),
            (moving("Cardiology"), "HR-1 transfer"),
            (moving("Nowhere"), "HR-1 transfer"),
        ] {
            let e = env
                .dir
                .request_change(&meg, &ann, &change, reason)
                .await
                .unwrap_err();
            assert!(matches!(e, IdentityError::Invalid(_)), "{change:?}: {e}");
        }
        let rename = RequestedChange::Rename {
            first: None,
            last: Some("Jones".into()),
            preferred: None,
        };
        let r_rename = env
            .dir
            .request_change(&meg, &bob, &rename, "HR-2 married, form attached")
            .await
            .unwrap();
        let r_move = env
            .dir
            .request_change(&meg, &ann, &moving("Pharmacy"), "HR-1 transfer")
            .await
            .unwrap();
        let annie = RequestedChange::Rename {
            first: None,
            last: None,
            preferred: Some("Annie".into()),
        };
        let r_declined = env
            .dir
            .request_change(&meg, &ann, &annie, "HR-3 she asked for it")
            .await
            .unwrap();
        assert_eq!(r_move.status, "open");
        assert_eq!(r_move.summary, "move to Pharmacy");
        assert_eq!(r_rename.summary, "rename: last name Jones");
        let open = env.dir.change_requests(&ida).await.unwrap();
        assert_eq!(open.len(), 3);

        // Only IT decides, and never on its own request.
        let e = env.dir.approve_change(&meg, r_move.id).await.unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let own = env
            .dir
            .request_change(&ida, &bob, &moving("Pharmacy"), "IT asks itself")
            .await
            .unwrap();
        // One open request per account and kind.
        let e = env
            .dir
            .request_change(&meg, &bob, &moving("Medicine"), "HR-5 another move")
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Conflict(_)), "{e}");
        // Neither a token nor the command line decides: four eyes compare people.
        let e = env
            .dir
            .approve_change(&admin(), r_move.id)
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let e = env.dir.approve_change(&ida, own.id).await.unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");

        let done = env.dir.approve_change(&ida, r_move.id).await.unwrap();
        assert_eq!(done.status, "approved");
        assert_eq!(
            env.dir
                .find_account(&admin(), &ann)
                .await
                .unwrap()
                .department,
            "Pharmacy"
        );
        let e = env.dir.approve_change(&ida, r_move.id).await.unwrap_err();
        assert!(matches!(e, IdentityError::NotFound(_)), "decided once: {e}");
        let e = env
            .dir
            .decline_change(&ida, r_declined.id, "")
            .await
            .unwrap_err();
        assert!(
            matches!(e, IdentityError::Invalid(_)),
            "a note is needed: {e}"
        );
        let no = env
            .dir
            .decline_change(&ida, r_declined.id, "not before the HR form")
            .await
            .unwrap();
        assert_eq!(no.status, "declined");
        let renamed = env.dir.approve_change(&ida, r_rename.id).await.unwrap();
        assert_eq!(renamed.status, "approved");
        let b = env.dir.find_account(&admin(), &bob).await.unwrap();
        assert!(b.address.starts_with("bob.jones@"), "{}", b.address);
        assert!(
            b.aliases.contains(&bob),
            "the old address stays: {:?}",
            b.aliases
        );

        // Ann left Meg's departments: Meg can no longer ask about her.
        let e = env
            .dir
            .request_change(&meg, &ann, &moving("Cardiology"), "HR-4 back again")
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        // Meg follows her requests and reads IT's note.
        let mine = env.dir.change_requests(&meg).await.unwrap();
        assert_eq!(mine.len(), 3);
        let declined = mine.iter().find(|r| r.id == r_declined.id).unwrap();
        assert_eq!(declined.note.as_deref(), Some("not before the HR form"));
        assert_eq!(
            declined.decided_by.as_deref(),
            Some(ida.who.label().as_str())
        );
        assert_eq!(
            env.dir.change_requests(&ida).await.unwrap().len(),
            1,
            "only IT's own is open"
        );

        // The audit trail holds the asking, the deciding, and the change made by the approver.
        let events = env
            .dir
            .audit_events(&admin(), &AuditFilter::default())
            .await
            .unwrap();
        let count = |a: &str| events.iter().filter(|e| e.action == a).count();
        assert_eq!(count("account.change_request"), 4);
        assert!(
            events
                .iter()
                .any(|e| e.action == "authz.denied" && e.details.contains("did not ask"))
        );
        assert_eq!(count("account.change_decide"), 3);
        let moved = events
            .iter()
            .find(|e| e.action == "account.update" && e.details.contains("Pharmacy"))
            .unwrap();
        assert_eq!(moved.actor, ida.who.label());

        // A supervisor who lost the department no longer speaks for its people: IT can only
        // decline what they asked before.
        let late = env
            .dir
            .request_change(&meg, &bob, &annie, "HR-6 a late request")
            .await
            .unwrap();
        env.dir
            .revoke_role(&admin(), &meg.who.label(), &Role::Supervisor)
            .await
            .unwrap();
        let e = env.dir.approve_change(&ida, late.id).await.unwrap_err();
        assert!(e.to_string().contains("may no longer ask"), "{e}");
        let no = env
            .dir
            .decline_change(&ida, late.id, "Meg moved on")
            .await
            .unwrap();
        assert_eq!(no.status, "declined");
    })
    .await;
}

/// A server with the nurse Ann in Cardiology, a Pharmacy, Meg who supervises Cardiology and
/// Ida of IT (both with the password `auth::GOOD`), and an IT API token.
async fn ward() -> (TestServer, String, String, String, String) {
    let (s, ann) = server_with_nurse(carepost_testkit::TestDb::sqlite()).await;
    let dir = s.running.context.directory.clone();
    dir.create_department(&admin(), "Pharmacy", None)
        .await
        .unwrap();
    let meg = crate::support::add_person(&dir, ("Meg", "Lead", "S1"), "Cardiology", "nurse").await;
    crate::support::grant_open_role(&s, &meg, &Role::Supervisor, Some("Cardiology")).await;
    let ida = crate::support::add_person(&dir, ("Ida", "Admin", "I1"), "Pharmacy", "nurse").await;
    crate::support::grant_open_role(&s, &ida, &Role::ItAdmin, None).await;
    let day = Duration::from_secs(86_400);
    let (_, it) = dir
        .create_api_token(&admin(), "it", &[Role::ItAdmin], day)
        .await
        .unwrap();
    (s, ann, meg, ida, it)
}

#[tokio::test]
async fn in_the_console_a_supervisor_asks_and_it_approves() {
    let (s, ann, meg, ida, _) = ward().await;
    let dir = s.running.context.directory.clone();

    let mut m = Browser::new(TestServer::start_shared(&s));
    m.sign_in(&meg).await;
    let page = m.get(&format!("/admin/accounts/{ann}")).await;
    assert!(page.body.contains("id=\"request-change\""), "{}", page.body);
    assert!(
        !page.body.contains("move-department"),
        "only IT moves directly"
    );
    let r = m
        .post(
            &format!("/admin/accounts/{ann}/request-change"),
            &[
                ("kind", "move"),
                ("department", "Pharmacy"),
                ("reason", "HR-7 transfer"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = m
        .get(&format!("/admin/accounts/{ann}?done=change-requested"))
        .await;
    assert!(r.body.contains("Request sent to IT"), "{}", r.body);
    let r = m.get("/admin/change-requests").await;
    assert!(
        r.body.contains("move to Pharmacy") && r.body.contains("open"),
        "{}",
        r.body
    );
    assert!(!r.body.contains(">Approve<"), "{}", r.body);
    let id = dir.change_requests(&admin()).await.unwrap()[0].id;
    let r = m
        .post(&format!("/admin/change-requests/{id}/approve"), &[])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    let mut i = Browser::new(TestServer::start_shared(&s));
    i.sign_in(&ida).await;
    let r = i.get("/admin/change-requests").await;
    assert!(
        r.body.contains("HR-7 transfer") && r.body.contains(">Approve<"),
        "{}",
        r.body
    );
    let r = i
        .post(&format!("/admin/change-requests/{id}/approve"), &[])
        .await;
    assert_eq!(
        r.header("location"),
        Some("/admin/change-requests?done=approved")
    );
    let r = i.get("/admin/change-requests?done=approved").await;
    assert!(
        r.body.contains("Approved: the change is made"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"no-requests\""), "{}", r.body);
    assert_eq!(
        dir.find_account(&admin(), &ann).await.unwrap().department,
        "Pharmacy"
    );
    let r = m.get("/admin/change-requests").await;
    assert!(r.body.contains(&format!("approved by {ida}")), "{}", r.body);
}

#[tokio::test]
async fn through_the_api_a_token_reads_but_only_people_ask_and_decide() {
    let (s, ann, meg, ida, it) = ward().await;
    let ask =
        r#"{"change": {"kind": "move", "department": "Pharmacy"}, "reason": "HR-9 transfer"}"#;
    let r = with_token(
        &s,
        &it,
        "POST",
        &format!("/api/v1/accounts/{ann}/change-requests"),
        Some(ask),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = with_token(
        &s,
        &it,
        "POST",
        &format!("/api/v1/accounts/{ann}/change-requests"),
        Some(r#"{"change": {"kind": "promote"}, "reason": "x"}"#),
    )
    .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);

    // Meg asks through the API with her session.
    let mut m = Browser::new(TestServer::start_shared(&s));
    m.sign_in(&meg).await;
    let cookie = m.cookies.join("; ");
    let path = format!("/api/v1/accounts/{ann}/change-requests");
    let r = with_cookies(&s, &cookie, "POST", &path, Some(ask)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["change"]["kind"], "move");

    let r = with_token(&s, &it, "GET", "/api/v1/change-requests", None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.body);
    let r = with_token(
        &s,
        &it,
        "POST",
        &format!("/api/v1/change-requests/{id}/decline"),
        Some(r#"{"note": ""}"#),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = with_token(
        &s,
        &it,
        "POST",
        &format!("/api/v1/change-requests/{id}/approve"),
        None,
    )
    .await;
    assert_eq!(
        r.status, 403,
        "a token has no person to compare: {}",
        r.body
    );
    // An IT administrator signed in approves through the API.
    let mut i = Browser::new(TestServer::start_shared(&s));
    i.sign_in(&ida).await;
    let cookie = i.cookies.join("; ");
    let path = format!("/api/v1/change-requests/{id}/approve");
    let r = with_cookies(&s, &cookie, "POST", &path, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "approved");
    let r = with_cookies(&s, &cookie, "POST", &path, None).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = with_token(&s, &it, "POST", "/api/v1/change-requests/999/approve", None).await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test]
async fn it_edits_department_category_supervisor_and_employee_id() {
    on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        env.department("Pharmacy", None).await;
        let ann = env.create("Ann", None, "Lee", "T1").await;
        let bob = env.create("Bob", None, "Smith", "T2").await;
        let hal = person(env, "Hal", "H1", "Pharmacy", Some((Role::Helpdesk, None))).await;
        let edit = |department: Option<&str>,
                    category: Option<&str>,
                    supervisor: Option<&str>,
                    employee_id: Option<&str>| {
            carepost_identity::AccountEdit {
                department: department.map(str::to_string),
                category: category.map(str::to_string),
                supervisor: supervisor.map(str::to_string),
                employee_id: employee_id.map(str::to_string),
            }
        };
        let e = env
            .dir
            .edit_account(&hal, &ann, &edit(Some("Pharmacy"), None, None, None))
            .await
            .unwrap_err();
        assert!(matches!(e, IdentityError::Forbidden(_)), "{e}");
        let a = env
            .dir
            .edit_account(
                &admin(),
                &ann,
                &edit(Some("Pharmacy"), Some("nurse"), Some(&bob), Some("T9")),
            )
            .await
            .unwrap();
        assert_eq!(
            (
                a.department.as_str(),
                a.category.as_str(),
                a.supervisor.as_deref(),
                a.employee_id.as_str()
            ),
            ("Pharmacy", "nurse", Some(bob.as_str()), "T9")
        );
        // Found by the new employee id; the old one is free.
        let found = env
            .dir
            .list_accounts(
                &admin(),
                &carepost_identity::ListFilter {
                    query: Some("T9".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        for (bad, want) in [
            (edit(Some("Nowhere"), None, None, None), "no department"),
            (edit(None, Some("wizard"), None, None), "wizard"),
            (edit(None, None, Some(&ann), None), "loop"),
            (edit(None, None, None, Some("T2")), "already has an account"),
            (
                edit(Some("Pharmacy"), None, None, None),
                "nothing to change",
            ),
        ] {
            let e = env
                .dir
                .edit_account(&admin(), &ann, &bad)
                .await
                .unwrap_err();
            assert!(e.to_string().contains(want), "{bad:?}: {e}");
        }
        // Ann reports to Bob: Bob cannot report to Ann; nor to a colleague who left.
        let e = env
            .dir
            .edit_account(&admin(), &bob, &edit(None, None, Some(&ann), None))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("loop"), "{e}");
        let cy = env.create("Cy", None, "Gone", "T3").await;
        env.dir
            .set_status(&admin(), &cy, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap();
        let e = env
            .dir
            .edit_account(&admin(), &bob, &edit(None, None, Some(&cy), None))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("must be an active account"), "{e}");
        let a = env
            .dir
            .edit_account(&admin(), &ann, &edit(None, None, Some(""), None))
            .await
            .unwrap();
        assert_eq!(a.supervisor, None);
        let events = env
            .dir
            .audit_events(&admin(), &AuditFilter::default())
            .await
            .unwrap();
        let update = events
            .iter()
            .find(|e| e.action == "account.update" && e.details.contains("T9"))
            .unwrap();
        for key in ["department", "category", "supervisor", "employee_id"] {
            assert!(
                update.details.contains(&format!("\"{key}\"")),
                "{}",
                update.details
            );
        }
    })
    .await;
}

#[tokio::test]
async fn it_edits_an_account_through_the_api_and_the_console() {
    let (s, ann, _, ida, it) = ward().await;
    let dir = s.running.context.directory.clone();
    let path = format!("/api/v1/accounts/{ann}");
    let body = r#"{"department": "Pharmacy", "category": "clinician"}"#;
    let r = with_token(&s, &it, "PATCH", &path, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["department"], "Pharmacy");
    assert_eq!(r.json()["category"], "clinician");

    let mut i = Browser::new(TestServer::start_shared(&s));
    i.sign_in(&ida).await;
    let page = i.get(&format!("/admin/accounts/{ann}")).await;
    assert!(page.body.contains("id=\"edit\""), "{}", page.body);
    let r = i
        .post(
            &format!("/admin/accounts/{ann}/edit"),
            &[
                ("department", "Cardiology"),
                ("supervisor", &ida),
                ("category", ""),
                ("employee_id", ""),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let a = dir.find_account(&admin(), &ann).await.unwrap();
    assert_eq!(
        (
            a.department.as_str(),
            a.supervisor.as_deref(),
            a.category.as_str()
        ),
        ("Cardiology", Some(ida.as_str()), "clinician")
    );
    let r = i
        .post(
            &format!("/admin/accounts/{ann}/edit"),
            &[("supervisor", "none")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        dir.find_account(&admin(), &ann).await.unwrap().supervisor,
        None
    );
}

#[tokio::test]
async fn an_hr_import_does_not_undo_a_move_it_approved_and_says_so() {
    on_each_backend(async |env| {
        env.department("Medicine", None).await;
        env.department("Cardiology", Some("Medicine")).await;
        env.department("Pharmacy", None).await;
        let header = "employee_id,first,last,category,department\n";
        let csv = format!("{header}T1,Ann,Lee,nurse,Cardiology\n");
        env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        let meg = person(
            env,
            "Meg",
            "S1",
            "Medicine",
            Some((Role::Supervisor, Some("Medicine"))),
        )
        .await;
        let ida = person(env, "Ida", "I1", "Pharmacy", Some((Role::ItAdmin, None))).await;
        let r = env
            .dir
            .request_change(
                &meg,
                "ann.lee@kaiser.org",
                &moving("Pharmacy"),
                "HR-7 transfer",
            )
            .await
            .unwrap();
        env.dir.approve_change(&ida, r.id).await.unwrap();
        // HR's feed has not caught up: the move stays, and the report says why.
        let s = env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
        let ann = env
            .dir
            .find_account(&admin(), "ann.lee@kaiser.org")
            .await
            .unwrap();
        assert_eq!(ann.department, "Pharmacy");
        assert_eq!(s.warnings.len(), 1, "{s:?}");
        assert!(
            s.warnings[0]
                .reason
                .contains(&format!("change request #{} moved them to Pharmacy", r.id)),
            "{s:?}"
        );
        // Once HR agrees there is nothing to report.
        let agreed = format!("{header}T1,Ann,Lee,nurse,Pharmacy\n");
        let s = env
            .dir
            .import_csv(&admin(), agreed.as_bytes())
            .await
            .unwrap();
        assert!(s.warnings.is_empty(), "{s:?}");
    })
    .await;
}

#[tokio::test]
async fn fields_the_directory_owns_are_reported_not_overwritten() {
    let db = carepost_testkit::TestDb::sqlite();
    let mut config = carepost_testkit::test_config(&db);
    config.import_owns = vec!["category".into(), "department".into(), "status".into()];
    let env = Env::with_config(db, config).await;
    env.department("Cardiology", None).await;
    let header = "employee_id,first,last,category,department\n";
    let csv = format!("{header}T1,Ann,Lee,nurse,Cardiology\n");
    env.dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
    let renamed = format!("{header}T1,Annie,Lee,nurse,Cardiology\n");
    let s = env
        .dir
        .import_csv(&admin(), renamed.as_bytes())
        .await
        .unwrap();
    assert_eq!(s.renamed, 0, "{s:?}");
    assert!(
        s.warnings[0].reason.starts_with("name: the file differs"),
        "{s:?}"
    );
    assert!(
        env.dir
            .find_account(&admin(), "ann.lee@kaiser.org")
            .await
            .is_ok()
    );
}
