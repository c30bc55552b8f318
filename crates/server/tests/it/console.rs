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
