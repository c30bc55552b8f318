//! The outbound queue's rows: messages waiting to leave the organization and the state of each
//! remote recipient. Claiming a due recipient moves its next attempt into the future in the
//! same statement, which is the lease that keeps two workers (or nodes) apart.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessageRow {
    pub id: i64,
    pub blob_id: String,
    pub mail_from: String,
    pub sender_account_id: Option<AccountId>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    /// The sender asked for REQUIRETLS (RFC 8689).
    pub require_tls: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecipientRow {
    pub queue_id: i64,
    pub recipient: String,
    pub domain: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt: UnixMillis,
    pub last_error: Option<String>,
}

impl QueueMessageRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<QueueMessageRow> {
        Ok(QueueMessageRow {
            id: r.try_get("id")?,
            blob_id: r.try_get("blob_id")?,
            mail_from: r.try_get("mail_from")?,
            sender_account_id: r
                .try_get::<Option<i64>, _>("sender_account_id")?
                .map(AccountId),
            created_at: UnixMillis(r.try_get("created_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
            require_tls: r.try_get::<i64, _>("require_tls")? != 0,
        })
    }
}

impl QueueRecipientRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<QueueRecipientRow> {
        Ok(QueueRecipientRow {
            queue_id: r.try_get("queue_id")?,
            recipient: r.try_get("recipient")?,
            domain: r.try_get("domain")?,
            status: r.try_get("status")?,
            attempts: r.try_get("attempts")?,
            next_attempt: UnixMillis(r.try_get("next_attempt")?),
            last_error: r.try_get("last_error")?,
        })
    }
}

const MESSAGE_COLUMNS: &str = "SELECT id, blob_id, mail_from, sender_account_id, created_at, expires_at, require_tls \
    FROM queue_messages";
const RECIPIENT_COLUMNS: &str = "SELECT queue_id, recipient, domain, status, attempts, \
    next_attempt, last_error FROM queue_recipients";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait QueueRepo {
    async fn insert_queue_message(
        &mut self,
        row: &QueueMessageRow,
        recipients: &[String],
    ) -> Result<i64, StoreError>;
    /// Claims up to `limit` due pending recipients, pushing their next attempt to `lease_until`.
    async fn claim_due_recipients(
        &mut self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: i64,
    ) -> Result<Vec<QueueRecipientRow>, StoreError>;
    async fn find_queue_message(&mut self, id: i64) -> Result<Option<QueueMessageRow>, StoreError>;
    async fn list_queue_messages(&mut self) -> Result<Vec<QueueMessageRow>, StoreError>;
    async fn list_queue_recipients(
        &mut self,
        queue_id: i64,
    ) -> Result<Vec<QueueRecipientRow>, StoreError>;
    /// Records an attempt's outcome for one recipient.
    async fn update_queue_recipient(
        &mut self,
        queue_id: i64,
        recipient: &str,
        status: &str,
        next_attempt: UnixMillis,
        last_error: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Makes every pending recipient of a message (or of all, with `None`) due at `now`.
    async fn retry_queue(
        &mut self,
        queue_id: Option<i64>,
        now: UnixMillis,
    ) -> Result<u64, StoreError>;
    /// Deletes a message and its recipients; returns its body's id if it existed.
    async fn delete_queue_message(&mut self, id: i64) -> Result<Option<String>, StoreError>;
}

impl QueueRepo for Tx {
    async fn insert_queue_message(
        &mut self,
        row: &QueueMessageRow,
        recipients: &[String],
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO queue_messages (blob_id, mail_from, sender_account_id, created_at, \
             expires_at, require_tls) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&row.blob_id)
        .bind(&row.mail_from)
        .bind(row.sender_account_id.map(|a| a.0))
        .bind(row.created_at.0)
        .bind(row.expires_at.0)
        .bind(i64::from(row.require_tls))
        .fetch_one(self.write()?)
        .await?;
        let id: i64 = r.try_get("id")?;
        for rcpt in recipients {
            let domain = rcpt.rsplit_once('@').map_or("", |(_, d)| d);
            sqlx::query(
                "INSERT INTO queue_recipients (queue_id, recipient, domain, status, attempts, \
                 next_attempt) VALUES ($1, $2, $3, 'pending', 0, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(rcpt)
            .bind(domain)
            .bind(row.created_at.0)
            .execute(self.write()?)
            .await?;
        }
        Ok(id)
    }

    async fn claim_due_recipients(
        &mut self,
        now: UnixMillis,
        lease_until: UnixMillis,
        limit: i64,
    ) -> Result<Vec<QueueRecipientRow>, StoreError> {
        let rows = sqlx::query(
            "UPDATE queue_recipients SET next_attempt = $2, attempts = attempts + 1 \
             WHERE status = 'pending' AND next_attempt <= $1 \
             AND (queue_id, recipient) IN (SELECT queue_id, recipient FROM queue_recipients \
             WHERE status = 'pending' AND next_attempt <= $1 ORDER BY next_attempt LIMIT $3) \
             RETURNING queue_id, recipient, domain, status, attempts, next_attempt, last_error",
        )
        .bind(now.0)
        .bind(lease_until.0)
        .bind(limit)
        .fetch_all(self.write()?)
        .await?;
        all(&rows, QueueRecipientRow::from_row)
    }

    async fn find_queue_message(&mut self, id: i64) -> Result<Option<QueueMessageRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{MESSAGE_COLUMNS} WHERE id = $1"));
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(QueueMessageRow::from_row).transpose()?)
    }

    async fn list_queue_messages(&mut self) -> Result<Vec<QueueMessageRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{MESSAGE_COLUMNS} ORDER BY id"));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, QueueMessageRow::from_row)
    }

    async fn list_queue_recipients(
        &mut self,
        queue_id: i64,
    ) -> Result<Vec<QueueRecipientRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{RECIPIENT_COLUMNS} WHERE queue_id = $1 ORDER BY recipient"
        ));
        let rows = sqlx::query(sql)
            .bind(queue_id)
            .fetch_all(self.conn())
            .await?;
        all(&rows, QueueRecipientRow::from_row)
    }

    async fn update_queue_recipient(
        &mut self,
        queue_id: i64,
        recipient: &str,
        status: &str,
        next_attempt: UnixMillis,
        last_error: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE queue_recipients SET status = $3, next_attempt = $4, last_error = $5 \
             WHERE queue_id = $1 AND recipient = $2",
        )
        .bind(queue_id)
        .bind(recipient)
        .bind(status)
        .bind(next_attempt.0)
        .bind(last_error)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn retry_queue(
        &mut self,
        queue_id: Option<i64>,
        now: UnixMillis,
    ) -> Result<u64, StoreError> {
        let r = sqlx::query(
            "UPDATE queue_recipients SET next_attempt = $2 WHERE status = 'pending' \
             AND ($1 IS NULL OR queue_id = $1)",
        )
        .bind(queue_id)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(r.rows_affected())
    }

    async fn delete_queue_message(&mut self, id: i64) -> Result<Option<String>, StoreError> {
        sqlx::query("DELETE FROM queue_recipients WHERE queue_id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        let row = sqlx::query("DELETE FROM queue_messages WHERE id = $1 RETURNING blob_id")
            .bind(id)
            .fetch_optional(self.write()?)
            .await?;
        match row {
            Some(r) => {
                let blob: String = r.try_get("blob_id")?;
                sqlx::query("UPDATE blobs SET refs = refs - 1 WHERE id = $1")
                    .bind(&blob)
                    .execute(self.write()?)
                    .await?;
                Ok(Some(blob))
            }
            None => Ok(None),
        }
    }
}
