//! Reset requests: a helpdesk agent's request to reset someone's password, waiting for a
//! supervisor's approval.

use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetRequestRow {
    pub id: i64,
    pub account_id: AccountId,
    pub requested_by: String,
    pub requested_by_id: Option<AccountId>,
    pub reason: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub decided_by: Option<String>,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ResetRepo {
    async fn insert_reset_request(&mut self, r: &ResetRequestRow) -> Result<i64, StoreError>;
    async fn find_reset_request(&mut self, id: i64) -> Result<Option<ResetRequestRow>, StoreError>;
    /// Undecided, unexpired requests, oldest first (at most 1,000).
    async fn list_open_reset_requests(
        &mut self,
        now: UnixMillis,
    ) -> Result<Vec<ResetRequestRow>, StoreError>;
    /// Marks an undecided request decided; false if it was decided already.
    async fn decide_reset_request(
        &mut self,
        id: i64,
        by: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError>;
}

const COLUMNS: &str = "SELECT id, account_id, requested_by, requested_by_id, reason, created_at, \
     expires_at, decided_by FROM reset_requests";

fn request_from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<ResetRequestRow> {
    Ok(ResetRequestRow {
        id: r.try_get("id")?,
        account_id: AccountId(r.try_get("account_id")?),
        requested_by: r.try_get("requested_by")?,
        requested_by_id: r
            .try_get::<Option<i64>, _>("requested_by_id")?
            .map(AccountId),
        reason: r.try_get("reason")?,
        created_at: UnixMillis(r.try_get("created_at")?),
        expires_at: UnixMillis(r.try_get("expires_at")?),
        decided_by: r.try_get("decided_by")?,
    })
}

impl ResetRepo for Tx {
    async fn insert_reset_request(&mut self, r: &ResetRequestRow) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO reset_requests (account_id, requested_by, requested_by_id, reason, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(r.account_id.0)
        .bind(&r.requested_by)
        .bind(r.requested_by_id.map(|a| a.0))
        .bind(&r.reason)
        .bind(r.created_at.0)
        .bind(r.expires_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn find_reset_request(&mut self, id: i64) -> Result<Option<ResetRequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(request_from_row).transpose()?)
    }

    async fn list_open_reset_requests(
        &mut self,
        now: UnixMillis,
    ) -> Result<Vec<ResetRequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE decided_by IS NULL AND expires_at > $1 ORDER BY id LIMIT 1000"
        ));
        let rows = sqlx::query(sql).bind(now.0).fetch_all(self.conn()).await?;
        crate::rows::all(&rows, request_from_row)
    }

    async fn decide_reset_request(
        &mut self,
        id: i64,
        by: &str,
        at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE reset_requests SET decided_by = $2, decided_at = $3 \
             WHERE id = $1 AND decided_by IS NULL AND expires_at > $3",
        )
        .bind(id)
        .bind(by)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
