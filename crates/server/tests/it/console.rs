//! The console as IT and supervisors use it (issue 17, points 15-19): one shell with the
//! sections a role may use, a styled refusal naming the role needed, the accounts table, the
//! department tree and roles overview, an account's sign-in log, the audit filters, times and
//! event names in words, and forms that answer with a redirect.

use crate::browser::Browser;
use crate::support::{add_person, grant_open_role};
use carepost_identity::Role;
use carepost_testkit::{TestDb, TestServer};

/// A server with Ann, a nurse in Cardiology, holding `role` (with a second factor), signed in.
async fn signed_in_with(role: Role, scope: Option<&str>) -> (Browser, String) {
    let (s, ann) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    grant_open_role(&s, &ann, &role, scope).await;
    let mut b = Browser::new(s);
    b.sign_in(&ann).await;
    (b, ann)
}

#[tokio::test]
async fn every_console_page_carries_the_navigation_of_its_role() {
    let (mut b, _) = signed_in_with(Role::Helpdesk, None).await;
    for path in [
        "/admin",
        "/admin/accounts",
        "/admin/departments",
        "/admin/sources",
        "/admin/policies",
        "/admin/reset-requests",
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(
            page.body.contains(r#"id="console-nav""#),
            "{path}: {}",
            page.body
        );
        assert!(
            page.body
                .contains(&format!(r#"<a href="{path}" aria-current="page">"#)),
            "{path} is marked as the page shown: {}",
            page.body
        );
        // Helpdesk unlocks and resets; the audit trail and single sign-on are not theirs.
        assert!(page.body.contains(r#"href="/admin/sources""#), "{path}");
        assert!(!page.body.contains(r#"href="/admin/audit""#), "{path}");
        assert!(!page.body.contains(r#"href="/admin/apps""#), "{path}");
    }
}

#[tokio::test]
async fn a_refusal_is_a_styled_page_that_names_the_role_it_needs() {
    let (mut b, _) = signed_in_with(Role::Helpdesk, None).await;
    let page = b.get("/admin/apps").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(page.body.contains(r#"id="refused""#), "{}", page.body);
    assert!(
        page.body.contains("that needs the it-admin role"),
        "{}",
        page.body
    );
    // Inside the shell, with what this person may use instead.
    assert!(
        page.body.contains(r#"href="/admin/sources""#),
        "{}",
        page.body
    );

    // Staff without a role: the same page, no navigation, a way back to their account.
    let s = TestServer::start_shared(&b.s);
    let dir = s.running.context.directory.clone();
    let nia = add_person(&dir, ("Nia", "Cole", "N1"), "Cardiology", "nurse").await;
    let mut other = Browser::new(s);
    other.sign_in(&nia).await;
    let page = other.get("/admin").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("administrative role"), "{}", page.body);
    assert!(!page.body.contains(r#"id="console-nav""#), "{}", page.body);
    assert!(page.body.contains(r#"href="/account""#), "{}", page.body);
}

/// Medicine > Cardiology, and Surgery; people in each, one helpdesk agent, one supervisor of
/// Cardiology; Ann signs in once.
async fn organization(env: &crate::support::Env) -> [String; 4] {
    env.department("Medicine", None).await;
    env.department("Cardiology", Some("Medicine")).await;
    env.department("Surgery", None).await;
    let dir = &env.dir;
    let ann = add_person(dir, ("Ann", "Lee", "E1"), "Cardiology", "nurse").await;
    let bob = add_person(dir, ("Bob", "Marsh", "E2"), "Medicine", "clinician").await;
    let cy = add_person(dir, ("Cy", "Abbot", "E3"), "Surgery", "nurse").await;
    let sue = add_person(dir, ("Sue", "Kay", "E4"), "Cardiology", "nurse").await;
    let admin = crate::support::admin();
    dir.grant_role(&admin, &bob, &Role::Helpdesk, None)
        .await
        .unwrap();
    dir.grant_role(&admin, &sue, &Role::Supervisor, Some("Cardiology"))
        .await
        .unwrap();
    let sue_id = dir.find_account(&admin, &sue).await.unwrap().id;
    env.with_second_factor(sue_id).await;
    env.clock.advance(std::time::Duration::from_secs(60));
    let attempt = carepost_identity::SignIn {
        login: &ann,
        secret: crate::auth::GOOD,
        protocol: carepost_identity::Protocol::Imap,
        source: None,
    };
    assert!(dir.sign_in(&attempt).await.unwrap().is_ok());
    [ann, bob, cy, sue]
}

#[tokio::test]
async fn the_accounts_table_filters_sorts_and_pages_on_each_backend() {
    use carepost_identity::{ListFilter, RosterRequest, RosterSort};
    crate::support::on_each_backend(async |env| {
        let [ann, bob, cy, sue] = organization(env).await;
        let admin = crate::support::admin();
        let dir = &env.dir;
        let addresses = |r: &carepost_identity::Roster| -> Vec<String> {
            r.entries
                .iter()
                .map(|e| e.account.address.clone())
                .collect()
        };
        let ask = |filter: ListFilter, sort: RosterSort, descending: bool| RosterRequest {
            filter,
            sort,
            descending,
            page: 0,
            per_page: 100,
        };
        // By last name; a subtree holds its departments' people.
        let r = dir
            .roster(
                &admin,
                &ask(
                    ListFilter {
                        department: Some("Medicine".into()),
                        ..Default::default()
                    },
                    RosterSort::Name,
                    false,
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            addresses(&r),
            [sue.clone(), ann.clone(), bob.clone()],
            "Kay, Lee, Marsh"
        );
        assert_eq!(r.total, 3);
        // Category, role, and the columns that come with a row.
        let r = dir
            .roster(
                &admin,
                &ask(
                    ListFilter {
                        category: Some("nurse".into()),
                        ..Default::default()
                    },
                    RosterSort::Name,
                    true,
                ),
            )
            .await
            .unwrap();
        assert_eq!(addresses(&r), [ann.clone(), sue.clone(), cy.clone()]);
        let sue_row = &r.entries[1];
        assert_eq!(
            sue_row.roles,
            [("supervisor".to_string(), Some("Cardiology".to_string()))]
        );
        assert_eq!(sue_row.second_factor, "authenticator app");
        assert!(sue_row.has_factor);
        assert_eq!(r.entries[0].second_factor, "none");
        let r = dir
            .roster(
                &admin,
                &ask(
                    ListFilter {
                        role: Some(Role::Helpdesk),
                        ..Default::default()
                    },
                    RosterSort::Name,
                    false,
                ),
            )
            .await
            .unwrap();
        assert_eq!(addresses(&r), [bob]);
        // The last sign-in: the one who signed in first, those who never did last.
        let r = dir
            .roster(
                &admin,
                &ask(ListFilter::default(), RosterSort::LastSignIn, true),
            )
            .await
            .unwrap();
        assert_eq!(r.entries[0].account.address, ann);
        assert!(r.entries[0].last_sign_in.is_some());
        assert!(r.entries[1..].iter().all(|e| e.last_sign_in.is_none()));
        // Pages: two per page, the second holds the rest, the total is the whole.
        let mut two = ask(ListFilter::default(), RosterSort::EmployeeId, false);
        two.per_page = 2;
        two.page = 1;
        let r = dir.roster(&admin, &two).await.unwrap();
        assert_eq!(addresses(&r), [cy.clone(), sue.clone()]);
        assert_eq!(r.total, 4);
        // A supervisor sees their department only, and nothing outside it.
        let sue_id = dir.find_account(&admin, &sue).await.unwrap().id;
        let supervisor = dir.actor_for(sue_id, &sue, None).await.unwrap();
        let r = dir
            .roster(
                &supervisor,
                &ask(ListFilter::default(), RosterSort::Name, false),
            )
            .await
            .unwrap();
        assert_eq!(addresses(&r), [sue.clone(), ann.clone()]);
        let outside = dir
            .roster(
                &supervisor,
                &ask(
                    ListFilter {
                        department: Some("Surgery".into()),
                        ..Default::default()
                    },
                    RosterSort::Name,
                    false,
                ),
            )
            .await;
        assert!(
            matches!(outside, Err(carepost_identity::IdentityError::Forbidden(_))),
            "{outside:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_department_tree_counts_people_and_names_supervisors_on_each_backend() {
    crate::support::on_each_backend(async |env| {
        let [_, bob, _, sue] = organization(env).await;
        let admin = crate::support::admin();
        let tree = env.dir.department_tree(&admin).await.unwrap();
        let shape: Vec<(String, usize, i64, i64)> = tree
            .iter()
            .map(|n| (n.name.clone(), n.depth, n.people, n.people_within))
            .collect();
        assert_eq!(
            shape,
            [
                ("Medicine".to_string(), 0, 1, 3),
                ("Cardiology".to_string(), 1, 2, 2),
                ("Surgery".to_string(), 0, 1, 1),
            ]
        );
        assert_eq!(tree[1].supervisors, std::slice::from_ref(&sue));
        assert!(tree[0].has_children && !tree[1].has_children);
        // The roles overview: each holder, where, and whether the role is open yet.
        let holders = env.dir.role_holders(&admin).await.unwrap();
        let seen: Vec<(String, String, Option<String>, bool)> = holders
            .iter()
            .map(|h| (h.role.clone(), h.address.clone(), h.scope.clone(), h.open))
            .collect();
        assert_eq!(
            seen,
            [
                ("helpdesk".to_string(), bob.clone(), None, false),
                (
                    "supervisor".to_string(),
                    sue.clone(),
                    Some("Cardiology".to_string()),
                    true
                ),
            ]
        );
        // A supervisor's tree starts at their department.
        let sue_id = env.dir.find_account(&admin, &sue).await.unwrap().id;
        let supervisor = env.dir.actor_for(sue_id, &sue, None).await.unwrap();
        let theirs = env.dir.department_tree(&supervisor).await.unwrap();
        assert_eq!(theirs.len(), 1);
        assert_eq!(
            (theirs[0].name.as_str(), theirs[0].depth),
            ("Cardiology", 0)
        );
    })
    .await;
}

#[tokio::test]
async fn it_sorts_the_table_and_acts_on_the_people_picked_after_a_confirmation() {
    let (mut b, ann) = signed_in_with(Role::ItAdmin, None).await;
    let dir = b.s.running.context.directory.clone();
    let admin = crate::support::admin();
    let lou = add_person(&dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
    let mia = add_person(&dir, ("Mia", "Ortiz", "M1"), "Cardiology", "clinician").await;
    // A newcomer from HR: no password yet.
    let new = crate::support::new_account("Ned", None, "Vale", "N9", "Cardiology");
    let ned = dir.create_account(&admin, &new).await.unwrap().address;

    let page = b
        .get("/admin/accounts?sort=employee_id&desc=1&per=50")
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let order: Vec<usize> = [&ned, &mia, &lou, &ann]
        .iter()
        .map(|a| page.body.find(&format!(r#"value="{a}""#)).expect(a))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "employee ids descending: {order:?}"
    );
    assert!(
        page.body.contains(r#"aria-sort="descending""#),
        "{}",
        page.body
    );
    assert!(page.body.contains("1–5 of 5 accounts"), "{}", page.body);
    // (The fifth is the first administrator.) The column's link sorts the other way round,
    // keeping the filters.
    assert!(
        page.body
            .contains("/admin/accounts?sort=employee_id&#38;per=50"),
        "{}",
        page.body
    );
    let nurses = b.get("/admin/accounts?category=nurse").await;
    assert!(nurses.body.contains(&lou) && !nurses.body.contains(&format!(r#"value="{mia}""#)));

    // Disable two: first a page that counts them, and nothing done yet.
    let back = "/admin/accounts?sort=employee_id";
    let ask = b
        .post(
            "/admin/accounts/bulk",
            &[
                ("action", "disable"),
                ("pick", &lou),
                ("pick", &mia),
                ("back", back),
            ],
        )
        .await;
    assert_eq!(ask.status, 200, "{}", ask.body);
    assert!(ask.body.contains("Disable 2 people?"), "{}", ask.body);
    let status = |a: &str| {
        let dir = dir.clone();
        let a = a.to_string();
        async move {
            dir.find_account(&crate::support::admin(), &a)
                .await
                .unwrap()
                .status
        }
    };
    assert_eq!(status(&lou).await, carepost_identity::AccountStatus::Active);
    let done = b
        .post(
            "/admin/accounts/bulk",
            &[
                ("action", "disable"),
                ("confirmed", "yes"),
                ("pick", &lou),
                ("pick", &mia),
                ("back", back),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let to = done.header("location").unwrap().to_string();
    assert_eq!(to, "/admin/accounts?sort=employee_id&done=disabled");
    assert!(
        b.get(&to)
            .await
            .body
            .contains("The people you picked are disabled")
    );
    assert_eq!(
        status(&lou).await,
        carepost_identity::AccountStatus::Disabled
    );
    assert_eq!(
        status(&mia).await,
        carepost_identity::AccountStatus::Disabled
    );

    // Export: a CSV of the people picked.
    let csv = b
        .post(
            "/admin/accounts/bulk",
            &[("action", "export"), ("confirmed", "yes"), ("pick", &ann)],
        )
        .await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let mut lines = csv.body.lines();
    assert_eq!(
        lines.next(),
        Some(r#""address","name","employee_id","department","category","status","supervisor""#)
    );
    assert_eq!(
        lines.next(),
        Some(format!(r#""{ann}","Ann Lee","E1","Cardiology","nurse","active","""#).as_str())
    );

    // Invitations: the newcomer gets a slip; Ann, who has a password, is left out and told why.
    let slips = b
        .post(
            "/admin/accounts/bulk",
            &[
                ("action", "invite"),
                ("confirmed", "yes"),
                ("pick", &ned),
                ("pick", &ann),
            ],
        )
        .await;
    assert_eq!(slips.status, 200, "{}", slips.body);
    assert!(
        slips
            .body
            .contains(&format!(r#"<strong class="slip-address">{ned}</strong>"#)),
        "{}",
        slips.body
    );
    assert!(
        slips.body.contains(r#"id="left-out""#) && slips.body.contains(&format!("{ann}: ")),
        "{}",
        slips.body
    );
}

#[tokio::test]
async fn departments_are_a_tree_and_each_change_answers_with_a_redirect() {
    let (mut b, ann) = signed_in_with(Role::ItAdmin, None).await;
    let dir = b.s.running.context.directory.clone();
    let admin = crate::support::admin();
    dir.create_department(&admin, "Radiology", None)
        .await
        .unwrap();
    dir.create_department(&admin, "Medicine", None)
        .await
        .unwrap();
    add_person(&dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
    let sue = add_person(&dir, ("Sue", "Kay", "S1"), "Cardiology", "nurse").await;
    dir.grant_role(&admin, &sue, &Role::Supervisor, Some("Cardiology"))
        .await
        .unwrap();
    let change =
        |action: &'static str, dept: &'static str, new_name: &'static str, parent: &'static str| {
            [
                ("department", dept),
                ("action", action),
                ("new_name", new_name),
                ("parent", parent),
            ]
        };
    // Rename, move, a refusal in place, remove: each success is a redirect to what it says.
    let r = b
        .post(
            "/admin/departments/change",
            &change("move", "Cardiology", "", "Medicine"),
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/admin/departments?done=moved&name=Cardiology")
    );
    let page = b.get("/admin/departments?done=moved&name=Cardiology").await;
    assert!(
        page.body.contains("Cardiology is now within Medicine."),
        "{}",
        page.body
    );
    // The tree: Medicine holds Cardiology's people, its branch opens and closes.
    let tree = &page.body[page.body.find(r#"id="departments""#).unwrap()..];
    let medicine = tree.find("<strong>Medicine</strong>").unwrap();
    let cardiology = tree.find("<strong>Cardiology</strong>").unwrap();
    let radiology = tree.find("<strong>Radiology</strong>").unwrap();
    assert!(medicine < cardiology && cardiology < radiology, "{tree}");
    assert!(
        tree[..cardiology].contains("<details open><summary><strong>Medicine</strong>"),
        "{tree}"
    );
    assert!(
        tree[medicine..cardiology].contains(">3 people</a>"),
        "Ann, Lou and Sue: {tree}"
    );
    assert!(
        tree[cardiology..radiology].contains(&format!(r#"<a href="/admin/accounts/{sue}">"#)),
        "{tree}"
    );
    assert!(tree[radiology..].contains("no supervisor"), "{tree}");
    let r = b
        .post(
            "/admin/departments/change",
            &change("rename", "Radiology", "Imaging", ""),
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/admin/departments?done=renamed&name=Imaging")
    );
    assert!(
        b.get("/admin/departments?done=renamed&name=Imaging")
            .await
            .body
            .contains("The department is now called Imaging.")
    );
    let r = b
        .post(
            "/admin/departments/change",
            &change("remove", "Medicine", "", ""),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("is not empty"), "{}", r.body);
    let r = b
        .post(
            "/admin/departments/change",
            &change("remove", "Imaging", "", ""),
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/admin/departments?done=removed")
    );
    // A link cannot make the page claim a change to a department that is not there.
    let fake = b.get("/admin/departments?done=renamed&name=Nowhere").await;
    assert!(!fake.body.contains("Nowhere"), "{}", fake.body);

    // The roles overview: who holds what, where, and whether it waits for a second factor.
    let roles = b.get("/admin/roles").await;
    assert_eq!(roles.status, 200, "{}", roles.body);
    let supervisors = &roles.body[roles.body.find(r#"id="role-supervisor""#).unwrap()..];
    let supervisors = &supervisors[..supervisors.find("</section>").unwrap()];
    assert!(
        supervisors.contains(&sue) && supervisors.contains("Cardiology and below"),
        "{supervisors}"
    );
    assert!(
        supervisors.contains("waits for a second factor"),
        "{supervisors}"
    );
    let it = &roles.body[roles.body.find(r#"id="role-it-admin""#).unwrap()..];
    assert!(it[..it.find("</section>").unwrap()].contains(&ann));
}

#[tokio::test]
async fn a_supervisor_sees_their_own_branch_and_no_roles_overview() {
    let (s, _) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let dir = s.running.context.directory.clone();
    let admin = crate::support::admin();
    dir.create_department(&admin, "Cardiac ICU", Some("Cardiology"))
        .await
        .unwrap();
    dir.create_department(&admin, "Surgery", None)
        .await
        .unwrap();
    let sue = add_person(&dir, ("Sue", "Kay", "S1"), "Cardiology", "nurse").await;
    grant_open_role(&s, &sue, &Role::Supervisor, Some("Cardiology")).await;
    let mut b = Browser::new(s);
    b.sign_in(&sue).await;
    let home = b.get("/admin").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains(r#"id="supervisor-home""#),
        "{}",
        home.body
    );
    assert!(
        !home.body.contains(r#"href="/admin/roles""#),
        "{}",
        home.body
    );
    let page = b.get("/admin/departments").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("<strong>Cardiac ICU</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Surgery"), "{}", page.body);
    assert!(
        !page.body.contains(r#"id="change-department""#),
        "{}",
        page.body
    );
    assert_eq!(b.get("/admin/roles").await.status, 403);
}

#[tokio::test]
async fn an_accounts_page_shows_its_sign_in_log_in_words_to_the_helpdesk_only() {
    let (mut b, _) = signed_in_with(Role::Helpdesk, None).await;
    let dir = b.s.running.context.directory.clone();
    let lou = add_person(&dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
    for secret in ["wrong", crate::auth::GOOD] {
        let attempt = carepost_identity::SignIn {
            login: &lou,
            secret,
            protocol: carepost_identity::Protocol::Imap,
            source: Some("10.1.2.3".parse().unwrap()),
        };
        let _ = dir.sign_in(&attempt).await.unwrap();
    }
    let page = b.get(&format!("/admin/accounts/{lou}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let log = &page.body[page
        .body
        .find(r#"id="sign-in-log""#)
        .expect("a sign-in log")..];
    let log = &log[..log.find("</table>").unwrap()];
    let refused = log.find("Wrong password").expect("the refusal in words");
    let signed_in = log.find("Signed in").expect("the success");
    assert!(signed_in < refused, "newest first: {log}");
    assert!(
        log.contains("<td>imap</td>") && log.contains("10.1.2.3"),
        "{log}"
    );
    assert!(
        log.contains(" UTC</time>"),
        "times in words with their zone: {log}"
    );

    // A supervisor sees the person, not their sign-ins.
    let s = TestServer::start_shared(&b.s);
    let sue = add_person(&dir, ("Sue", "Kay", "S1"), "Cardiology", "nurse").await;
    grant_open_role(&s, &sue, &Role::Supervisor, Some("Cardiology")).await;
    let mut sup = Browser::new(s);
    sup.sign_in(&sue).await;
    let page = sup.get(&format!("/admin/accounts/{lou}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("sign-in-log"), "{}", page.body);
}

#[tokio::test]
async fn the_audit_viewer_filters_by_kind_and_result_and_speaks_in_words() {
    let (mut b, _) = signed_in_with(Role::SecurityOfficer, None).await;
    let dir = b.s.running.context.directory.clone();
    let lou = add_person(&dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
    let attempt = carepost_identity::SignIn {
        login: &lou,
        secret: "wrong",
        protocol: carepost_identity::Protocol::Smtp,
        source: None,
    };
    let _ = dir.sign_in(&attempt).await.unwrap();
    let page = b.get("/admin/audit?action=signin.&outcome=failure").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let events = &page.body[page.body.find(r#"id="events""#).unwrap()..];
    assert!(events.contains("Sign-in refused (failure)"), "{events}");
    assert!(
        !events.contains("signin.success"),
        "only failures: {events}"
    );
    assert!(
        !events.contains("account.create"),
        "only sign-ins: {events}"
    );
    // Details folded away, never one wide row; times in words.
    assert!(
        events.contains("<details><summary>Details</summary><pre>{"),
        "{events}"
    );
    assert!(
        events.contains("&#34;reason&#34;: &#34;wrong-secret&#34;"),
        "{events}"
    );
    assert!(!events.contains("Z</time>"), "{events}");
    // The chosen kind stays chosen, and the export asks the API the same.
    assert!(
        page.body
            .contains(r#"<option value="signin." selected>Sign-ins</option>"#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("action=signin.&#38;outcome=failure"),
        "{}",
        page.body
    );
    let every = b.get("/admin/audit").await;
    assert!(
        every.body.contains("Account created"),
        "events named in words: {}",
        every.body
    );
}

#[tokio::test]
async fn no_page_shows_a_raw_timestamp_and_the_second_factor_rule_is_named() {
    // A clinician in the grace period: the notice names the rule and the deadline in words.
    let s = TestServer::start(TestDb::sqlite()).await;
    let dir = s.running.context.directory.clone();
    let admin = crate::support::admin();
    dir.create_department(&admin, "Cardiology", None)
        .await
        .unwrap();
    let cal = add_person(&dir, ("Cal", "Doc", "C1"), "Cardiology", "clinician").await;
    let mut b = Browser::new(s);
    b.sign_in(&cal).await;
    let page = b.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains("Staff in the clinician category must use a second factor"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Your role"), "{}", page.body);
    assert!(page.body.contains(" UTC"), "{}", page.body);
    // No RFC 3339 text shown as words anywhere on the page (only inside datetime="...").
    let shown: String = page
        .body
        .split("datetime=\"")
        .map(|part| part.split_once('"').map_or(part, |(_, rest)| rest))
        .collect();
    assert!(!shown.contains(":00Z") && !shown.contains("Z<"), "{shown}");
}

#[tokio::test]
async fn the_audit_filters_by_family_and_outcome_on_each_backend() {
    crate::support::on_each_backend(async |env| {
        env.department("Cardiology", None).await;
        let lou = add_person(&env.dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
        for secret in ["wrong", crate::auth::GOOD] {
            let attempt = carepost_identity::SignIn {
                login: &lou,
                secret,
                protocol: carepost_identity::Protocol::Imap,
                source: None,
            };
            let _ = env.dir.sign_in(&attempt).await.unwrap();
        }
        let admin = crate::support::admin();
        let actions = |f: carepost_store::AuditFilter| {
            let dir = &env.dir;
            let admin = admin.clone();
            async move {
                let events = dir.audit_events(&admin, &f).await.unwrap();
                events.into_iter().map(|e| e.action).collect::<Vec<_>>()
            }
        };
        let family = carepost_store::AuditFilter {
            actions: vec!["signin.".into()],
            ..Default::default()
        };
        assert_eq!(actions(family).await, ["signin.failure", "signin.success"]);
        let failures = carepost_store::AuditFilter {
            actions: vec!["signin.".into(), "account.create".into()],
            outcome: Some("failure".into()),
            ..Default::default()
        };
        assert_eq!(actions(failures).await, ["signin.failure"]);
        // `_` in a family is that character, not a wildcard: `app_password.` is not `appXpassword.`.
        let literal = carepost_store::AuditFilter {
            actions: vec!["password_".into(), "signin_".into()],
            ..Default::default()
        };
        assert!(actions(literal).await.is_empty());
        let wildcard = carepost_store::AuditFilter {
            actions: vec!["sign_n.".into()],
            ..Default::default()
        };
        assert!(actions(wildcard).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_supervisors_bulk_pick_learns_nothing_of_accounts_out_of_reach() {
    let (s, ann) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let dir = s.running.context.directory.clone();
    let admin = crate::support::admin();
    dir.create_department(&admin, "Surgery", None)
        .await
        .unwrap();
    let sue = add_person(&dir, ("Sue", "Kay", "S1"), "Cardiology", "nurse").await;
    grant_open_role(&s, &sue, &Role::Supervisor, Some("Cardiology")).await;
    // Outside Sue's department: one role holder, one plain account; and no account at all.
    let ira = add_person(&dir, ("Ira", "Hale", "I1"), "Surgery", "nurse").await;
    dir.grant_role(&admin, &ira, &Role::Helpdesk, None)
        .await
        .unwrap();
    let ola = add_person(&dir, ("Ola", "Nn", "O1"), "Surgery", "nurse").await;
    let mut b = Browser::new(s);
    b.sign_in(&sue).await;
    // The invitations page opens for a supervisor, with their own departments to choose.
    let page = b.get("/admin/invitations").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"<option value="Cardiology">"#),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(r#"<option value="Surgery">"#),
        "{}",
        page.body
    );
    let slips = b
        .post(
            "/admin/accounts/bulk",
            &[
                ("action", "invite"),
                ("confirmed", "yes"),
                ("pick", &ann),
                ("pick", &ira),
                ("pick", &ola),
                ("pick", "nobody@kaiser.org"),
            ],
        )
        .await;
    assert_eq!(slips.status, 200, "{}", slips.body);
    // Ann is Sue's and has a password: named, with why. The three others are one count.
    assert!(slips.body.contains(&format!("{ann}: ")), "{}", slips.body);
    assert!(
        slips.body.contains("3 more that your role does not reach"),
        "{}",
        slips.body
    );
    for hidden in [
        &ira,
        &ola,
        "nobody@kaiser.org",
        "manage-privileged",
        "no account has",
    ] {
        assert!(!slips.body.contains(hidden), "{hidden}: {}", slips.body);
    }
    // A direct refusal reads the same for a role holder as for anyone out of reach.
    let d = b
        .post(
            &format!("/admin/accounts/{ira}/status"),
            &[("status", "disabled")],
        )
        .await;
    let e = b
        .post(
            &format!("/admin/accounts/{ola}/status"),
            &[("status", "disabled")],
        )
        .await;
    assert_eq!((d.status, e.status), (403, 403));
    assert!(d.body.contains("may not disable-accounts"), "{}", d.body);
    // The accounts table shows a supervisor their people, not when they sign in.
    let table = b.get("/admin/accounts?sort=last_sign_in").await;
    assert_eq!(table.status, 200, "{}", table.body);
    assert!(!table.body.contains("Last sign-in"), "{}", table.body);
    assert!(table.body.contains(&sue), "{}", table.body);
}

#[tokio::test]
async fn it_creates_an_account_for_a_person_with_one_legal_name_from_the_console() {
    let (mut b, _) = signed_in_with(Role::ItAdmin, None).await;
    b.get("/admin/accounts/new").await;
    let form = |single: &'static str| {
        [
            ("first", "Suharto"),
            ("last", ""),
            ("employee_id", "M1"),
            ("category", "nurse"),
            ("department", "Cardiology"),
            ("single_name", single),
        ]
    };
    // Without the box the form says what to do; with it, the policy's single-name template.
    let r = b.post("/admin/accounts/new", &form("")).await;
    assert!(r.body.contains("mark it a single name"), "{}", r.body);
    let r = b.post("/admin/accounts/new", &form("yes")).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location"),
        Some("/admin/accounts/suharto@kaiser.org?done=created")
    );
}
