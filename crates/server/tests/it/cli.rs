//! The real `carepost` binary, end to end: as an administrator would type it.

use carepost_testkit::https_get;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

pub(crate) fn carepost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_carepost"))
        .args(args)
        .env_remove("CAREPOST_DATA")
        .env_remove("CAREPOST_CONFIG")
        .env("USER", "someone-else")
        .output()
        .unwrap()
}

/// A development data directory as `serve --dev` leaves it, without starting a server.
pub(crate) fn dev_data(parent: &Path) -> String {
    let data = parent.join("data");
    let domain = carepost_types::Domain::parse("kaiser.org").unwrap();
    carepost_server::prepare_dev(&data, &domain, 10000, None, true).unwrap();
    data.to_str().unwrap().to_string()
}

/// The audit label of whoever runs the tests: the real user, whatever `$USER` says.
pub(crate) fn me() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    format!(
        "local-cli:{}",
        String::from_utf8(out.stdout).unwrap().trim()
    )
}

/// Runs a command that must succeed; returns its standard output.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = carepost(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "carepost {args:?} failed: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command that must fail; returns its one-line message.
pub(crate) fn fails(args: &[&str]) -> String {
    let out = carepost(args);
    assert!(!out.status.success(), "carepost {args:?} should fail");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("carepost: "), "{stderr}");
    stderr
}

/// Makes the nurse Ann Lee (ann.lee@kaiser.org) in `department` of the data directory.
pub(crate) fn create_nurse(data: &str, department: &str) {
    ok(&[
        "--data",
        data,
        "account",
        "create",
        "--first",
        "Ann",
        "--last",
        "Lee",
        "--employee-id",
        "E1",
        "--category",
        "nurse",
        "--department",
        department,
    ]);
}

pub(crate) fn json(args: &[&str]) -> Value {
    serde_json::from_str(&ok(args)).unwrap()
}

#[test]
fn the_directory_commands_work_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    let with = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec!["--data".into(), data.into()];
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: &[&str]| ok(&with(args).iter().map(String::as_str).collect::<Vec<_>>());
    let runj = |args: &[&str]| -> Value {
        serde_json::from_str(&run(&[&["--json"], args].concat())).unwrap()
    };
    let fail = |args: &[&str]| fails(&with(args).iter().map(String::as_str).collect::<Vec<_>>());

    run(&["department", "create", "Medicine"]);
    run(&["department", "create", "Cardiology", "--parent", "Medicine"]);
    let created = runj(&[
        "account",
        "create",
        "--first",
        "John",
        "--last",
        "Smith",
        "--middle",
        "Allen",
        "--preferred",
        "Jack",
        "--employee-id",
        "E123",
        "--category",
        "clinician",
        "--department",
        "Cardiology",
    ]);
    assert_eq!(created["address"], "john.smith@kaiser.org");
    assert_eq!(created["status"], "active");
    assert!(created["id"].as_i64().unwrap() > 0);
    let second = run(&[
        "account",
        "create",
        "--first",
        "John",
        "--last",
        "Smith",
        "--middle",
        "Allen",
        "--employee-id",
        "E124",
        "--category",
        "nurse",
        "--department",
        "Cardiology",
        "--supervisor",
        "john.smith@kaiser.org",
    ]);
    assert_eq!(second.trim(), "john.a.smith@kaiser.org");
    assert_eq!(
        run(&["address", "preview", "--first", "José", "--last", "Núñez"]).trim(),
        "jose.nunez@kaiser.org"
    );
    assert_eq!(
        run(&["address", "preview", "--first", "John", "--last", "Smith"]).trim(),
        "john.smith2@kaiser.org"
    );
    let listed = runj(&["account", "list", "--department", "Medicine"]);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let table = run(&["account", "list", "--query", "jack"]);
    assert!(
        table.contains("john.smith@kaiser.org") && !table.contains("john.a.smith"),
        "{table}"
    );

    let renamed = runj(&[
        "account",
        "rename",
        "john.smith@kaiser.org",
        "--last",
        "Smythe",
    ]);
    assert_eq!(renamed["address"], "john.smythe@kaiser.org");
    assert_eq!(renamed["aliases"][0], "john.smith@kaiser.org");
    let shown = run(&["account", "show", "john.smith@kaiser.org"]);
    assert!(shown.starts_with("john.smythe@kaiser.org"), "{shown}");
    runj(&["alias", "add", "john.smythe@kaiser.org", "jack@kaiser.org"]);
    let removed = runj(&[
        "alias",
        "remove",
        "john.smythe@kaiser.org",
        "jack@kaiser.org",
    ]);
    assert_eq!(removed["aliases"].as_array().unwrap().len(), 1);
    assert_eq!(
        runj(&["account", "disable", "john.a.smith@kaiser.org"])["status"],
        "disabled"
    );
    assert_eq!(
        runj(&["account", "enable", "john.a.smith@kaiser.org"])["status"],
        "active"
    );
    assert_eq!(
        runj(&["account", "deprovision", "john.a.smith@kaiser.org"])["status"],
        "deprovisioned"
    );
    assert_eq!(
        runj(&["account", "list", "--status", "deprovisioned"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert!(fail(&["account", "show", "nobody@kaiser.org"]).contains("no account has the address"));
    assert!(
        fail(&[
            "account",
            "create",
            "--first",
            "A",
            "--last",
            "B",
            "--employee-id",
            "E9",
            "--category",
            "clinician",
            "--department",
            "Nowhere"
        ])
        .contains("no department named 'Nowhere'")
    );
    assert!(fail(&["account", "list", "--status", "sleeping"]).contains("not a status"));

    let me = me();
    let verify = runj(&["audit", "verify"]);
    assert_eq!(verify["ok"], true);
    let export = run(&[
        "audit",
        "export",
        "--actor",
        &me,
        "--target",
        "john.smythe@kaiser.org",
    ]);
    let actions: Vec<String> = export
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(actions, ["account.rename", "alias.add", "alias.remove"]);
    let listed = run(&["audit", "list", "--since", "2000-01-01"]);
    assert!(
        listed.contains("department.create") && listed.contains(&me),
        "{listed}"
    );
    assert!(
        !listed.contains("someone-else"),
        "$USER does not decide the audit actor"
    );
}

#[test]
fn usage_errors_and_bad_input_exit_non_zero() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    let out = carepost(&["account", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("frobnicate") && stderr.contains("--help"),
        "{stderr}"
    );
    let out = carepost(&["--data", data, "account", "list", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let e = fails(&[
        "--data",
        d.path().join("typo").to_str().unwrap(),
        "account",
        "list",
    ]);
    assert!(e.contains("not a carepost data directory"), "{e}");
    assert!(!d.path().join("typo").exists(), "a typo creates nothing");
    let e = fails(&[
        "--data", data, "address", "preview", "--first", "!!", "--last", "Smith",
    ]);
    assert!(e.contains("first name '!!'"), "{e}");
    let e = fails(&["--data", data, "audit", "list", "--since", "last tuesday"]);
    assert!(e.contains("RFC 3339"), "{e}");
    let e = fails(&["serve"]);
    assert!(e.contains("--config FILE"), "{e}");
}

#[test]
fn import_reports_bad_rows_and_exits_non_zero() {
    let d = tempfile::tempdir().unwrap();
    let data = std::path::PathBuf::from(dev_data(d.path()));
    let csv = d.path().join("hr.csv");
    std::fs::write(
        &csv,
        "employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status\n\
         E1,Ann,,Lee,,clinician,Cardiology,,\n\
         E2,Bo,,Ray,,wizard,Cardiology,,\n",
    )
    .unwrap();
    let out = carepost(&[
        "--data",
        data.to_str().unwrap(),
        "import",
        csv.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("2 rows: 1 created"), "{stdout}");
    assert!(
        stdout.contains("line 3 (E2), failed: 'wizard' is not a role category"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("1 of 2 rows failed"), "{stderr}");
    // Warnings alone are not a failure; a single name is created with --single-name.
    std::fs::write(
        &csv,
        "employee_id;first;last;category;department;supervisor_employee_id\n\
         E3;Cy;Lo;nurse;Cardiology;E404\n",
    )
    .unwrap();
    let out = carepost(&[
        "--data",
        data.to_str().unwrap(),
        "import",
        csv.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("1 created") && stdout.contains("1 warnings"),
        "{stdout}"
    );
    assert!(
        stdout.contains("line 2 (E3), warning: supervisor E404"),
        "{stdout}"
    );
    let made = ok(&[
        "--data",
        data.to_str().unwrap(),
        "account",
        "create",
        "--first",
        "Suharto",
        "--single-name",
        "--employee-id",
        "E4",
        "--category",
        "nurse",
        "--department",
        "Cardiology",
    ]);
    assert!(made.contains("suharto@kaiser.org"), "{made}");
    let out = carepost(&[
        "--data",
        data.to_str().unwrap(),
        "account",
        "create",
        "--first",
        "Bo",
        "--employee-id",
        "E5",
        "--category",
        "nurse",
        "--department",
        "Cardiology",
    ]);
    let e = String::from_utf8(out.stderr).unwrap();
    assert!(!out.status.success() && e.contains("--last"), "{e}");
}

#[tokio::test]
async fn audit_verify_through_the_binary_names_the_tampered_event() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    ok(&["--data", data, "department", "create", "Cardiology"]);
    ok(&["--data", data, "department", "create", "Oncology"]);
    let url = format!("sqlite://{data}/carepost.db");
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let e = fails(&["--data", data, "audit", "verify"]);
    assert!(e.contains("audit chain broken at event #1: altered"), "{e}");
}

/// Writes an init config whose listeners are on free loopback ports (port 0).
pub(crate) fn init_config(dir: &Path, store_url: Option<&str>) -> String {
    let mut args = vec![
        "init",
        "--dir",
        dir.to_str().unwrap(),
        "--domain",
        "stmarys.org",
        "--org",
        "St Mary's",
    ];
    if let Some(u) = store_url {
        args.extend(["--store-url", u]);
    }
    let out = ok(&args);
    assert!(out.contains("carepost serve --config"), "{out}");
    let path = dir.join("carepost.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("master_key = \""), "secrets are generated");
    let text = text
        .replace("\"0.0.0.0:443\"", "\"127.0.0.1:0\"")
        .replace("\"127.0.0.1:9464\"", "\"127.0.0.1:0\"")
        .lines()
        .map(|l| {
            if l.contains("= \"0.0.0.0:") {
                format!("{} = \"\"", l.split(" =").next().unwrap())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// Starts `carepost serve`, waits for its banner and returns the HTTPS address.
pub(crate) fn start_server(args: &[&str]) -> (Child, std::net::SocketAddr, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_carepost"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut https = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some(rest) = line.trim().strip_prefix("https   https://") {
            https = rest.split('/').next().map(|a| a.parse().unwrap());
        }
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    (child, https.expect(&banner), banner)
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args(["-s", sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

pub(crate) async fn init_serve_and_stop(store_url: Option<&str>) {
    let d = tempfile::tempdir().unwrap();
    let config = init_config(d.path(), store_url);
    let e = fails(&[
        "init",
        "--dir",
        d.path().to_str().unwrap(),
        "--domain",
        "x.org",
        "--org",
        "X",
    ]);
    assert!(e.contains("exists already"), "{e}");
    let (mut child, https, banner) = start_server(&["serve", "--config", &config]);
    assert!(
        banner.contains("First administrator: administrator@stmarys.org"),
        "{banner}"
    );
    // The printed hint for the CLI names the config it needs.
    assert!(
        banner.contains(&format!("carepost --config {config} account list")),
        "{banner}"
    );
    let (status, _) = https_get(https, "/readyz", &d.path().join("tls/cert.pem")).await;
    assert_eq!(status, 200);
    // Admin commands work on the same store while the server runs.
    ok(&["--config", &config, "department", "create", "Cardiology"]);
    let a = json(&[
        "--config",
        &config,
        "--json",
        "account",
        "create",
        "--first",
        "Ann",
        "--last",
        "Lee",
        "--employee-id",
        "E1",
        "--category",
        "nurse",
        "--department",
        "Cardiology",
    ]);
    assert_eq!(a["address"], "ann.lee@stmarys.org");
    signal(&child, "TERM");
    assert!(child.wait().unwrap().success(), "SIGTERM stops cleanly");
    // A second start finds the administrator and prints no password.
    let (mut child, _, banner) = start_server(&["serve", "--config", &config]);
    assert!(!banner.contains("one-time password"), "{banner}");
    signal(&child, "KILL");
    let _ = child.wait();
    let listed = json(&["--config", &config, "--json", "account", "list"]);
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "nothing lost to kill -9"
    );
}

/// A port base whose HTTPS and HTTP ports are free now.
pub(crate) fn free_port_base() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        // The metrics listener sits at base + 9464: the base must leave room for it.
        if !(1000..=55000).contains(&p) {
            continue;
        }
        let base = p - 443;
        drop(l);
        // Every port `serve --dev` takes must be free.
        let free = [80, 443, 25, 587, 465, 143, 993, 9464]
            .iter()
            .all(|p| std::net::TcpListener::bind(("127.0.0.1", base + p)).is_ok());
        if free {
            return base;
        }
    }
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    for i in 0..50 {
        ok(&[
            "--data",
            &data,
            "department",
            "create",
            &format!("Dept {i}"),
        ]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_carepost"))
        .args(["--data", &data, "audit", "export"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn separate_processes_creating_john_smith_at_once_get_separate_addresses() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    ok(&["--data", &data, "department", "create", "Cardiology"]);
    let children: Vec<Child> = (0..6)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_carepost"))
                .args([
                    "--data",
                    &data,
                    "account",
                    "create",
                    "--first",
                    "John",
                    "--last",
                    "Smith",
                    "--employee-id",
                    &format!("P{i}"),
                    "--category",
                    "nurse",
                    "--department",
                    "Cardiology",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut got: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = std::iter::once("john.smith@kaiser.org".to_string())
        .chain((2..=6).map(|n| format!("john.smith{n}@kaiser.org")))
        .collect();
    want.sort();
    assert_eq!(got, want);
    let verify = json(&["--data", &data, "--json", "audit", "verify"]);
    assert_eq!(verify["ok"], true);
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_carepost"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn password_and_mfa_commands_work_end_to_end() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    ok(&["--data", data, "department", "create", "Cardiology"]);
    create_nurse(data, "Cardiology");
    let out = with_stdin(
        &[
            "--data",
            data,
            "account",
            "set-password",
            "ann.lee@kaiser.org",
            "--password-stdin",
        ],
        "password1234\n",
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("common and breached"), "{stderr}");
    let out = with_stdin(
        &[
            "--data",
            data,
            "account",
            "set-password",
            "ann.lee@kaiser.org",
            "--password-stdin",
        ],
        "glacier violin tundra 57 orbit\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = fails(&[
        "--data",
        data,
        "account",
        "set-password",
        "ann.lee@kaiser.org",
    ]);
    assert!(e.contains("--password-stdin"), "{e}");
    let reset = json(&[
        "--data",
        data,
        "--json",
        "account",
        "reset-password",
        "ann.lee@kaiser.org",
    ]);
    assert_eq!(reset["temporary_password"].as_str().unwrap().len(), 23);
    ok(&["--data", data, "account", "unlock", "ann.lee@kaiser.org"]);
    let mfa = json(&[
        "--data",
        data,
        "--json",
        "account",
        "mfa",
        "show",
        "ann.lee@kaiser.org",
    ]);
    assert_eq!(mfa["totp"], false);
    assert_eq!(
        mfa["required"], false,
        "nurses are not in the default MFA policy"
    );
    let e = fails(&[
        "--data",
        data,
        "account",
        "mfa",
        "reset",
        "ann.lee@kaiser.org",
        "--reason",
        "",
    ]);
    assert!(e.contains("needs a reason"), "{e}");
    ok(&[
        "--data",
        data,
        "account",
        "mfa",
        "reset",
        "ann.lee@kaiser.org",
        "--reason",
        "ticket 12, verified in person",
    ]);
    let edited = json(&[
        "--data",
        data,
        "--json",
        "account",
        "edit",
        "ann.lee@kaiser.org",
        "--category",
        "clinician",
        "--employee-id",
        "E77",
    ]);
    assert_eq!(
        (&edited["category"], &edited["employee_id"]),
        (&Value::from("clinician"), &Value::from("E77"))
    );
    assert!(
        fails(&[
            "--data",
            data,
            "account",
            "edit",
            "ann.lee@kaiser.org",
            "--department",
            "Nowhere"
        ])
        .contains("no department")
    );
    let policy = ok(&["--data", data, "policy", "show"]);
    assert!(policy.contains("100,000 common and breached"), "{policy}");
    let policy = json(&["--data", data, "--json", "policy", "show"]);
    assert_eq!(policy["lockout"]["threshold"], 5);
    assert_eq!(policy["sessions"]["idle_timeout"], "15m");
    // Set over the file, shown as set here, given back; bad keys and values are refused.
    let said = ok(&[
        "--data",
        data,
        "policy",
        "set",
        "lockout.threshold=8",
        "mfa.grace=3d",
    ]);
    assert!(said.contains("threshold = 8 (set here)"), "{said}");
    let policy = json(&["--data", data, "--json", "policy", "show"]);
    assert_eq!(policy["lockout"]["threshold"], 8);
    assert_eq!(policy["mfa"]["grace"], "3d");
    let shown = ok(&["--data", data, "policy", "show"]);
    assert!(
        shown.contains("lockout: threshold set at run time, last by local-cli:"),
        "{shown}"
    );
    assert!(
        fails(&["--data", data, "policy", "set", "lockout.threshold=0"]).contains("at least 1")
    );
    assert!(
        fails(&[
            "--data",
            data,
            "policy",
            "set",
            "password.argon2_iterations=1"
        ])
        .contains("not a policy that can be set here")
    );
    assert!(
        fails(&["--data", data, "policy", "set", "lockout.threshold"])
            .contains("section.key=value")
    );
    ok(&["--data", data, "policy", "unset", "lockout.threshold"]);
    ok(&["--data", data, "policy", "reset", "mfa"]);
    let policy = json(&["--data", data, "--json", "policy", "show"]);
    assert_eq!(policy["lockout"]["threshold"], 5);
    assert_eq!(policy["mfa"]["grace"], "7d");
    let actions: Vec<String> = ok(&[
        "--data",
        data,
        "audit",
        "export",
        "--target",
        "ann.lee@kaiser.org",
    ])
    .lines()
    .map(|l| {
        serde_json::from_str::<Value>(l).unwrap()["action"]
            .as_str()
            .unwrap()
            .to_string()
    })
    .collect();
    for a in [
        "password.set",
        "password.reset",
        "account.unlock",
        "mfa.reset",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
}

#[test]
fn api_tokens_are_made_listed_and_revoked_from_the_command_line() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let made = json(&[
        "--data",
        &data,
        "--json",
        "token",
        "create",
        "--name",
        "monitoring",
        "--role",
        "security-officer",
        "--days",
        "30",
    ]);
    assert!(made["token"].as_str().unwrap().starts_with("cpt_"));
    let id = made["id"].as_i64().unwrap().to_string();
    let listed = json(&["--data", &data, "--json", "token", "list"]);
    assert_eq!(listed[0]["name"], "monitoring");
    assert!(
        listed[0].get("token").is_none(),
        "the secret is never listed"
    );
    ok(&["--data", &data, "token", "revoke", &id]);
    let e = fails(&["--data", &data, "token", "revoke", &id]);
    assert!(e.contains("no live API token"), "{e}");
    let e = fails(&[
        "--data", &data, "token", "create", "--name", "x", "--role", "wizard",
    ]);
    assert!(e.contains("not a role"), "{e}");
}

#[test]
fn account_show_names_roles_and_lock_state_and_audit_list_shows_the_newest_first() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    ok(&["--data", data, "department", "create", "Cardiology"]);
    create_nurse(data, "Cardiology");
    ok(&[
        "--data",
        data,
        "account",
        "role",
        "grant",
        "ann.lee@kaiser.org",
        "helpdesk",
    ]);
    let shown = ok(&["--data", data, "account", "show", "ann.lee@kaiser.org"]);
    assert!(shown.contains("roles        helpdesk"), "{shown}");
    assert!(shown.contains("lock (unfamiliar) not locked"), "{shown}");
    let listed = ok(&["--data", data, "audit", "list", "--limit", "3"]);
    let seqs: Vec<i64> = listed
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs.len(), 3, "{listed}");
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{listed}");
    assert!(listed.lines().next().unwrap().contains("role"), "{listed}");
}

#[test]
fn init_takes_the_listen_address_and_a_port_base() {
    let d = tempfile::tempdir().unwrap();
    ok(&[
        "init",
        "--dir",
        d.path().to_str().unwrap(),
        "--domain",
        "stmarys.org",
        "--org",
        "St Mary's",
        "--listen",
        "127.0.0.1",
        "--port-base",
        "20000",
    ]);
    let text = std::fs::read_to_string(d.path().join("carepost.toml")).unwrap();
    assert!(text.contains("https = \"127.0.0.1:20443\""), "{text}");
    assert!(text.contains("metrics = \"127.0.0.1:29464\""), "{text}");
    let e = fails(&[
        "init",
        "--dir",
        d.path().join("other").to_str().unwrap(),
        "--domain",
        "stmarys.org",
        "--org",
        "X",
        "--port-base",
        "60000",
    ]);
    assert!(e.contains("past 65535"), "{e}");
}

#[test]
fn departments_are_renamed_moved_and_removed_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    ok(&["--data", data, "department", "create", "Medicine"]);
    ok(&["--data", data, "department", "create", "Cardio"]);
    let out = ok(&[
        "--data",
        data,
        "department",
        "rename",
        "Cardio",
        "Cardiology",
    ]);
    assert!(out.contains("Cardiology  (in the top level)"), "{out}");
    let out = ok(&[
        "--data",
        data,
        "department",
        "move",
        "Cardiology",
        "--parent",
        "Medicine",
    ]);
    assert!(out.contains("(in Medicine)"), "{out}");
    let e = fails(&[
        "--data",
        data,
        "department",
        "move",
        "Medicine",
        "--parent",
        "Cardiology",
    ]);
    assert!(e.contains("cannot go below itself"), "{e}");
    let e = fails(&["--data", data, "department", "remove", "Medicine"]);
    assert!(e.contains("1 department below it"), "{e}");
    ok(&["--data", data, "department", "move", "Cardiology", "--top"]);
    let out = ok(&["--data", data, "department", "remove", "Medicine"]);
    assert!(out.contains("removed Medicine"), "{out}");
}

#[test]
fn invitations_are_issued_to_a_csv_listed_and_revoked_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let data = dev_data(d.path());
    let data = data.as_str();
    ok(&["--data", data, "department", "create", "Ward"]);
    create_nurse(data, "Ward");
    let csv = d.path().join("slips.csv");
    let out = ok(&[
        "--data",
        data,
        "invite",
        "issue",
        "--department",
        "Ward",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(out.contains("1 invitations written"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with(
            "address,name,department,code,expires_at\nann.lee@kaiser.org,Ann Lee,Ward,"
        ),
        "{text}"
    );
    let listed = ok(&["--data", data, "invite", "list"]);
    assert!(listed.contains("outstanding"), "{listed}");
    let out = ok(&["--data", data, "invite", "revoke", "ann.lee@kaiser.org"]);
    assert!(out.contains("revoked the unused invitation"), "{out}");
    let listed = ok(&["--data", data, "invite", "list", "ann.lee@kaiser.org"]);
    assert!(listed.contains("revoked"), "{listed}");
}
