//! Web sessions, kept server-side: the browser holds a random token, the store only its
//! SHA-256, so a copy of the database opens no session.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: i64,
    pub account_id: AccountId,
    pub created_at: UnixMillis,
    pub last_seen_at: UnixMillis,
    /// The absolute end, whatever the activity.
    pub expires_at: UnixMillis,
    pub device: String,
    pub source: Option<String>,
    /// Authentication methods used (RFC 8176 names), comma-separated.
    pub amr: String,
    pub revoked_at: Option<UnixMillis>,
    /// When a second factor was last proven in the session.
    pub factor_at: Option<UnixMillis>,
}

impl SessionRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<SessionRow> {
        Ok(SessionRow {
            id: r.try_get("id")?,
            account_id: AccountId(r.try_get("account_id")?),
            created_at: UnixMillis(r.try_get("created_at")?),
            last_seen_at: UnixMillis(r.try_get("last_seen_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
            device: r.try_get("device")?,
            source: r.try_get("source")?,
            amr: r.try_get("amr")?,
            revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(UnixMillis),
            factor_at: r.try_get::<Option<i64>, _>("factor_at")?.map(UnixMillis),
        })
    }
}

const COLUMNS: &str = "SELECT id, account_id, created_at, last_seen_at, expires_at, device, source, \
    amr, revoked_at, factor_at FROM web_sessions";

/// What a new session records.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub account: AccountId,
    pub now: UnixMillis,
    pub expires_at: UnixMillis,
    pub device: &'a str,
    pub source: Option<&'a str>,
    pub amr: &'a str,
    /// Opened with a second factor: now.
    pub factor_at: Option<UnixMillis>,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait SessionRepo {
    async fn insert_session(&mut self, s: &NewSession<'_>) -> Result<i64, StoreError>;
    async fn find_session(&mut self, token_hash: &str) -> Result<Option<SessionRow>, StoreError>;
    async fn touch_session(&mut self, id: i64, at: UnixMillis) -> Result<(), StoreError>;
    /// Replaces how the session's account proved itself (a factor proven during the session).
    async fn update_session_amr(&mut self, id: i64, amr: &str) -> Result<(), StoreError>;
    /// Records that a second factor was proven in the session now (a step-up).
    async fn set_session_factor_at(&mut self, id: i64, at: UnixMillis) -> Result<(), StoreError>;
    /// Gives the session a new token (its hash): the old one opens nothing any more.
    async fn replace_session_token(&mut self, id: i64, token_hash: &str) -> Result<(), StoreError>;
    /// Sessions not revoked and not past their absolute end.
    async fn list_sessions(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<Vec<SessionRow>, StoreError>;
    /// Revokes one session (`only`), or all but `except`; returns how many.
    async fn revoke_sessions(
        &mut self,
        account: AccountId,
        only: Option<i64>,
        except: Option<i64>,
        at: UnixMillis,
    ) -> Result<u64, StoreError>;
}

impl SessionRepo for Tx {
    async fn insert_session(&mut self, s: &NewSession<'_>) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO web_sessions (token_hash, account_id, created_at, last_seen_at, \
             expires_at, device, source, amr, factor_at) \
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(s.token_hash)
        .bind(s.account.0)
        .bind(s.now.0)
        .bind(s.expires_at.0)
        .bind(s.device)
        .bind(s.source)
        .bind(s.amr)
        .bind(s.factor_at.map(|t| t.0))
        .fetch_one(self.write()?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn find_session(&mut self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE token_hash = $1"));
        let row = sqlx::query(sql)
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(SessionRow::from_row).transpose()?)
    }

    async fn update_session_amr(&mut self, id: i64, amr: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET amr = $2 WHERE id = $1")
            .bind(id)
            .bind(amr)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn replace_session_token(&mut self, id: i64, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET token_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(token_hash)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn set_session_factor_at(&mut self, id: i64, at: UnixMillis) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET factor_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn touch_session(&mut self, id: i64, at: UnixMillis) -> Result<(), StoreError> {
        sqlx::query("UPDATE web_sessions SET last_seen_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn list_sessions(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<Vec<SessionRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE account_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
             ORDER BY last_seen_at DESC"
        ));
        let rows = sqlx::query(sql)
            .bind(account.0)
            .bind(now.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, SessionRow::from_row)
    }

    async fn revoke_sessions(
        &mut self,
        account: AccountId,
        only: Option<i64>,
        except: Option<i64>,
        at: UnixMillis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE web_sessions SET revoked_at = $4 WHERE account_id = $1 AND revoked_at IS NULL \
             AND (CAST($2 AS BIGINT) IS NULL OR id = $2) \
             AND (CAST($3 AS BIGINT) IS NULL OR id <> $3)",
        )
        .bind(account.0)
        .bind(only)
        .bind(except)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }
}
