//! The portal in a real browser: headless Chromium driven by playwright-core
//! (`portal_browser.cjs`), registering and using a passkey through Chromium's virtual
//! authenticator, and the forgot-password page with a recovery code. `scripts/install-test-deps` installs both; without them the test says
//! SKIPPED. With `CAREPOST_SCREENSHOTS=DIR` it also saves the pages it visits there.

use crate::auth::GOOD;
use crate::support::admin;
use carepost_testkit::TestDb;
use std::path::PathBuf;

/// Where `scripts/install-test-deps` put playwright-core.
fn node_modules() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    cache.join("carepost/browser/node_modules")
}

/// Chromium's path, or `None` (after saying SKIPPED) when it or playwright-core is missing.
pub(crate) fn browser() -> Option<String> {
    let chromium = std::env::var("CAREPOST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
    if !node_modules().join("playwright-core").exists() || !std::path::Path::new(&chromium).exists()
    {
        eprintln!("SKIPPED: Chromium or playwright-core missing; run scripts/install-test-deps");
        return None;
    }
    Some(chromium)
}

/// Runs one of the browser scripts; returns what it printed as JSON.
pub(crate) async fn run_script(name: &str, args: &[&str], chromium: &str) -> serde_json::Value {
    let script = format!("{}/tests/it/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(script)
        .args(args)
        .env("NODE_PATH", node_modules())
        .env("CAREPOST_CHROMIUM", chromium);
    if let Some(shots) = std::env::var_os("CAREPOST_SCREENSHOTS") {
        cmd.arg(shots);
    }
    let out = cmd
        .output()
        .await
        .expect("node is installed by scripts/install-test-deps");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap()
}

#[tokio::test]
async fn chromium_registers_a_passkey_and_signs_in_with_it() {
    let Some(chromium) = browser() else { return };
    let (s, a) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    // A passkey's origin needs a host name: the portal as a browser on this machine sees it.
    let base = format!("https://localhost:{}", s.running.https.unwrap().port());
    let seen = run_script(
        "portal_browser.cjs",
        &[&base, &a, GOOD, crate::auth::GOOD2],
        &chromium,
    )
    .await;
    assert_eq!(seen["recovery_codes"], 10, "{seen}");
    assert_eq!(seen["passkeys"], serde_json::json!(["Chromium"]));
    assert_eq!(seen["credentials_on_device"], 1);
    assert_eq!(seen["signed_in_again"], a.as_str());
    assert!(seen["sign_count"].as_u64().unwrap() >= 1, "{seen}");
    let notices = seen["recovery_notices"].to_string();
    assert!(notices.contains("Your new password is set"), "{notices}");
    assert!(
        notices.contains("You used a recovery code: 9 left"),
        "{notices}"
    );
    let activity = seen["activity"].to_string();
    assert!(
        activity.contains("Password changed with a recovery code"),
        "{activity}"
    );
    assert!(activity.contains("Passkey added"), "{activity}");
    let weak = seen["feedback_weak"].as_str().unwrap();
    assert!(weak.contains("too easy to guess"), "{weak}");
    // The server recorded the passkey's use for the owner to see.
    let id = dir.find_account(&admin(), &a).await.unwrap().id;
    let keys = dir.list_passkeys(id).await.unwrap();
    assert!(keys[0].last_used_at.is_some());
}

#[tokio::test]
async fn chromium_previews_a_new_address_and_imports_an_hr_file() {
    let Some(chromium) = browser() else { return };
    let (s, a) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    crate::support::grant_open_role(&s, &a, &carepost_identity::Role::ItAdmin, None).await;
    let csv = s.db.dir.path().join("hr.csv");
    std::fs::write(
        &csv,
        "employee_id,first,last,category,department\nH1,Ines,Moreau,nurse,Cardiology\nH2,Bad,,nurse,Cardiology\n",
    )
    .unwrap();
    // A branch for the department tree to open and close.
    dir.create_department(&admin(), "Cardiac ICU", Some("Cardiology"))
        .await
        .unwrap();
    let base = format!("https://localhost:{}", s.running.https.unwrap().port());
    // The sign-in's code is one step after the enrollment's (each is accepted once).
    use carepost_types::Clock;
    s.clock.advance(std::time::Duration::from_secs(30));
    let secret = crate::support::factor_of(&s, &a).unwrap();
    let clock = (s.clock.now().0 / 1000).to_string();
    let seen = run_script(
        "console_browser.cjs",
        &[&base, &a, GOOD, &csv.display().to_string(), &secret, &clock],
        &chromium,
    )
    .await;
    assert_eq!(seen["preview"], "zoe.dangelo@kaiser.org", "{seen}");
    let report = seen["import"].as_str().unwrap();
    assert!(report.starts_with("2 rows: 1 created"), "{report}");
    assert_eq!(seen["import_errors"].as_array().unwrap().len(), 1, "{seen}");
    assert!(
        dir.find_account(&admin(), "ines.moreau@kaiser.org")
            .await
            .is_ok()
    );
    // The shell lists the console's sections; the table picks every row for a bulk action.
    let nav = seen["nav"].as_array().unwrap();
    assert!(
        nav.iter().any(|l| l == "Audit trail") && nav.iter().any(|l| l == "Roles"),
        "{seen}"
    );
    assert_eq!(seen["picked"], seen["accounts"], "{seen}");
    let heading = seen["bulk_heading"].as_str().unwrap();
    assert!(
        heading.starts_with("Export ") && heading.ends_with(" people?"),
        "{seen}"
    );
    // Ann signed in: her last sign-in reads in Chicago's zone, named.
    let times = seen["last_sign_in"].as_array().unwrap();
    assert!(
        times
            .iter()
            .any(|t| t.as_str().unwrap().ends_with("CST") || t.as_str().unwrap().ends_with("CDT")),
        "{seen}"
    );
    // Cardiology's branch opens and closes.
    assert_eq!(seen["branch_open"], true, "{seen}");
    assert_eq!(seen["branch_after_click"], false, "{seen}");
    // Only the key changed is set over the file.
    assert_eq!(seen["policy_saved"], "Passwords saved.", "{seen}");
    assert_eq!(seen["policy_badges"], 1, "{seen}");
    assert_eq!(dir.config().password.min_length, 14);
}

#[tokio::test]
async fn chromium_as_helpdesk_supervisor_and_nurse_with_an_authenticator_app() {
    use carepost_identity::Role;
    use carepost_types::Clock;
    let Some(chromium) = browser() else { return };
    let (s, nurse) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let dir = &s.running.context.directory;
    dir.create_department(&admin(), "Radiology", None)
        .await
        .unwrap();
    let mut people = Vec::new();
    for (first, id, dept) in [
        ("Hal", "H1", "Cardiology"),
        ("Sue", "S1", "Radiology"),
        ("Lou", "L1", "Cardiology"),
    ] {
        let a = crate::support::add_person(dir, (first, "Staff", id), dept, "administrative").await;
        people.push(a);
    }
    let (helpdesk, supervisor, locked) = (&people[0], &people[1], &people[2]);
    crate::support::grant_open_role(&s, helpdesk, &Role::Helpdesk, None).await;
    crate::support::grant_open_role(&s, supervisor, &Role::Supervisor, Some("Radiology")).await;
    for _ in 0..5 {
        let attempt = carepost_identity::SignIn {
            login: locked,
            secret: "wrong",
            protocol: carepost_identity::Protocol::Imap,
            source: None,
        };
        assert!(dir.sign_in(&attempt).await.unwrap().is_err());
    }
    let base = format!("https://localhost:{}", s.running.https.unwrap().port());
    // The role holders' codes are one step after their enrollment's.
    s.clock.advance(std::time::Duration::from_secs(30));
    let clock = (s.clock.now().0 / 1000).to_string();
    let secret = |a: &str| crate::support::factor_of(&s, a).unwrap();
    let (helpdesk_secret, supervisor_secret) = (secret(helpdesk), secret(supervisor));
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(format!(
        "{}/tests/it/roles_browser.cjs",
        env!("CARGO_MANIFEST_DIR")
    ))
    .args([
        &base,
        GOOD,
        helpdesk,
        supervisor,
        locked,
        &nurse,
        &clock,
        &helpdesk_secret,
        &supervisor_secret,
    ])
    .env("NODE_PATH", node_modules())
    .env("CAREPOST_CHROMIUM", &chromium);
    let later = async { s.clock.advance(std::time::Duration::from_secs(60)) };
    let (first, rest) = crate::smtp::paused(cmd, later).await;
    assert_eq!(first.trim(), "enrolled", "{rest}");
    let seen: serde_json::Value = serde_json::from_str(rest.trim()).unwrap();
    let locks = seen["locked_before"].as_array().unwrap();
    assert!(
        locks.iter().any(|l| l != "not locked"),
        "a lock time: {seen}"
    );
    assert!(seen["unlock_notice"].as_str().unwrap().contains("Unlocked"));
    assert_eq!(seen["supervisor_status"], 403);
    assert_eq!(seen["qr"], 1);
    assert_eq!(seen["recovery_codes"], 10);
    assert_eq!(seen["second_step"], true);
    assert_eq!(seen["signed_in"], nurse.as_str());
}

/// Single sign-on in Chromium (`sso_browser.cjs`): sign-in for an application, consent for a
/// public client, and a cross-site link to a signed-in browser.
#[tokio::test]
async fn chromium_signs_in_to_applications_through_the_portal() {
    let Some(chromium) = browser() else { return };
    let (s, a) = crate::support::server_with_nurse(TestDb::sqlite()).await;
    let oidc = &s.running.context.oidc;
    let client = |name: &str, uri: &str, confidential: bool| carepost_oidc::NewClient {
        name: name.into(),
        redirect_uris: vec![uri.into()],
        confidential,
        ..carepost_oidc::NewClient::default()
    };
    let (ehr, _) = oidc
        .register_client(&admin(), &client("EHR", "https://ehr.kaiser.org/cb", true))
        .await
        .unwrap();
    let (rota, _) = oidc
        .register_client(
            &admin(),
            &client("Rota", "https://rota.kaiser.org/cb", false),
        )
        .await
        .unwrap();
    // S256 of the verifier "a-verifier-of-at-least-forty-three-characters-0123456789".
    let challenge = "T7l5D6zvN0pQ4wA7cN8_GvLh1vNx0l2vYfWc3z2n0bE";
    let path = |id: &str, uri: &str| {
        format!(
            "/oauth2/authorize?response_type=code&client_id={id}&redirect_uri={}&scope=openid&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
            crate::browser::urlencode(uri)
        )
    };
    let base = format!("https://localhost:{}", s.running.https.unwrap().port());
    let seen = run_script(
        "sso_browser.cjs",
        &[
            &base,
            &path(&ehr.client_id, "https://ehr.kaiser.org/cb"),
            &path(&rota.client_id, "https://rota.kaiser.org/cb"),
            &a,
            GOOD,
        ],
        &chromium,
    )
    .await;
    assert_eq!(seen["sign_in_page"], "/sign-in", "{seen}");
    assert_eq!(seen["ehr_code"], true, "{seen}");
    assert_eq!(seen["ehr_state"], "s1", "{seen}");
    assert_eq!(seen["consent_asked"], true, "{seen}");
    assert_eq!(seen["public_code"], true, "{seen}");
    assert_eq!(seen["cross_site_code"], true, "{seen}");
}
