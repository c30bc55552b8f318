//! Distribution lists: a department's staff (or all staff) behind one address, reachable only
//! by signed-in staff holding a sender role; managed with `carepost list`.

use crate::auth::GOOD;
use crate::cli::{create_nurse, dev_data, fails, json, ok};
use crate::smtp::{bodies, python, server_with_staff};
use carepost_identity::{Actor, Role};
use carepost_store::AuditRepo;

const POST: &str = r#"
import smtplib, ssl, sys
port, mx, user, password, to = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def rcpt(s, sender):
    s.ehlo('laptop')
    s.mail(sender)
    return s.rcpt(to)
s = smtplib.SMTP('127.0.0.1', port); s.starttls(context=ctx); s.login(user, password)
code, text = rcpt(s, user)
print('rcpt', code, text.decode())
if code == 250:
    s.data(('From: ' + user + '\r\nTo: ' + to + '\r\nSubject: Ward meeting\r\n\r\nThursday at 8.\r\n').encode())
s.quit()
m = smtplib.SMTP('127.0.0.1', mx)
code, text = rcpt(m, 'someone@partner.example')
print('mx', code, text.decode())
m.quit()
"#;

async fn audit(
    s: &carepost_testkit::TestServer,
    f: carepost_store::AuditFilter,
) -> Vec<carepost_audit::Event> {
    let mut tx = s.running.context.store.read().await.unwrap();
    tx.list_audit(&f).await.unwrap()
}

async fn post(s: &carepost_testkit::TestServer, user: &str, to: &str) -> String {
    post_with(s, user, GOOD, to).await
}

async fn post_with(s: &carepost_testkit::TestServer, user: &str, secret: &str, to: &str) -> String {
    let submit = s.running.submission.unwrap().port().to_string();
    let mx = s.running.smtp.unwrap().port().to_string();
    python(POST, &[&submit, &mx, user, secret, to]).await
}

/// A sender role holder's way in for a mail app: a second factor (which opens the role) and
/// an app password for sending.
async fn open_sender(s: &carepost_testkit::TestServer, user: &str) -> String {
    crate::support::give_factor(s, user).await;
    let dir = &s.running.context.directory;
    let id = dir
        .find_account(&Actor::local_cli("tester"), user)
        .await
        .unwrap()
        .id;
    dir.create_app_password(id, "Mail", &[carepost_identity::Protocol::Smtp], None)
        .await
        .unwrap()
        .1
}

#[tokio::test]
async fn a_department_list_reaches_its_staff_from_a_sender_role_only() {
    for db in carepost_testkit::backends().await {
        let (s, ann, bob) = server_with_staff(db).await;
        let dir = &s.running.context.directory;
        let admin = Actor::local_cli("tester");
        let list = dir
            .create_list(
                &admin,
                "cardiology.staff@kaiser.org",
                "Cardiology staff",
                Some("Cardiology"),
                &[Role::Communications, Role::Supervisor],
            )
            .await
            .unwrap();
        assert_eq!(list.department.as_deref(), Some("Cardiology"));
        // Without the role, or with it for another department only: refused (saying no more),
        // on the record, and nothing is delivered.
        dir.create_department(&admin, "Oncology", None)
            .await
            .unwrap();
        dir.grant_role(&admin, &bob, &Role::Supervisor, Some("Oncology"))
            .await
            .unwrap();
        let out = post(&s, &bob, "cardiology.staff@kaiser.org").await;
        assert!(
            out.contains("rcpt 550 5.7.1 You may not send to this address"),
            "{out}"
        );
        // Never from outside.
        assert!(
            out.contains("mx 550 5.7.1 You may not send to this address"),
            "{out}"
        );
        let refused = audit(
            &s,
            carepost_store::AuditFilter {
                target: Some("list:cardiology.staff@kaiser.org".into()),
                ..Default::default()
            },
        )
        .await;
        assert!(
            refused
                .iter()
                .any(|e| e.action == "mail.submit" && e.outcome == "denied"),
            "{refused:?}"
        );
        assert!(bodies(&s, &ann, "INBOX").await.is_empty());
        // With it but no second factor yet: the role waits (a password alone must not post).
        dir.grant_role(&admin, &ann, &Role::Communications, None)
            .await
            .unwrap();
        let out = post(&s, &ann, "cardiology.staff@kaiser.org").await;
        assert!(
            out.contains("rcpt 550 5.7.1 You may not send to this address"),
            "{out}"
        );
        // With it and a second factor: every member gets one copy.
        let app = open_sender(&s, &ann).await;
        let out = post_with(&s, &ann, &app, "cardiology.staff@kaiser.org").await;
        assert!(
            out.contains("rcpt 250 2.1.5 List OK, 2 recipients"),
            "{out}"
        );
        for who in [&ann, &bob] {
            let got = bodies(&s, who, "INBOX").await;
            assert_eq!(got.len(), 1, "{who}: {got:?}");
            assert!(got[0].contains("Thursday at 8."));
        }
        // A disabled colleague is not reached.
        dir.set_status(&admin, &bob, carepost_identity::AccountStatus::Disabled)
            .await
            .unwrap();
        let out = post_with(&s, &ann, &app, "cardiology.staff@kaiser.org").await;
        assert!(
            out.contains("rcpt 250 2.1.5 List OK, 1 recipients"),
            "{out}"
        );
    }
}

#[test]
fn lists_are_created_listed_and_removed_from_the_cli_and_hold_their_address() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    ok(&["--data", data, "department", "create", "Nursing"]);
    create_nurse(data, "Nursing");
    let made = json(&[
        "--data",
        data,
        "--json",
        "list",
        "create",
        "all-staff@kaiser.org",
        "--name",
        "All staff",
        "--sender",
        "communications",
        "--sender",
        "it-admin",
    ]);
    assert_eq!(made["address"], "all-staff@kaiser.org");
    assert_eq!(made["department"], serde_json::Value::Null);
    assert_eq!(
        made["senders"],
        serde_json::json!(["communications", "it-admin"])
    );
    let listed = ok(&["--data", data, "list", "list"]);
    assert!(
        listed.contains("all-staff@kaiser.org") && listed.contains("everyone"),
        "{listed}"
    );
    let create_fails = |rest: &[&str]| fails(&[&["--data", data, "list", "create"], rest].concat());
    // The address is the list's: a second list is refused.
    let err = create_fails(&[
        "all-staff@kaiser.org",
        "--name",
        "Again",
        "--sender",
        "it-admin",
    ]);
    assert!(err.contains("is taken"), "{err}");
    let err = create_fails(&["x@kaiser.org", "--name", "X", "--sender", "nobody"]);
    assert!(err.contains("'nobody' is not a role"), "{err}");
    let err = create_fails(&[
        "y@kaiser.org",
        "--name",
        "Y",
        "--department",
        "Nowhere",
        "--sender",
        "it-admin",
    ]);
    assert!(err.contains("no department named 'Nowhere'"), "{err}");
    ok(&["--data", data, "list", "remove", "all-staff@kaiser.org"]);
    assert_eq!(
        json(&["--data", data, "--json", "list", "list"]),
        serde_json::json!([])
    );
    let err = fails(&["--data", data, "list", "remove", "all-staff@kaiser.org"]);
    assert!(err.contains("no list all-staff@kaiser.org"), "{err}");
    // Removed, the address is quarantined like any address given up.
    let err = create_fails(&[
        "all-staff@kaiser.org",
        "--name",
        "All",
        "--sender",
        "it-admin",
    ]);
    assert!(err.contains("is taken"), "{err}");
    let trail = ok(&[
        "--data",
        data,
        "audit",
        "list",
        "--target",
        "list:all-staff@kaiser.org",
    ]);
    assert!(
        trail.contains("list.create") && trail.contains("list.remove"),
        "{trail}"
    );
}

const ALL_STAFF: &str = r#"
import smtplib, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port); s.starttls(context=ctx); s.login(user, password)
s.mail(user)
print('rcpt', *s.rcpt('all-staff@kaiser.org'))
print('data', *s.data(('From: ' + user + '\r\nSubject: Visiting hours\r\n\r\nFrom Monday.\r\n').encode()))
s.quit()
"#;

#[tokio::test]
async fn a_message_to_a_large_list_is_delivered_in_parts_once_to_each() {
    for db in carepost_testkit::backends().await {
        let (s, ann, bob) = server_with_staff(db).await;
        let dir = &s.running.context.directory;
        let admin = Actor::local_cli("tester");
        dir.import_csv(&admin, carepost_testkit::hr_export(2_100).as_bytes())
            .await
            .unwrap();
        dir.grant_role(&admin, &ann, &Role::Communications, None)
            .await
            .unwrap();
        dir.create_list(
            &admin,
            "all-staff@kaiser.org",
            "All staff",
            None,
            &[Role::Communications],
        )
        .await
        .unwrap();
        let active = carepost_identity::ListFilter {
            department: None,
            status: Some(carepost_identity::AccountStatus::Active),
            limit: Some(100_000),
            ..Default::default()
        };
        let members = dir.list_accounts(&admin, &active).await.unwrap();
        assert!(
            members.len() > 2_000,
            "more than one part: {}",
            members.len()
        );
        let port = s.running.submission.unwrap().port().to_string();
        let app = open_sender(&s, &ann).await;
        let out = python(ALL_STAFF, &[&port, &ann, &app]).await;
        let n = members.len();
        assert!(
            out.contains(&format!("rcpt 250 b'2.1.5 List OK, {n} recipients'")),
            "{out}"
        );
        assert!(out.contains("data 250"), "{out}");
        let mail = &s.running.context.mail;
        let ann_id = crate::mail::account(mail, &ann).await;
        let mut total = 0;
        for a in &members {
            let id = crate::mail::account(mail, &a.address).await;
            let (_, messages) = mail.usage(id).await.unwrap();
            // ann also keeps her copy in Sent.
            // ann also keeps her copy in Sent (the import, sharing her employee id, renamed
            // her account; her old address stays its alias).
            let expected = if id == ann_id { 2 } else { 1 };
            assert_eq!(messages, expected, "{}", a.address);
            total += messages;
        }
        assert_eq!(total, n as u64 + 1);
        assert!(bodies(&s, &bob, "INBOX").await[0].contains("From Monday."));
        let parts = audit(
            &s,
            carepost_store::AuditFilter {
                limit: Some(100_000),
                ..Default::default()
            },
        )
        .await;
        let numbered: Vec<_> = parts
            .iter()
            .filter_map(|e| {
                let d: serde_json::Value = serde_json::from_str(&e.details).ok()?;
                d.get("part").cloned()
            })
            .collect();
        assert_eq!(numbered.len(), 2, "{parts:?}");
        assert!(numbered.iter().all(|p| p["of"] == 2), "{numbered:?}");
    }
}
