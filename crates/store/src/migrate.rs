//! Schema migrations: forward only, one list with the SQLite and PostgreSQL text of each step
//! side by side so they cannot drift apart (a test also compares the two folders).

use crate::{Backend, StoreError};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, SqlSafeStr};
use std::borrow::Cow;

/// (version, description, SQLite text, PostgreSQL text).
pub const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "directory_and_audit",
        include_str!("../../../migrations/sqlite/0001_directory_and_audit.sql"),
        include_str!("../../../migrations/postgres/0001_directory_and_audit.sql"),
    ),
    (
        2,
        "authentication",
        include_str!("../../../migrations/sqlite/0002_authentication.sql"),
        include_str!("../../../migrations/postgres/0002_authentication.sql"),
    ),
    (
        3,
        "reset_requests",
        include_str!("../../../migrations/sqlite/0003_reset_requests.sql"),
        include_str!("../../../migrations/postgres/0003_reset_requests.sql"),
    ),
    (
        4,
        "account_search",
        include_str!("../../../migrations/sqlite/0004_account_search.sql"),
        include_str!("../../../migrations/postgres/0004_account_search.sql"),
    ),
    (
        5,
        "api_tokens",
        include_str!("../../../migrations/sqlite/0005_api_tokens.sql"),
        include_str!("../../../migrations/postgres/0005_api_tokens.sql"),
    ),
    (
        6,
        "mail_store",
        include_str!("../../../migrations/sqlite/0006_mail_store.sql"),
        include_str!("../../../migrations/postgres/0006_mail_store.sql"),
    ),
    (
        7,
        "outbound_queue",
        include_str!("../../../migrations/sqlite/0007_outbound_queue.sql"),
        include_str!("../../../migrations/postgres/0007_outbound_queue.sql"),
    ),
    (
        8,
        "inline_bodies",
        include_str!("../../../migrations/sqlite/0008_inline_bodies.sql"),
        include_str!("../../../migrations/postgres/0008_inline_bodies.sql"),
    ),
    (
        9,
        "imap_state",
        include_str!("../../../migrations/sqlite/0009_imap_state.sql"),
        include_str!("../../../migrations/postgres/0009_imap_state.sql"),
    ),
    (
        10,
        "mail_lists",
        include_str!("../../../migrations/sqlite/0010_mail_lists.sql"),
        include_str!("../../../migrations/postgres/0010_mail_lists.sql"),
    ),
    (
        11,
        "passkeys",
        include_str!("../../../migrations/sqlite/0011_passkeys.sql"),
        include_str!("../../../migrations/postgres/0011_passkeys.sql"),
    ),
    (
        12,
        "oidc",
        include_str!("../../../migrations/sqlite/0012_oidc.sql"),
        include_str!("../../../migrations/postgres/0012_oidc.sql"),
    ),
    (
        13,
        "step_up",
        include_str!("../../../migrations/sqlite/0013_step_up.sql"),
        include_str!("../../../migrations/postgres/0013_step_up.sql"),
    ),
    (
        14,
        "mail_clients",
        include_str!("../../../migrations/sqlite/0014_mail_clients.sql"),
        include_str!("../../../migrations/postgres/0014_mail_clients.sql"),
    ),
    (
        15,
        "policy_settings",
        include_str!("../../../migrations/sqlite/0015_policy_settings.sql"),
        include_str!("../../../migrations/postgres/0015_policy_settings.sql"),
    ),
    (
        16,
        "change_requests",
        include_str!("../../../migrations/sqlite/0016_change_requests.sql"),
        include_str!("../../../migrations/postgres/0016_change_requests.sql"),
    ),
    (
        17,
        "day_one",
        include_str!("../../../migrations/sqlite/0017_day_one.sql"),
        include_str!("../../../migrations/postgres/0017_day_one.sql"),
    ),
    (
        18,
        "revoke_reason",
        include_str!("../../../migrations/sqlite/0018_revoke_reason.sql"),
        include_str!("../../../migrations/postgres/0018_revoke_reason.sql"),
    ),
    (
        19,
        "invitations",
        include_str!("../../../migrations/sqlite/0019_invitations.sql"),
        include_str!("../../../migrations/postgres/0019_invitations.sql"),
    ),
    (
        20,
        "console",
        include_str!("../../../migrations/sqlite/0020_console.sql"),
        include_str!("../../../migrations/postgres/0020_console.sql"),
    ),
    (
        21,
        "delivery_tls",
        include_str!("../../../migrations/sqlite/0021_delivery_tls.sql"),
        include_str!("../../../migrations/postgres/0021_delivery_tls.sql"),
    ),
    (
        22,
        "calendar",
        include_str!("../../../migrations/sqlite/0022_calendar.sql"),
        include_str!("../../../migrations/postgres/0022_calendar.sql"),
    ),
    (
        23,
        "directory_book",
        include_str!("../../../migrations/sqlite/0023_directory_book.sql"),
        include_str!("../../../migrations/postgres/0023_directory_book.sql"),
    ),
    (
        24,
        "resources",
        include_str!("../../../migrations/sqlite/0024_resources.sql"),
        include_str!("../../../migrations/postgres/0024_resources.sql"),
    ),
    (
        25,
        "calendar_shares",
        include_str!("../../../migrations/sqlite/0025_calendar_shares.sql"),
        include_str!("../../../migrations/postgres/0025_calendar_shares.sql"),
    ),
    (
        26,
        "directory_book_entries",
        include_str!("../../../migrations/sqlite/0026_directory_book_entries.sql"),
        include_str!("../../../migrations/postgres/0026_directory_book_entries.sql"),
    ),
    (
        27,
        "files",
        include_str!("../../../migrations/sqlite/0027_files.sql"),
        include_str!("../../../migrations/postgres/0027_files.sql"),
    ),
    (
        28,
        "sync_order",
        include_str!("../../../migrations/sqlite/0028_sync_order.sql"),
        include_str!("../../../migrations/postgres/0028_sync_order.sql"),
    ),
    (
        29,
        "imip_outbox",
        include_str!("../../../migrations/sqlite/0029_imip_outbox.sql"),
        include_str!("../../../migrations/postgres/0029_imip_outbox.sql"),
    ),
    (
        30,
        "calendar_timezone",
        include_str!("../../../migrations/sqlite/0030_calendar_timezone.sql"),
        include_str!("../../../migrations/postgres/0030_calendar_timezone.sql"),
    ),
];

/// The newest schema version this build knows.
pub fn schema_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

fn migrator(backend: Backend, up_to: i64) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .filter(|m| m.0 <= up_to)
        .map(|(version, description, sqlite, postgres)| {
            let sql = match backend {
                Backend::Sqlite => *sqlite,
                Backend::Postgres => *postgres,
            };
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

/// Brings a store only up to `version`: what an older carepost would have left. For tests of
/// the upgrade path.
pub async fn create_at_version(url: &str, version: i64) -> Result<(), StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    let pool = AnyPool::connect(&backend.connect_url(url)).await?;
    migrator(backend, version).run(&pool).await?;
    pool.close().await;
    Ok(())
}

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<(), StoreError> {
    match migrator(backend, i64::MAX).run(pool).await {
        Ok(()) => Ok(()),
        Err(sqlx::migrate::MigrateError::VersionMissing(found)) => Err(StoreError::SchemaTooNew {
            found,
            known: schema_version(),
        }),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut v: Vec<String> = std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn both_migration_trees_hold_the_same_steps() {
        let sqlite = names("../../migrations/sqlite");
        assert_eq!(sqlite, names("../../migrations/postgres"));
        assert_eq!(sqlite.len(), MIGRATIONS.len());
        for ((version, description, _, _), file) in MIGRATIONS.iter().zip(&sqlite) {
            assert_eq!(file, &format!("{version:04}_{description}.sql"));
        }
    }
}
