//! Failed sign-ins per source network and login, for the spray defence: one row per network
//! and login tried (a known account, or the hash of an unknown name), forgotten when that
//! login succeeds from that network. This crate keeps the rows; when a network is paused is
//! the identity layer's decision.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;

/// One network's recent failures, for the helpdesk's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailuresRow {
    pub network: String,
    /// Logins with failures in the window and no success since.
    pub logins: i64,
    /// Of those, names that are no account.
    pub unknown: i64,
    pub failures: i64,
    pub first_at: UnixMillis,
    pub last_at: UnixMillis,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait SourceRepo {
    /// One more failure of `login_key` from `network` at `now`; rows of the network older
    /// than `forget_before` go.
    async fn record_source_failure(
        &mut self,
        network: &str,
        login_key: &str,
        account: Option<AccountId>,
        now: UnixMillis,
        forget_before: UnixMillis,
    ) -> Result<(), StoreError>;
    /// The last failure times of the network's logins since `since`, newest first, at most
    /// `limit` of them.
    async fn source_failure_times(
        &mut self,
        network: &str,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, StoreError>;
    /// A success of `login_key` from `network`: its failures there are forgiven.
    async fn forget_source_login(
        &mut self,
        network: &str,
        login_key: &str,
    ) -> Result<(), StoreError>;
    /// Networks with at least `min_logins` failing logins since `since`, most first.
    async fn list_source_failures(
        &mut self,
        since: UnixMillis,
        min_logins: i64,
    ) -> Result<Vec<SourceFailuresRow>, StoreError>;
    /// One network's failures since `since`, if it has any.
    async fn find_source_failures(
        &mut self,
        network: &str,
        since: UnixMillis,
    ) -> Result<Option<SourceFailuresRow>, StoreError>;
    /// Networks from which `account` failed since `since`.
    async fn networks_failed_by(
        &mut self,
        account: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<String>, StoreError>;
    /// Forgets every failure of a network; returns how many logins it had.
    async fn clear_source(&mut self, network: &str) -> Result<u64, StoreError>;
}

/// One network's summary; a macro so that the queries stay static strings.
macro_rules! summary_sql {
    () => {
        "SELECT network, COUNT(*) AS logins, \
     CAST(SUM(CASE WHEN account_id IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS unknown, \
     CAST(SUM(failures) AS BIGINT) AS failures, MIN(first_at) AS first_at, MAX(last_at) AS last_at \
     FROM source_login_failures"
    };
}

fn summary(r: &sqlx::any::AnyRow) -> sqlx::Result<SourceFailuresRow> {
    Ok(SourceFailuresRow {
        network: r.try_get("network")?,
        logins: r.try_get("logins")?,
        unknown: r.try_get("unknown")?,
        failures: r.try_get("failures")?,
        first_at: UnixMillis(r.try_get("first_at")?),
        last_at: UnixMillis(r.try_get("last_at")?),
    })
}

impl SourceRepo for Tx {
    async fn record_source_failure(
        &mut self,
        network: &str,
        login_key: &str,
        account: Option<AccountId>,
        now: UnixMillis,
        forget_before: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM source_login_failures WHERE network = $1 AND last_at < $2")
            .bind(network)
            .bind(forget_before.0)
            .execute(self.write()?)
            .await?;
        sqlx::query(
            "INSERT INTO source_login_failures \
             (network, login_key, account_id, failures, first_at, last_at) \
             VALUES ($1, $2, $3, 1, $4, $4) ON CONFLICT (network, login_key) DO UPDATE SET \
             failures = source_login_failures.failures + 1, last_at = excluded.last_at",
        )
        .bind(network)
        .bind(login_key)
        .bind(account.map(|a| a.0))
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn source_failure_times(
        &mut self,
        network: &str,
        since: UnixMillis,
        limit: i64,
    ) -> Result<Vec<UnixMillis>, StoreError> {
        let rows = sqlx::query(
            "SELECT last_at FROM source_login_failures WHERE network = $1 AND last_at >= $2 \
             ORDER BY last_at DESC LIMIT $3",
        )
        .bind(network)
        .bind(since.0)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| Ok(UnixMillis(r.try_get("last_at")?)))
    }

    async fn forget_source_login(
        &mut self,
        network: &str,
        login_key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM source_login_failures WHERE network = $1 AND login_key = $2")
            .bind(network)
            .bind(login_key)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn list_source_failures(
        &mut self,
        since: UnixMillis,
        min_logins: i64,
    ) -> Result<Vec<SourceFailuresRow>, StoreError> {
        let rows = sqlx::query(concat!(
            summary_sql!(),
            " WHERE last_at >= $1 GROUP BY network HAVING COUNT(*) >= $2 \
             ORDER BY COUNT(*) DESC, network LIMIT 1000"
        ))
        .bind(since.0)
        .bind(min_logins)
        .fetch_all(self.conn())
        .await?;
        all(&rows, summary)
    }

    async fn find_source_failures(
        &mut self,
        network: &str,
        since: UnixMillis,
    ) -> Result<Option<SourceFailuresRow>, StoreError> {
        let row = sqlx::query(concat!(
            summary_sql!(),
            " WHERE network = $1 AND last_at >= $2 GROUP BY network"
        ))
        .bind(network)
        .bind(since.0)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.as_ref().map(summary).transpose()?)
    }

    async fn networks_failed_by(
        &mut self,
        account: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT network FROM source_login_failures \
             WHERE account_id = $1 AND last_at >= $2 ORDER BY network",
        )
        .bind(account.0)
        .bind(since.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| r.try_get("network"))
    }

    async fn clear_source(&mut self, network: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM source_login_failures WHERE network = $1")
            .bind(network)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected())
    }
}
