//! What differs between SQLite and PostgreSQL, decided once from the store URL.

use crate::StoreError;
use sqlx::AnyConnection;
use sqlx::{AnyPool, Executor};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Url(format!(
                "unsupported store URL '{url}': use sqlite://PATH or postgres://..."
            )))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    pub(crate) fn max_connections(self) -> u32 {
        match self {
            // One writer at a time anyway; a few readers beside it in WAL mode.
            Backend::Sqlite => 6,
            Backend::Postgres => 16,
        }
    }

    /// The URL to connect with: an SQLite file is created when missing.
    pub(crate) fn connect_url(self, url: &str) -> String {
        match self {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_string(),
        }
    }

    /// Per-connection settings. SQLite: foreign keys on, wait up to 30 s for the writer lock,
    /// and `synchronous = FULL` so a commit is on disk when it returns (WAL mode).
    pub(crate) async fn prepare_connection(self, conn: &mut AnyConnection) -> sqlx::Result<()> {
        if self == Backend::Sqlite {
            conn.execute("PRAGMA foreign_keys = ON").await?;
            conn.execute("PRAGMA busy_timeout = 30000").await?;
            conn.execute("PRAGMA synchronous = FULL").await?;
        }
        Ok(())
    }

    /// Database-wide settings, once per open. WAL lets readers go on while one writer works.
    ///
    /// Text must be stored as UTF-8: lengths read in SQL are the bytes the client is sent
    /// (the packed reads of calendar objects rely on it, see `dav::packed_objects`), and
    /// names and messages hold any script. A PostgreSQL database in another encoding (an
    /// old LATIN1 one) is refused, as is an SQLite file made in UTF-16.
    pub(crate) async fn prepare_database(self, pool: &AnyPool) -> Result<(), StoreError> {
        let encoding = match self {
            Backend::Sqlite => {
                pool.execute("PRAGMA journal_mode = WAL").await?;
                "PRAGMA encoding"
            }
            Backend::Postgres => "SELECT current_setting('server_encoding')",
        };
        let found: String = sqlx::query_scalar(encoding).fetch_one(pool).await?;
        if !matches!(found.to_ascii_uppercase().as_str(), "UTF8" | "UTF-8") {
            return Err(StoreError::Url(format!(
                "the database stores text as {found}; carepost needs UTF-8 (for PostgreSQL, \
                 a database made with ENCODING 'UTF8')"
            )));
        }
        Ok(())
    }

    /// How a write transaction starts. SQLite takes the write lock at once (`IMMEDIATE`) so
    /// that a transaction never has to upgrade a read lock and fail with SQLITE_BUSY.
    pub(crate) fn begin_write(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// How a read transaction starts: one consistent snapshot for all its statements.
    /// (SQLite's deferred transaction takes its snapshot at the first read and keeps it.)
    pub(crate) fn begin_read(self) -> &'static str {
        match self {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        }
    }

    /// The condition "the account's search text contains `$n`" (a LIKE pattern), in the form
    /// each engine answers from its trigram index.
    pub(crate) fn search_condition(self, n: usize) -> String {
        match self {
            // FTS5's LIKE takes no ESCAPE clause; patterns are built without escapes there.
            Backend::Sqlite => {
                format!("a.id IN (SELECT rowid FROM accounts_search WHERE search_text LIKE ${n})")
            }
            Backend::Postgres => format!("a.search_text LIKE ${n} ESCAPE '\\'"),
        }
    }

    /// Reads the audit chain head and locks it until the transaction ends.
    pub(crate) fn lock_head_sql(self) -> &'static str {
        match self {
            Backend::Sqlite => "SELECT seq, hash, seal FROM audit_head WHERE id = 1",
            Backend::Postgres => "SELECT seq, hash, seal FROM audit_head WHERE id = 1 FOR UPDATE",
        }
    }
}
