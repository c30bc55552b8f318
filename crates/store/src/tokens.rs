//! API tokens for automation: hashes only, with the roles they carry.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::UnixMillis;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    /// Comma-separated role names.
    pub roles: String,
    pub created_by: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

impl ApiTokenRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<ApiTokenRow> {
        Ok(ApiTokenRow {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            roles: r.try_get("roles")?,
            created_by: r.try_get("created_by")?,
            created_at: UnixMillis(r.try_get("created_at")?),
            expires_at: UnixMillis(r.try_get("expires_at")?),
            last_used_at: r.try_get::<Option<i64>, _>("last_used_at")?.map(UnixMillis),
            revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(UnixMillis),
        })
    }
}

const COLUMNS: &str = "SELECT id, name, roles, created_by, created_at, expires_at, last_used_at, \
    revoked_at FROM api_tokens";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ApiTokenRepo {
    async fn insert_api_token(
        &mut self,
        row: &ApiTokenRow,
        token_hash: &str,
    ) -> Result<i64, StoreError>;
    async fn find_api_token(&mut self, token_hash: &str)
    -> Result<Option<ApiTokenRow>, StoreError>;
    async fn list_api_tokens(&mut self) -> Result<Vec<ApiTokenRow>, StoreError>;
    /// Returns whether a live token was revoked.
    async fn revoke_api_token(&mut self, id: i64, at: UnixMillis) -> Result<bool, StoreError>;
    async fn touch_api_token(&mut self, id: i64, at: UnixMillis) -> Result<(), StoreError>;
}

impl ApiTokenRepo for Tx {
    async fn insert_api_token(
        &mut self,
        row: &ApiTokenRow,
        token_hash: &str,
    ) -> Result<i64, StoreError> {
        let r = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, roles, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&row.name)
        .bind(token_hash)
        .bind(&row.roles)
        .bind(&row.created_by)
        .bind(row.created_at.0)
        .bind(row.expires_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn find_api_token(
        &mut self,
        token_hash: &str,
    ) -> Result<Option<ApiTokenRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE token_hash = $1"));
        let row = sqlx::query(sql)
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(ApiTokenRow::from_row).transpose()?)
    }

    async fn list_api_tokens(&mut self) -> Result<Vec<ApiTokenRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY id"));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, ApiTokenRow::from_row)
    }

    async fn revoke_api_token(&mut self, id: i64, at: UnixMillis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(at.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn touch_api_token(&mut self, id: i64, at: UnixMillis) -> Result<(), StoreError> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(at.0)
            .execute(self.write()?)
            .await?;
        Ok(())
    }
}
