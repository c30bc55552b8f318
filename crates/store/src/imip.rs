//! Rows of the iMIP outbox: the iTIP messages a calendar write makes for people outside the
//! organization, kept from the write's commit until they are in the mail queue (migration
//! 0029). The calendar crate writes and mails them; these only read and write the rows.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImipRow {
    /// Set by the store.
    pub id: i64,
    /// The account it is sent for.
    pub account_id: AccountId,
    pub from: String,
    pub to: String,
    /// `REQUEST`, `CANCEL` or `REPLY`.
    pub method: String,
    pub summary: String,
    pub ical: String,
    pub created_at: UnixMillis,
    pub attempts: i64,
    pub next_try_at: UnixMillis,
}

impl ImipRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<ImipRow> {
        Ok(ImipRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            from: r.try_get("from_address")?,
            to: r.try_get("to_address")?,
            method: r.try_get("method")?,
            summary: r.try_get("summary")?,
            ical: r.try_get("ical")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            attempts: r.try_get("attempts")?,
            next_try_at: UnixMillis(r.try_get("next_try_at")?),
        })
    }
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ImipRepo {
    /// Keeps a message to be mailed; its id.
    async fn queue_imip(&mut self, row: &ImipRow) -> Result<i64, StoreError>;
    /// The messages whose next try is due at `now`, oldest first, at most `limit`.
    async fn due_imip(&mut self, now: UnixMillis, limit: i64) -> Result<Vec<ImipRow>, StoreError>;
    /// Claims `row` for a try: its attempts raised and its next try put at `next_try_at`,
    /// only if nobody claimed it since it was read. Whether this caller has it.
    async fn claim_imip(
        &mut self,
        row: &ImipRow,
        next_try_at: UnixMillis,
    ) -> Result<bool, StoreError>;
    /// Whether the message was there (another node or task may have mailed it).
    async fn delete_imip(&mut self, id: i64) -> Result<bool, StoreError>;
}

impl ImipRepo for Tx {
    async fn queue_imip(&mut self, row: &ImipRow) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO imip_outbox (account_id, from_address, to_address, method, summary, \
             ical, created_at, attempts, next_try_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(row.account_id.0)
        .bind(&row.from)
        .bind(&row.to)
        .bind(&row.method)
        .bind(&row.summary)
        .bind(&row.ical)
        .bind(row.created_at.0)
        .bind(row.attempts)
        .bind(row.next_try_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn due_imip(&mut self, now: UnixMillis, limit: i64) -> Result<Vec<ImipRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, account_id, from_address, to_address, method, summary, ical, created_at, \
             attempts, next_try_at FROM imip_outbox WHERE next_try_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now.0)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        all(&rows, ImipRow::from_row)
    }

    async fn claim_imip(
        &mut self,
        row: &ImipRow,
        next_try_at: UnixMillis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE imip_outbox SET attempts = attempts + 1, next_try_at = $3 \
             WHERE id = $1 AND attempts = $2",
        )
        .bind(row.id)
        .bind(row.attempts)
        .bind(next_try_at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_imip(&mut self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM imip_outbox WHERE id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
