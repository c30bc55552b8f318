//! `cargo bench -p carepost-server --bench signin`: password sign-ins per second through the
//! whole authentication service (account lookup, lockout state, argon2id at the default
//! parameters, audit event) on an SQLite store, against a baseline measured in the same run:
//! bare argon2id verifications on as many threads as the machine has, the floor any
//! password sign-in pays. Then the peak memory while 200 sign-ins arrive at once. Keycloak's
//! published sizing is about 15 password sign-ins per second per vCPU.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // A benchmark measures wall-clock durations.

use carepost_identity::{Actor, Directory, NewAccount, PersonName, Protocol, SignIn};
use carepost_store::Store;
use carepost_testkit::TestDb;
use carepost_types::{OsRng, SystemClock};
use std::sync::Arc;
use std::time::Instant;

const PASSWORD: &str = "glacier violin tundra 57 orbit";

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn baseline(threads: usize, per_thread: usize) -> f64 {
    use argon2::{Argon2, PasswordHasher, PasswordVerifier};
    let hash = Argon2::default()
        .hash_password_with_salt(PASSWORD.as_bytes(), b"0123456789abcdef")
        .unwrap()
        .to_string();
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    assert!(
                        Argon2::default()
                            .verify_password(PASSWORD.as_bytes(), hash.as_str())
                            .is_ok()
                    );
                }
            });
        }
    });
    (threads * per_thread) as f64 / start.elapsed().as_secs_f64()
}

async fn setup(db: &TestDb, accounts: usize) -> Directory {
    // The development defaults: argon2id at 19 MiB, 2 passes (not the tests' cheap settings).
    let dir = db.dir.path();
    let text = format!(
        "dev = true\n[organization]\nname = \"Bench\"\ndomain = \"kaiser.org\"\n[store]\nurl = \"{}\"\nblob_dir = \"{}/blobs\"\n[tls]\ncert = \"{}/c.pem\"\nkey = \"{}/k.pem\"\n[secrets]\nmaster_key = \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"\n",
        db.url,
        dir.display(),
        dir.display(),
        dir.display()
    );
    let config = Arc::new(carepost_config::Config::from_toml(&text, dir).unwrap());
    let store = Store::open(
        &config.store.url,
        carepost_audit::seal_key(&config.master_key),
    )
    .await
    .unwrap();
    let d = Directory::new(store, config, Arc::new(SystemClock), Arc::new(OsRng)).unwrap();
    let admin = Actor::local_cli("bench");
    d.create_department(&admin, "Nursing", None).await.unwrap();
    for i in 0..accounts {
        let new = NewAccount {
            name: PersonName::new("Nurse", None, &format!("Number{i}"), None).unwrap(),
            employee_id: format!("N{i}"),
            category: "nurse".into(),
            department: "Nursing".into(),
            supervisor: None,
        };
        let a = d.create_account(&admin, &new).await.unwrap();
        d.set_password(&admin, &a.address, PASSWORD).await.unwrap();
    }
    d
}

async fn run(d: &Directory, attempts: usize, concurrency: usize, secret: &'static str) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..attempts).step_by(concurrency) {
                let login = format!("nurse.number{}@kaiser.org", i % 20);
                let attempt = SignIn {
                    login: &login,
                    secret,
                    protocol: Protocol::Imap,
                    source: Some(format!("10.0.{}.1", i % 200).parse().unwrap()),
                };
                let _ = d.sign_in(&attempt).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    attempts as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("password sign-ins, argon2id 19 MiB / 2 passes, {cpus} CPUs");
    let db = TestDb::sqlite();
    let d = setup(&db, 20).await;
    let ok = run(&d, 200, 8, PASSWORD).await;
    let bad = run(&d, 100, 8, "wrong password 123").await;
    let before = peak_rss_kib();
    let burst = run(&d, 200, 200, PASSWORD).await;
    let after = peak_rss_kib();
    // The baseline runs last: the argon2 crate's own verify allocates per call and leaves the
    // process larger (see carepost_identity's hashing module), which would blur the memory
    // figures above.
    let base = baseline(cpus, 20);
    println!("  baseline: bare argon2id verifications   {base:>7.1}/s  (1.00x)");
    println!(
        "  carepost successful sign-ins            {ok:>7.1}/s  ({:.2}x baseline, {:.1} per CPU; Keycloak: ~15 per vCPU)",
        ok / base,
        ok / cpus as f64
    );
    println!(
        "  carepost failed sign-ins                {bad:>7.1}/s  ({:.2}x baseline)",
        bad / base
    );
    println!(
        "  200 sign-ins at once: {burst:.1}/s; peak process memory {} MiB, {} MiB more than before the burst",
        after / 1024,
        after.saturating_sub(before) / 1024
    );
}
