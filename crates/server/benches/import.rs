//! `cargo bench -p carepost-server --bench import [-- ROWS]`: an HR export of ROWS accounts
//! (default 100,000) imported into an empty store, then imported again unchanged. The baseline,
//! measured in the same run on the same engine with the same durability settings, is the
//! floor any import must pay: the same rows bulk-inserted into a bare table, 500 per
//! transaction, with no address policy, no checks and no audit trail. Runs on SQLite, and on
//! PostgreSQL too when CAREPOST_TEST_POSTGRES_URL is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // A benchmark measures wall-clock durations.

use carepost_identity::{Actor, Directory};
use carepost_store::Store;
use carepost_testkit::{TestDb, test_config};
use carepost_types::{OsRng, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carepost_testkit::hr_export;

async fn baseline(db: &TestDb, csv: &str) -> Duration {
    let store = Store::open(&db.url, [0; 32]).await.unwrap();
    store.close().await;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    if db.backend == "sqlite" {
        sqlx::query("PRAGMA synchronous = FULL")
            .execute(&pool)
            .await
            .unwrap();
    }
    sqlx::query("CREATE TABLE bench_rows (employee_id TEXT PRIMARY KEY, first_name TEXT, middle_name TEXT, last_name TEXT, category TEXT, department TEXT, supervisor TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let start = Instant::now();
    let lines: Vec<&str> = csv.lines().skip(1).collect();
    for batch in lines.chunks(500) {
        let mut tx = pool.begin().await.unwrap();
        for line in batch {
            let f: Vec<&str> = line.split(',').collect();
            sqlx::query("INSERT INTO bench_rows VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(f[0])
                .bind(f[1])
                .bind(f[2])
                .bind(f[3])
                .bind(f[5])
                .bind(f[6])
                .bind(f[7])
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let took = start.elapsed();
    pool.close().await;
    took
}

async fn carepost_import(db: &TestDb, csv: &str) -> (Duration, Duration) {
    let config = Arc::new(test_config(db));
    let key = carepost_audit::seal_key(&config.master_key);
    let store = Store::open(&config.store.url, key).await.unwrap();
    let dir = Directory::new(store, config, Arc::new(SystemClock), Arc::new(OsRng)).unwrap();
    let actor = Actor::local_cli("bench");
    let start = Instant::now();
    let first = dir.import_csv(&actor, csv.as_bytes()).await.unwrap();
    let took_first = start.elapsed();
    assert_eq!(first.failed, 0, "{:?}", first.errors.first());
    let start = Instant::now();
    let again = dir.import_csv(&actor, csv.as_bytes()).await.unwrap();
    let took_again = start.elapsed();
    assert_eq!(again.unchanged as usize, csv.lines().count() - 1);
    (took_first, took_again)
}

fn report(what: &str, rows: usize, took: Duration, base: Duration) {
    println!(
        "  {what:<34} {:>8.2} s  {:>9.0} rows/s  {:>6.1}x baseline",
        took.as_secs_f64(),
        rows as f64 / took.as_secs_f64(),
        took.as_secs_f64() / base.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let csv = hr_export(rows);
    println!("import of {rows} HR rows");
    let mut engines = vec![("sqlite", TestDb::sqlite(), TestDb::sqlite())];
    if let (Some(a), Some(b)) = (TestDb::postgres().await, TestDb::postgres().await) {
        engines.push(("postgres", a, b));
    }
    for (engine, base_db, db) in engines {
        println!("{engine}:");
        let base = baseline(&base_db, &csv).await;
        report("baseline: bare bulk insert", rows, base, base);
        let (first, again) = carepost_import(&db, &csv).await;
        report("carepost import into empty store", rows, first, base);
        report("carepost import again (unchanged)", rows, again, base);
    }
}
