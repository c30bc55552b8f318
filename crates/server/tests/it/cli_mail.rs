//! The mail commands of the CLI: `dkim show`, `queue list|retry|remove`, `mailbox usage`.

use crate::cli::{create_nurse, dev_data, fails, init_config, json, ok};

#[test]
fn init_makes_a_dkim_key_and_dkim_show_prints_its_dns_record() {
    let d = tempfile::tempdir().unwrap();
    let config = init_config(d.path(), None);
    let out = ok(&["--config", &config, "dkim", "show"]);
    assert!(
        out.contains("carepost._domainkey.stmarys.org. IN TXT \"v=DKIM1; k=rsa; p=MII"),
        "{out}"
    );
    let j = json(&["--config", &config, "--json", "dkim", "show"]);
    assert_eq!(j["name"], "carepost._domainkey.stmarys.org");
    assert_eq!(j["type"], "TXT");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.path().join("dkim.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the DKIM key is readable by others: {mode:o}"
        );
    }
}

#[test]
fn queue_and_mailbox_commands_answer_with_clear_words() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    assert!(ok(&["--data", data, "queue", "list"]).contains("the queue is empty"));
    assert_eq!(
        json(&["--data", data, "--json", "queue", "list"]),
        serde_json::json!([])
    );
    assert!(ok(&["--data", data, "queue", "retry"]).contains("0 recipient(s)"));
    let e = fails(&["--data", data, "queue", "remove", "7"]);
    assert!(e.contains("no queued message 7"), "{e}");
    ok(&["--data", data, "department", "create", "Lab"]);
    create_nurse(data, "Lab");
    let out = ok(&["--data", data, "mailbox", "usage", "ann.lee@kaiser.org"]);
    assert!(
        out.contains("ann.lee@kaiser.org: 0 messages, 0 bytes of 10737418240"),
        "{out}"
    );
    let j = json(&[
        "--data",
        data,
        "--json",
        "mailbox",
        "usage",
        "ann.lee@kaiser.org",
    ]);
    assert_eq!(j["quota"], 10_737_418_240u64);
    let e = fails(&["--data", data, "mailbox", "usage", "nobody@kaiser.org"]);
    assert!(e.contains("nobody@kaiser.org"), "{e}");
    let e = fails(&["--data", data, "dkim", "show"]);
    assert!(
        e.contains("DKIM key"),
        "a development directory made without serve: {e}"
    );
}
