//! One database per test, so tests run in parallel and in any order.

use carepost_types::{OsRng, Rng};
use sqlx::Connection;
use tempfile::TempDir;

/// The PostgreSQL server tests may use, from `CAREPOST_TEST_POSTGRES_URL`.
pub fn postgres_url() -> Option<String> {
    std::env::var("CAREPOST_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A store URL that exists for one test.
#[derive(Debug)]
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    /// Holds the SQLite file (and anything else a test wants to keep beside it).
    pub dir: TempDir,
    /// (server URL, database name) to drop afterwards.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            url: format!("sqlite://{}/carepost.db", dir.path().display()),
            backend: "sqlite",
            dir,
            postgres: None,
        }
    }

    /// A new, empty PostgreSQL database, or `None` (said loudly) without a server to use.
    pub async fn postgres() -> Option<TestDb> {
        let Some(server) = postgres_url() else {
            eprintln!(
                "SKIPPED on PostgreSQL: set CAREPOST_TEST_POSTGRES_URL to run this test there too"
            );
            return None;
        };
        let name = format!("carepost_test_{}", hex(&OsRng.bytes(8)));
        let mut conn = sqlx::PgConnection::connect(&server)
            .await
            .expect("CAREPOST_TEST_POSTGRES_URL is set but PostgreSQL does not answer");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        Some(TestDb {
            url: with_database(&server, &name),
            backend: "postgres",
            dir: tempfile::tempdir().unwrap(),
            postgres: Some((server, name)),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop may run inside a runtime; the database is dropped from a thread of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&server).await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        });
        let _ = dropped.join();
    }
}

/// The stores every storage test runs on: SQLite always, PostgreSQL when configured.
pub async fn backends() -> Vec<TestDb> {
    let mut v = vec![TestDb::sqlite()];
    v.extend(TestDb::postgres().await);
    v
}

fn with_database(server: &str, name: &str) -> String {
    let (base, query) = server.split_once('?').unwrap_or((server, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{name}{query}", &base[..host_end])
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_path() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
