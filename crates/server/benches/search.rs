//! `cargo bench -p carepost-server --bench search [-- ROWS]`: account search in a directory of
//! ROWS accounts (default 200,000), as the admin console does it: a name fragment, a
//! department, a status, 50 results at a time; then pages of the console's accounts table
//! (100 rows with their roles and second factors, and the total), sorted, deep in the list and
//! filtered. The baseline, measured in the same run, is the cheapest listing there is: the
//! first 50 accounts in address order with no filter.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // A benchmark measures wall-clock durations.

use carepost_identity::{AccountStatus, Actor, Directory, ListFilter, RosterRequest, RosterSort};
use carepost_store::Store;
use carepost_testkit::{TestDb, hr_export, test_config};
use carepost_types::{OsRng, SystemClock};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn time(d: &Directory, f: &ListFilter, runs: u32) -> (Duration, usize) {
    let actor = Actor::local_cli("bench");
    let mut n = 0;
    let start = Instant::now();
    for _ in 0..runs {
        n = d.list_accounts(&actor, f).await.unwrap().len();
    }
    (start.elapsed() / runs, n)
}

async fn time_table(d: &Directory, r: &RosterRequest, runs: u32) -> (Duration, usize) {
    let actor = Actor::local_cli("bench");
    let mut n = 0;
    let start = Instant::now();
    for _ in 0..runs {
        n = d.roster(&actor, r).await.unwrap().entries.len();
    }
    (start.elapsed() / runs, n)
}

#[tokio::main]
async fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200_000);
    let csv = hr_export(rows);
    let mut engines = vec![TestDb::sqlite()];
    engines.extend(TestDb::postgres().await);
    for db in engines {
        let config = Arc::new(test_config(&db));
        let key = carepost_audit::seal_key(&config.master_key);
        let store = Store::open(&config.store.url, key).await.unwrap();
        let d = Directory::new(store, config, Arc::new(SystemClock), Arc::new(OsRng)).unwrap();
        d.import_csv(&Actor::local_cli("bench"), csv.as_bytes())
            .await
            .unwrap();
        println!("account search, {rows} accounts, {}:", db.backend);
        let page = |f: ListFilter| ListFilter {
            limit: Some(50),
            ..f
        };
        let (base, _) = time(&d, &page(ListFilter::default()), 20).await;
        let report = |what: &str, t: Duration, n: usize| {
            println!(
                "  {what:<36} {:>8.2} ms  {:>6.1}x baseline  ({n} results)",
                t.as_secs_f64() * 1000.0,
                t.as_secs_f64() / base.as_secs_f64()
            );
        };
        report("baseline: first 50, no filter", base, 50);
        let (t, n) = time(
            &d,
            &page(ListFilter {
                query: Some("nunez12".into()),
                ..ListFilter::default()
            }),
            10,
        )
        .await;
        report("name fragment \"nunez12\"", t, n);
        let (t, n) = time(
            &d,
            &page(ListFilter {
                query: Some("zzzz-nobody".into()),
                ..ListFilter::default()
            }),
            10,
        )
        .await;
        report("name fragment matching nothing", t, n);
        let (t, n) = time(
            &d,
            &page(ListFilter {
                department: Some("Radiology".into()),
                ..ListFilter::default()
            }),
            10,
        )
        .await;
        report("department Radiology", t, n);
        let (t, n) = time(
            &d,
            &page(ListFilter {
                status: Some(AccountStatus::Disabled),
                ..ListFilter::default()
            }),
            10,
        )
        .await;
        report("status disabled", t, n);
        let table = |sort: RosterSort, page: i64, filter: ListFilter| RosterRequest {
            filter,
            sort,
            descending: false,
            page,
            per_page: 100,
        };
        let deep = i64::try_from(rows / 200).unwrap_or(0);
        for (what, r) in [
            (
                "table: page 1 by name",
                table(RosterSort::Name, 0, ListFilter::default()),
            ),
            (
                "table: the middle page by name",
                table(RosterSort::Name, deep, ListFilter::default()),
            ),
            (
                "table: page 1 by last sign-in",
                table(RosterSort::LastSignIn, 0, ListFilter::default()),
            ),
            (
                "table: nurses in Radiology, by dept",
                table(
                    RosterSort::Department,
                    0,
                    ListFilter {
                        department: Some("Radiology".into()),
                        category: Some("nurse".into()),
                        ..ListFilter::default()
                    },
                ),
            ),
        ] {
            let (t, n) = time_table(&d, &r, 5).await;
            report(what, t, n);
        }
    }
}
