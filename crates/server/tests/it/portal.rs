//! The portal's pages over the real HTTPS listener: headers, the CSRF rule on every form,
//! sign-in, the forced password change, app passwords and sign-out. The browser's side
//! (passkeys, script) is in `portal_browser`.

use crate::auth::{GOOD, GOOD2};
use crate::browser::{Browser, urlencode};
use crate::support::admin;
use carepost_identity::Protocol;
use carepost_testkit::{HttpResponse, TestDb};

async fn nurse() -> (Browser, String) {
    let (s, a) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    (
        Browser {
            s,
            cookies: Vec::new(),
        },
        a,
    )
}

#[tokio::test]
async fn pages_come_with_a_strict_policy_and_forms_need_the_browsers_token() {
    let (mut b, a) = nurse().await;
    let r = b.get("/sign-in").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let csp = r.header("content-security-policy").unwrap();
    for part in [
        "script-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(r.body.contains(r#"<form method="post" action="/sign-in">"#));
    let cookie = r
        .headers
        .iter()
        .find(|(k, v)| k == "set-cookie" && v.starts_with("__Host-carepost-csrf="))
        .unwrap();
    assert!(cookie.1.contains("HttpOnly") && cookie.1.contains("SameSite=Strict"));
    // A form posted from elsewhere (no token, or another one) does nothing.
    let body = format!("csrf=forged&login={}&password={GOOD}", urlencode(&a));
    let r = b.send("POST", "/sign-in", Some(&body)).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/sign-in"));
    assert!(
        !b.cookies
            .iter()
            .any(|c| c.starts_with("__Host-carepost-session="))
    );
    // Wrong password: the page says so, in the same words as for an unknown address.
    let wrong = b
        .post("/sign-in", &[("login", &a), ("password", "nope")])
        .await;
    let unknown = b
        .post(
            "/sign-in",
            &[("login", "nobody@kaiser.org"), ("password", "nope")],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert!(wrong.body.contains("not right"), "{}", wrong.body);
    let error = |r: &HttpResponse| {
        r.body
            .split("id=\"sign-in-error\">")
            .nth(1)
            .map(|t| t.split('<').next().unwrap().to_string())
    };
    assert_eq!(error(&wrong), error(&unknown));
    let r = b
        .post("/sign-in", &[("login", &a), ("password", GOOD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/account"));
    let r = b.get("/account").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains(&format!(r#"<dd id="address">{a}</dd>"#)));
    // The owner sees the refused attempt among their recent activity.
    assert!(
        r.body
            .contains("Sign-in refused, through the portal (refused)"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Signed in, through the portal"));
    // Signing in again over the open session (a shared workstation) ends the first one.
    b.post("/sign-in", &[("login", &a), ("password", GOOD)])
        .await;
    let dir = b.s.running.context.directory.clone();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    assert_eq!(dir.list_sessions(id).await.unwrap().len(), 1);
    let js = b.get("/assets/portal.js").await;
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    // Sign-out ends the session.
    let r = b.post("/sign-out", &[]).await;
    assert_eq!(r.header("location"), Some("/sign-in"));
    assert_eq!(b.get("/account").await.header("location"), Some("/sign-in"));
}

#[tokio::test]
async fn a_temporary_password_leads_to_the_password_page_and_nowhere_else() {
    let (mut b, a) = nurse().await;
    let temporary =
        b.s.running
            .context
            .directory
            .reset_password(&admin(), &a)
            .await
            .unwrap();
    b.get("/sign-in").await;
    let r = b
        .post("/sign-in", &[("login", &a), ("password", &temporary)])
        .await;
    assert_eq!(r.header("location"), Some("/account"));
    let r = b.get("/account").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/account/password"));
    let r = b.get("/account/password").await;
    assert!(r.body.contains("temporary or has expired"), "{}", r.body);
    // Every rule that fails is named.
    let r = b
        .post(
            "/account/password",
            &[("current", &temporary), ("new", "short")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"password-errors\""), "{}", r.body);
    assert!(r.body.contains("shorter than 12 characters"), "{}", r.body);
    assert!(r.body.contains("too easy to guess"), "{}", r.body);
    let r = b
        .post(
            "/account/password",
            &[("current", &temporary), ("new", GOOD2)],
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/account?notice=password-changed")
    );
    let r = b.get("/account?notice=password-changed").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Your password is changed."));
    // A notice is a fixed key: nothing the URL says is shown.
    let r = b.get("/account?notice=%3Cscript%3E").await;
    assert!(!r.body.contains("<script>alert"), "{}", r.body);
}

#[tokio::test]
async fn an_app_password_is_shown_once_and_revoked_from_the_page() {
    let (mut b, a) = nurse().await;
    b.sign_in(&a).await;
    let r = b
        .post(
            "/account/app-passwords",
            &[("label", "iPhone Mail"), ("imap", "1"), ("password", GOOD)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r
        .body
        .split("<li><code>")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 23, "{secret}");
    let dir = b.s.running.context.directory.clone();
    let attempt = carepost_identity::SignIn {
        login: &a,
        secret: &secret,
        protocol: carepost_identity::Protocol::Imap,
        source: None,
    };
    assert!(dir.sign_in(&attempt).await.unwrap().is_ok());
    let page = b.get("/account").await;
    assert!(page.body.contains("iPhone Mail"));
    let id = dir
        .list_app_passwords(dir.find_account(&admin(), &a).await.unwrap().id)
        .await
        .unwrap()[0]
        .id;
    let r = b
        .post(&format!("/account/app-passwords/{id}/revoke"), &[])
        .await;
    assert_eq!(r.header("location"), Some("/account?notice=revoked"));
    assert!(dir.sign_in(&attempt).await.unwrap().is_err());
}

#[tokio::test]
async fn the_authenticator_app_is_enrolled_from_a_qr_code_made_on_the_server() {
    let (mut b, a) = nurse().await;
    b.sign_in(&a).await;
    let r = b.post("/account/totp", &[("password", GOOD)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<svg"), "the QR code is inline SVG");
    let secret = r
        .body
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    use carepost_types::Clock;
    let now = (b.s.clock.now().0 / 1000) as u64;
    let code = crate::auth::totp_code(&secret, now);
    let r = b.post("/account/totp/confirm", &[("code", &code)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body.matches("<li><code>").count(),
        10,
        "ten recovery codes, once"
    );
    // The next sign-in asks for the second step.
    b.post("/sign-out", &[]).await;
    b.get("/sign-in").await;
    let r = b
        .post("/sign-in", &[("login", &a), ("password", GOOD)])
        .await;
    assert_eq!(r.header("location"), Some("/sign-in/verify"));
    b.s.clock.advance(std::time::Duration::from_secs(60));
    let now = (b.s.clock.now().0 / 1000) as u64;
    let r = b
        .post(
            "/sign-in/verify",
            &[("code", &crate::auth::totp_code(&secret, now))],
        )
        .await;
    assert_eq!(r.header("location"), Some("/account"), "{}", r.body);
    assert!(b.get("/account").await.body.contains("id=\"totp-state\""));
}

#[tokio::test]
async fn a_clinician_is_told_to_enroll_and_after_the_grace_can_only_enroll() {
    let (mut b, _) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    let doc = dir
        .create_account(
            &admin(),
            &crate::support::new_account("Dee", None, "Doc", "D1", "Cardiology"),
        )
        .await
        .unwrap()
        .address;
    dir.set_password(&admin(), &doc, GOOD).await.unwrap();
    b.sign_in(&doc).await;
    let r = b.get("/account").await;
    assert!(
        r.body
            .contains("add a passkey or an authenticator app before"),
        "{}",
        r.body
    );
    assert!(r.body.contains("id=\"sessions\""));
    b.s.clock.advance(8 * crate::support::DAY);
    b.post("/sign-in", &[("login", &doc), ("password", GOOD)])
        .await;
    let r = b.get("/account").await;
    assert!(
        r.body.contains("the time to set one up has passed"),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("id=\"sessions\""),
        "only enrollment is shown"
    );
    let r = b
        .post(
            "/account/app-passwords",
            &[("label", "x"), ("imap", "1"), ("password", GOOD)],
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/account"),
        "no app password before enrolling"
    );
}

#[tokio::test]
async fn helpdesk_unlocks_from_the_page_and_a_supervisor_sees_only_their_department() {
    use carepost_identity::Role;
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    dir.create_department(&admin(), "Radiology", None)
        .await
        .unwrap();
    let mut staff = Vec::new();
    for (first, id, dept) in [("Hal", "H1", "Cardiology"), ("Sue", "S1", "Radiology")] {
        let a = crate::support::add_person(&dir, (first, "Desk", id), dept, "administrative").await;
        staff.push(a);
    }
    let (helpdesk, supervisor) = (staff[0].clone(), staff[1].clone());
    crate::support::grant_open_role(&b.s, &helpdesk, &Role::Helpdesk, None).await;
    crate::support::grant_open_role(&b.s, &supervisor, &Role::Supervisor, Some("Radiology")).await;
    // Ann locks herself out.
    for _ in 0..5 {
        let attempt = carepost_identity::SignIn {
            login: &ann,
            secret: "wrong",
            protocol: carepost_identity::Protocol::Imap,
            source: None,
        };
        assert!(dir.sign_in(&attempt).await.unwrap().is_err());
    }
    b.sign_in(&helpdesk).await;
    let home = b.get("/account").await;
    assert!(home.body.contains("id=\"administration\""), "{}", home.body);
    let list = b.get("/admin/accounts?query=lee").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&ann), "{}", list.body);
    let page = b.get(&format!("/admin/accounts/{ann}")).await;
    assert!(page.body.contains("id=\"unlock\""));
    assert!(
        !page.body.contains("Reset password"),
        "not a helpdesk button"
    );
    let r = b.post(&format!("/admin/accounts/{ann}/unlock"), &[]).await;
    assert_eq!(
        r.header("location"),
        Some(format!("/admin/accounts/{ann}?done=unlock").as_str())
    );
    let attempt = carepost_identity::SignIn {
        login: &ann,
        secret: GOOD,
        protocol: carepost_identity::Protocol::Imap,
        source: None,
    };
    assert!(dir.sign_in(&attempt).await.unwrap().is_ok(), "unlocked");
    // The domain refuses what the role may not do, whatever the form says.
    let r = b
        .post(&format!("/admin/accounts/{ann}/reset-password"), &[])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    b.post("/sign-out", &[]).await;

    // A supervisor of Radiology cannot open a Cardiology account.
    b.sign_in(&supervisor).await;
    let r = b.get(&format!("/admin/accounts/{ann}")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let list = b.get("/admin/accounts").await;
    assert!(!list.body.contains(&ann), "{}", list.body);
    assert!(list.body.contains(&supervisor));
    // A staff member without a role gets no administration at all.
    b.post("/sign-out", &[]).await;
    b.sign_in(&ann).await;
    assert!(
        !b.get("/account")
            .await
            .body
            .contains("id=\"administration\"")
    );
    assert_eq!(b.get("/admin/accounts").await.status, 403);
}

#[tokio::test]
async fn it_creates_an_account_with_the_policys_address_shown_first() {
    use carepost_identity::Role;
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    crate::support::grant_open_role(&b.s, &ann, &Role::ItAdmin, None).await;
    b.sign_in(&ann).await;
    assert!(
        b.get("/admin/accounts")
            .await
            .body
            .contains("id=\"new-account\"")
    );
    let form = b.get("/admin/accounts/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("<option value=\"Cardiology\""));
    // The live preview's endpoint (GET, so the page's script needs no CSRF header).
    let r = b
        .get("/api/v1/address-preview?first=Jos%C3%A9&last=O%27Brien-Smith")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["address"], "jose.obrien-smith@kaiser.org");
    let fields = [
        ("first", "José"),
        ("last", "O'Brien-Smith"),
        ("employee_id", "E77"),
        ("category", "nurse"),
        ("department", "Cardiology"),
    ];
    let r = b.post("/admin/accounts/new", &fields).await;
    assert_eq!(
        r.header("location"),
        Some("/admin/accounts/jose.obrien-smith@kaiser.org?done=created"),
        "{}",
        r.body
    );
    let page = b
        .get("/admin/accounts/jose.obrien-smith@kaiser.org?done=created")
        .await;
    assert!(page.body.contains("Account created."), "{}", page.body);
    // The same employee id again: the form comes back with the reason and what was typed.
    let r = b.post("/admin/accounts/new", &fields).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("id=\"new-account-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"E77\""));
    // Others may not create, nor ask the policy.
    b.post("/sign-out", &[]).await;
    dir.revoke_role(&admin(), &ann, &Role::ItAdmin)
        .await
        .unwrap();
    b.sign_in(&ann).await;
    assert_eq!(b.get("/admin/accounts/new").await.status, 403);
    assert_eq!(
        b.get("/api/v1/address-preview?first=A&last=B").await.status,
        403
    );
}

#[tokio::test]
async fn a_security_officer_reads_and_verifies_the_audit_trail_and_staff_cannot() {
    use carepost_identity::Role;
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    let officer =
        crate::support::add_person(&dir, ("Oz", "Sec", "O1"), "Cardiology", "administrative").await;
    crate::support::grant_open_role(&b.s, &officer, &Role::SecurityOfficer, None).await;
    b.sign_in(&ann).await;
    assert_eq!(b.get("/admin/audit").await.status, 403);
    b.post("/sign-out", &[]).await;
    b.sign_in(&officer).await;
    let r = b
        .get(&format!("/admin/audit?target={}", urlencode(&ann)))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("signin.success"), "{}", r.body);
    assert!(
        r.body
            .contains("/api/v1/audit?limit=1000&#38;target=ann.lee%40kaiser.org"),
        "{}",
        r.body
    );
    let r = b.get("/admin/audit?since=yesterday").await;
    assert!(
        r.body.contains("class=\"error\""),
        "a bad time is said, not a 500: {}",
        r.body
    );
    let r = b.post("/admin/audit/verify", &[]).await;
    assert!(r.body.contains("The chain is whole"), "{}", r.body);
}

#[tokio::test]
async fn helpdesk_resets_with_the_persons_code_or_a_supervisors_approval_and_it_grants_roles() {
    use carepost_identity::Role;
    use carepost_types::Clock;
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    let mut people = Vec::new();
    for (first, id) in [("Hal", "H1"), ("Sue", "S1"), ("Ivy", "I1")] {
        let a =
            crate::support::add_person(&dir, (first, "Staff", id), "Cardiology", "administrative")
                .await;
        people.push(a);
    }
    let (helpdesk, supervisor, it) = (people[0].clone(), people[1].clone(), people[2].clone());
    crate::support::grant_open_role(&b.s, &helpdesk, &Role::Helpdesk, None).await;
    crate::support::grant_open_role(&b.s, &it, &Role::ItAdmin, None).await;
    // Ann has an authenticator.
    let id = dir.find_account(&admin(), &ann).await.unwrap().id;
    let e = dir.begin_totp(id).await.unwrap();
    let code = |b: &Browser| crate::auth::totp_code(&e.secret, (b.s.clock.now().0 / 1000) as u64);
    dir.confirm_totp(id, &code(&b)).await.unwrap();

    // IT makes Sue the supervisor of Cardiology from the page.
    b.sign_in(&it).await;
    let r = b
        .post(
            &format!("/admin/accounts/{supervisor}/grant-role"),
            &[("role", "supervisor"), ("department", "Cardiology")],
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("/admin/accounts/{supervisor}?done=roles").as_str())
    );
    let page = b.get(&format!("/admin/accounts/{supervisor}")).await;
    assert!(
        page.body
            .contains("<ul id=\"roles\"><li>supervisor of Cardiology"),
        "{}",
        page.body
    );
    b.post("/sign-out", &[]).await;

    // The helpdesk: without the person's code, no reset of an account with a factor.
    b.sign_in(&helpdesk).await;
    let path = format!("/admin/accounts/{ann}/helpdesk-reset");
    let r = b.post(&path, &[("user_code", "")]).await;
    assert!(
        r.status == 403 || r.status == 400,
        "{} {}",
        r.status,
        r.body
    );
    b.s.clock.advance(std::time::Duration::from_secs(60));
    let r = b.post(&path, &[("user_code", &code(&b))]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Temporary password for"), "{}", r.body);
    // Or a supervisor approves.
    let r = b
        .post(
            &format!("/admin/accounts/{ann}/reset-request"),
            &[("reason", "ticket 9, phone lost")],
        )
        .await;
    let to = r.header("location").unwrap().to_string();
    let request: i64 = to.rsplit('=').next().unwrap().parse().unwrap();
    assert!(
        b.get(&to)
            .await
            .body
            .contains(&format!("/admin/reset-requests/{request}"))
    );
    b.post("/sign-out", &[]).await;
    // Sue's new role waits for her second factor (a password alone must not approve resets).
    b.sign_in(&supervisor).await;
    let waiting = b.get("/admin/reset-requests").await;
    assert_eq!(waiting.status, 403, "{}", waiting.body);
    assert!(
        waiting
            .body
            .contains("Your supervisor role opens once you have a second factor"),
        "{}",
        waiting.body
    );
    b.post("/sign-out", &[]).await;
    crate::support::give_factor(&b.s, &supervisor).await;
    b.sign_in(&supervisor).await;
    let list = b.get("/admin/reset-requests").await;
    assert!(
        list.body
            .contains(&format!("href=\"/admin/reset-requests/{request}\"")),
        "{}",
        list.body
    );
    assert!(list.body.contains("ticket 9, phone lost"));
    let page = b.get(&format!("/admin/reset-requests/{request}")).await;
    assert!(page.body.contains("id=\"approve\""));
    let r = b
        .post(&format!("/admin/reset-requests/{request}/approve"), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<li><code>"), "{}", r.body);
    // Once only.
    let r = b
        .post(&format!("/admin/reset-requests/{request}/approve"), &[])
        .await;
    assert!(r.status >= 400, "{}", r.body);
    let list = b.get("/admin/reset-requests").await;
    assert!(list.body.contains("id=\"no-requests\""), "{}", list.body);
}

#[tokio::test]
async fn it_creates_departments_and_everyone_with_a_role_reads_the_policies() {
    use carepost_identity::Role;
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    crate::support::grant_open_role(&b.s, &ann, &Role::ItAdmin, None).await;
    b.sign_in(&ann).await;
    let r = b.get("/admin/departments").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("id=\"import\""));
    let r = b.get("/admin/policies").await;
    assert!(r.body.contains("&#34;min_length&#34;: 12"), "{}", r.body);
    let r = b
        .post(
            "/admin/departments",
            &[("name", "Cardiac ICU"), ("parent", "Cardiology")],
        )
        .await;
    // Answered with a redirect (a reload creates nothing), whose page says what was done.
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap().to_string();
    assert_eq!(to, "/admin/departments?done=created&name=Cardiac+ICU");
    let r = b.get(&to).await;
    assert!(
        r.body.contains("Department Cardiac ICU created."),
        "{}",
        r.body
    );
    let r = b
        .post("/admin/departments", &[("name", "Cardiac ICU")])
        .await;
    assert!(r.body.contains("id=\"directory-error\""), "{}", r.body);
    assert!(
        dir.list_departments(&admin())
            .await
            .unwrap()
            .iter()
            .any(|d| d.name == "Cardiac ICU" && d.parent.as_deref() == Some("Cardiology"))
    );
}

#[tokio::test]
async fn the_activity_list_shows_only_the_owners_own_doings() {
    let (mut b, ann) = nurse().await;
    // A colleague without a role probes the administration pages about Ann.
    let dir = b.s.running.context.directory.clone();
    let pat = crate::support::add_person(&dir, ("Pat", "Probe", "P1"), "Cardiology", "nurse").await;
    b.sign_in(&pat).await;
    let r = b.get(&format!("/admin/accounts/{ann}")).await;
    assert_eq!(r.status, 403);
    let unknown = b.get("/admin/accounts/nobody@kaiser.org").await;
    assert_eq!(
        unknown.status, 403,
        "the same answer for an unknown address"
    );
    b.post("/sign-out", &[]).await;
    b.sign_in(&ann).await;
    let page = b.get("/account").await.body;
    assert!(!page.contains("authz.denied"), "{page}");
    assert!(!page.contains("Pat"), "{page}");
}

#[tokio::test]
async fn it_renames_an_account_and_revokes_its_app_passwords_from_its_page() {
    use carepost_identity::Role;
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    let it =
        crate::support::add_person(&dir, ("Ivy", "Admin", "I1"), "Cardiology", "administrative")
            .await;
    crate::support::grant_open_role(&b.s, &it, &Role::ItAdmin, None).await;
    let id = dir.find_account(&admin(), &ann).await.unwrap().id;
    dir.create_app_password(id, "Phone", &[carepost_identity::Protocol::Imap], None)
        .await
        .unwrap();
    b.sign_in(&it).await;
    let r = b
        .post(&format!("/admin/accounts/{ann}/revoke-app-passwords"), &[])
        .await;
    assert_eq!(
        r.header("location"),
        Some(format!("/admin/accounts/{ann}?done=app-passwords").as_str())
    );
    assert!(dir.list_app_passwords(id).await.unwrap()[0].revoked);
    let r = b
        .post(
            &format!("/admin/accounts/{ann}/rename"),
            &[("last", "Smith")],
        )
        .await;
    assert_eq!(
        r.header("location"),
        Some("/admin/accounts/ann.smith@kaiser.org?done=renamed"),
        "{}",
        r.body
    );
    let page = b
        .get("/admin/accounts/ann.smith@kaiser.org?done=renamed")
        .await;
    assert!(
        page.body.contains(&ann),
        "the old address is an alias: {}",
        page.body
    );
}

/// The sessions list shows the mail apps that signed in: with the password, or an app
/// password by its label, from where, and when last.
#[tokio::test]
async fn the_mail_apps_that_signed_in_are_on_the_account_page() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, a) = crate::support::server_with_nurse(db).await;
        let dir = &s.running.context.directory;
        let id = dir.find_account(&admin(), &a).await.unwrap().id;
        let (_, phone) = dir
            .create_app_password(id, "Phone", &[carepost_identity::Protocol::Imap], None)
            .await
            .unwrap();
        let port = s.running.imaps.unwrap().port().to_string();
        let script = r#"
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for secret in sys.argv[3:]:
    m = imaplib.IMAP4_SSL('127.0.0.1', int(sys.argv[1]), ssl_context=ctx)
    m.login(sys.argv[2], secret)
    m.logout()
print('ok')
"#;
        let out = crate::smtp::python(script, &[&port, &a, GOOD, &phone]).await;
        assert!(out.contains("ok"), "{out}");
        let mut b = Browser::new(carepost_testkit::TestServer::start_shared(&s));
        b.sign_in(&a).await;
        let page = b.get("/account").await;
        let table = page
            .body
            .split("id=\"mail-clients\"")
            .nth(1)
            .expect("the mail apps are listed")
            .split("</table>")
            .next()
            .unwrap()
            .to_string();
        assert!(table.contains("IMAP"), "{table}");
        assert!(table.contains("your password"), "{table}");
        assert!(table.contains("app password “Phone”"), "{table}");
        assert!(table.contains("127.0.0.1"), "{table}");
    }
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_this_browser_only() {
    let (mut b, ann) = nurse().await;
    let mut phone = Browser::new(carepost_testkit::TestServer::start_shared(&b.s));
    let mut kiosk = Browser::new(carepost_testkit::TestServer::start_shared(&b.s));
    b.sign_in(&ann).await;
    phone.sign_in(&ann).await;
    kiosk.sign_in(&ann).await;
    let page = b.get("/account").await;
    assert!(page.body.contains("id=\"end-others\""), "{}", page.body);
    let r = b.post("/account/sessions/end-others", &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let page = b.get("/account?notice=others-ended").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Every other browser is signed out"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("id=\"end-others\""),
        "only this one is left"
    );
    for other in [&mut phone, &mut kiosk] {
        let r = other.get("/account").await;
        assert_eq!(r.status, 303, "signed out: {}", r.body);
    }
    // The same through the API.
    phone.sign_in(&ann).await;
    let cookies = b.cookies.join("; ");
    let r =
        crate::support::with_cookies(&b.s, &cookies, "DELETE", "/api/v1/me/sessions", None).await;
    assert_eq!(
        (r.status, r.json()["ended"].as_u64()),
        (200, Some(1)),
        "{}",
        r.body
    );
    assert_eq!(phone.get("/account").await.status, 303);
    assert_eq!(b.get("/account").await.status, 200);
}

#[tokio::test]
async fn a_password_change_names_the_mail_apps_it_stopped_and_each_says_why() {
    let (mut b, a) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    for label in ["iPhone Mail", "Outlook"] {
        dir.create_app_password(id, label, &[Protocol::Imap], None)
            .await
            .unwrap();
    }
    b.sign_in(&a).await;
    b.get("/account/password").await;
    let r = b
        .post("/account/password", &[("current", GOOD), ("new", GOOD2)])
        .await;
    let to = r.header("location").unwrap().to_string();
    let page = b.get(&to).await.body;
    assert!(
        page.contains("revoked the app passwords of iPhone Mail, Outlook"),
        "{page}"
    );
    assert_eq!(page.matches(">Mail apps</h2>").count(), 1, "{page}");
    assert_eq!(
        page.matches(": your password was changed</td>").count(),
        2,
        "{page}"
    );
    // Later visits say why each stopped, without the notice.
    let page = b.get("/account").await.body;
    assert!(!page.contains("revoked the app passwords of"), "{page}");
    assert!(page.contains(": your password was changed</td>"), "{page}");
}

#[tokio::test]
async fn the_helpdesk_lists_paused_networks_and_lifts_one() {
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    crate::support::grant_open_role(&b.s, &ann, &carepost_identity::Role::Helpdesk, None).await;
    b.sign_in(&ann).await;
    let page = b.get("/admin/sources").await;
    assert!(
        page.body.contains("No network is paused now."),
        "{}",
        page.body
    );
    for i in 0..20 {
        let login = format!("guess{i}@kaiser.org");
        let attempt = carepost_identity::SignIn {
            login: &login,
            secret: "x",
            protocol: Protocol::Imap,
            source: Some("10.9.8.7".parse().unwrap()),
        };
        assert!(dir.sign_in(&attempt).await.unwrap().is_err());
    }
    let page = b.get("/admin/sources").await;
    assert!(page.body.contains("10.9.8.0/24"), "{}", page.body);
    assert!(page.body.contains("20 (20) of 20"), "{}", page.body);
    let r = b
        .post("/admin/sources/clear", &[("network", "10.9.8.0/24")])
        .await;
    assert_eq!(r.header("location"), Some("/admin/sources?done=cleared"));
    let page = b.get("/admin/sources?done=cleared").await;
    assert!(page.body.contains("The pause is lifted"), "{}", page.body);
    assert!(
        page.body.contains("No network is paused now."),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn the_console_opens_on_counts_and_shows_only_the_sections_a_role_may_use() {
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    crate::support::grant_open_role(&b.s, &ann, &carepost_identity::Role::Helpdesk, None).await;
    // One locked colleague, and refused sign-ins.
    let lou = crate::support::add_person(&dir, ("Lou", "Staff", "L1"), "Cardiology", "nurse").await;
    for _ in 0..5 {
        let attempt = carepost_identity::SignIn {
            login: &lou,
            secret: "wrong",
            protocol: Protocol::Imap,
            source: None,
        };
        assert!(dir.sign_in(&attempt).await.unwrap().is_err());
    }
    b.sign_in(&ann).await;
    let page = b.get("/admin").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"<strong id="locked-now">1</strong>"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"<strong id="refused-sign-ins">5</strong>"#),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(r#"href="/admin/sources""#),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(r#"href="/admin/audit""#),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(r#"href="/admin/apps""#),
        "{}",
        page.body
    );
    // A member of staff without a role gets no console at all.
    let mut other = Browser::new(carepost_testkit::TestServer::start_shared(&b.s));
    let nurse =
        crate::support::add_person(&dir, ("Nia", "Cole", "N1"), "Cardiology", "nurse").await;
    other.sign_in(&nurse).await;
    assert_eq!(other.get("/admin").await.status, 403);
}

#[tokio::test]
async fn it_prints_a_departments_slips_and_a_newcomer_sets_a_password_at_welcome() {
    let (mut b, ann) = nurse().await;
    let dir = b.s.running.context.directory.clone();
    crate::support::grant_open_role(&b.s, &ann, &carepost_identity::Role::ItAdmin, None).await;
    let csv = "employee_id,first,last,category,department\nW1,Wil,Kahn,nurse,Cardiology\n";
    dir.import_csv(&admin(), csv.as_bytes()).await.unwrap();
    b.sign_in(&ann).await;
    b.get("/admin/invitations").await;
    let r = b
        .post("/admin/invitations", &[("department", "Cardiology")])
        .await;
    assert!(r.body.contains("wil.kahn@kaiser.org"), "{}", r.body);
    let code = r
        .body
        .split("class=\"slip-code\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap()
        .to_string();
    assert_eq!(code.len(), 19, "{code}");
    let list = b.get("/admin").await;
    assert!(
        list.body
            .contains(r#"<strong id="invitations-outstanding">1</strong>"#),
        "{}",
        list.body
    );
    // The newcomer, in another browser.
    let mut n = Browser::new(carepost_testkit::TestServer::start_shared(&b.s));
    n.get("/welcome").await;
    let r = n
        .post(
            "/welcome",
            &[
                ("login", "wil.kahn@kaiser.org"),
                ("code", &code),
                ("new_password", GOOD2),
            ],
        )
        .await;
    assert!(r.body.contains("id=\"welcome-done\""), "{}", r.body);
    n.get("/sign-in").await;
    let r = n
        .post(
            "/sign-in",
            &[("login", "wil.kahn@kaiser.org"), ("password", GOOD2)],
        )
        .await;
    assert_eq!(r.header("location"), Some("/account"), "{}", r.body);
}
