//! Change requests: a supervisor's request that IT change an account of their department,
//! open until an IT administrator approves or declines it.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequestRow {
    pub id: i64,
    pub account_id: AccountId,
    /// The change, as JSON.
    pub change: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_by_id: AccountId,
    pub created_at: UnixMillis,
    pub decided_by: Option<String>,
    pub decided_at: Option<UnixMillis>,
    /// `approved` or `declined`.
    pub outcome: Option<String>,
    pub note: Option<String>,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ChangeRequestRepo {
    async fn insert_change_request(&mut self, r: &ChangeRequestRow) -> Result<i64, StoreError>;
    async fn find_change_request(
        &mut self,
        id: i64,
    ) -> Result<Option<ChangeRequestRow>, StoreError>;
    /// Undecided requests, oldest first (at most 500).
    async fn list_open_change_requests(&mut self) -> Result<Vec<ChangeRequestRow>, StoreError>;
    /// One requester's requests made since `since`, newest first (at most 200).
    async fn list_change_requests_by(
        &mut self,
        requester: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<ChangeRequestRow>, StoreError>;
    /// The approved requests for one account, newest decision first (at most 20).
    async fn list_approved_change_requests_for(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<ChangeRequestRow>, StoreError>;
    /// Decides an undecided request; false if it was decided already.
    async fn decide_change_request(
        &mut self,
        id: i64,
        by: &str,
        at: UnixMillis,
        outcome: &str,
        note: Option<&str>,
    ) -> Result<bool, StoreError>;
}

const COLUMNS: &str = "SELECT id, account_id, change, reason, requested_by, requested_by_id, \
     created_at, decided_by, decided_at, outcome, note FROM change_requests";

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<ChangeRequestRow> {
    Ok(ChangeRequestRow {
        id: r.try_get("id")?,
        account_id: AccountId(r.try_get("account_id")?),
        change: r.try_get("change")?,
        reason: r.try_get("reason")?,
        requested_by: r.try_get("requested_by")?,
        requested_by_id: AccountId(r.try_get("requested_by_id")?),
        created_at: UnixMillis(r.try_get("created_at")?),
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(UnixMillis),
        outcome: r.try_get("outcome")?,
        note: r.try_get("note")?,
    })
}

impl ChangeRequestRepo for Tx {
    async fn insert_change_request(&mut self, r: &ChangeRequestRow) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO change_requests (account_id, change, reason, requested_by, \
             requested_by_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(r.account_id.0)
        .bind(&r.change)
        .bind(&r.reason)
        .bind(&r.requested_by)
        .bind(r.requested_by_id.0)
        .bind(r.created_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn find_change_request(
        &mut self,
        id: i64,
    ) -> Result<Option<ChangeRequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    async fn list_open_change_requests(&mut self) -> Result<Vec<ChangeRequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE decided_at IS NULL ORDER BY created_at, id LIMIT 500"
        ));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, from_row)
    }

    async fn list_change_requests_by(
        &mut self,
        requester: AccountId,
        since: UnixMillis,
    ) -> Result<Vec<ChangeRequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE requested_by_id = $1 AND created_at >= $2 \
             ORDER BY created_at DESC, id DESC LIMIT 200"
        ));
        let rows = sqlx::query(sql)
            .bind(requester.0)
            .bind(since.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, from_row)
    }

    async fn list_approved_change_requests_for(
        &mut self,
        account: AccountId,
    ) -> Result<Vec<ChangeRequestRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE account_id = $1 AND outcome = 'approved' \
             ORDER BY decided_at DESC, id DESC LIMIT 20"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, from_row)
    }

    async fn decide_change_request(
        &mut self,
        id: i64,
        by: &str,
        at: UnixMillis,
        outcome: &str,
        note: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE change_requests SET decided_by = $1, decided_at = $2, outcome = $3, \
             note = $4 WHERE id = $5 AND decided_at IS NULL",
        )
        .bind(by)
        .bind(at.0)
        .bind(outcome)
        .bind(note)
        .bind(id)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
