//! Distribution lists: a department's staff (or all staff) behind one address, reachable only
//! by signed-in staff holding a sender role; managed with `carepost list`.

use crate::auth::GOOD;
use crate::cli::{create_nurse, dev_data, fails, json, ok};
use crate::smtp::{bodies, python, server_with_staff};
use carepost_identity::{Actor, Role};

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

async fn post(s: &carepost_testkit::TestServer, user: &str, to: &str) -> String {
    let submit = s.running.submission.unwrap().port().to_string();
    let mx = s.running.smtp.unwrap().port().to_string();
    python(POST, &[&submit, &mx, user, GOOD, to]).await
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
                &[Role::Communications],
            )
            .await
            .unwrap();
        assert_eq!(list.department.as_deref(), Some("Cardiology"));
        // Without the role: refused, and nothing is delivered.
        let out = post(&s, &bob, "cardiology.staff@kaiser.org").await;
        assert!(
            out.contains("rcpt 550 5.7.1 Only staff with the role communications"),
            "{out}"
        );
        // Never from outside.
        assert!(
            out.contains("mx 550 5.7.1 This list takes mail only from signed-in staff"),
            "{out}"
        );
        assert!(bodies(&s, &ann, "INBOX").await.is_empty());
        // With it: every member gets one copy.
        dir.grant_role(&admin, &ann, &Role::Communications, None)
            .await
            .unwrap();
        let out = post(&s, &ann, "cardiology.staff@kaiser.org").await;
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
        let out = post(&s, &ann, "cardiology.staff@kaiser.org").await;
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
    assert!(err.contains("unknown role 'nobody'"), "{err}");
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
