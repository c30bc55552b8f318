//! First-sign-in invitations: a code's keyed hash per account, used once, expiring, revocable.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, UnixMillis};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationRow {
    pub id: i64,
    pub account_id: AccountId,
    pub created_at: UnixMillis,
    pub created_by: String,
    pub expires_at: UnixMillis,
    pub used_at: Option<UnixMillis>,
    pub revoked_at: Option<UnixMillis>,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait InvitationRepo {
    /// A new invitation; the account's earlier unused ones are revoked at `now`.
    async fn insert_invitation(
        &mut self,
        account: AccountId,
        code_hash: &str,
        by: &str,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<i64, StoreError>;
    /// The usable invitation with this code hash for `account` at `now`, if any.
    async fn find_usable_invitation(
        &mut self,
        account: AccountId,
        code_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<InvitationRow>, StoreError>;
    /// Marks it used; false if it was used or revoked meanwhile.
    async fn use_invitation(&mut self, id: i64, now: UnixMillis) -> Result<bool, StoreError>;
    /// Revokes the account's unused invitations; how many.
    async fn revoke_invitations(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<u64, StoreError>;
    /// The newest invitations (at most `limit`), of one account or all.
    async fn list_invitations(
        &mut self,
        account: Option<AccountId>,
        limit: i64,
    ) -> Result<Vec<InvitationRow>, StoreError>;
    /// Unused, unrevoked, unexpired invitations at `now`.
    async fn count_outstanding_invitations(&mut self, now: UnixMillis) -> Result<i64, StoreError>;
}

const COLUMNS: &str = "SELECT id, account_id, created_at, created_by, expires_at, used_at, revoked_at FROM invitations";

fn from_row(r: &sqlx::any::AnyRow) -> sqlx::Result<InvitationRow> {
    let millis = |c: &str| -> sqlx::Result<Option<UnixMillis>> {
        Ok(r.try_get::<Option<i64>, _>(c)?.map(UnixMillis))
    };
    Ok(InvitationRow {
        id: r.try_get("id")?,
        account_id: AccountId(r.try_get("account_id")?),
        created_at: UnixMillis(r.try_get("created_at")?),
        created_by: r.try_get("created_by")?,
        expires_at: UnixMillis(r.try_get("expires_at")?),
        used_at: millis("used_at")?,
        revoked_at: millis("revoked_at")?,
    })
}

impl InvitationRepo for Tx {
    async fn insert_invitation(
        &mut self,
        account: AccountId,
        code_hash: &str,
        by: &str,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<i64, StoreError> {
        self.revoke_invitations(account, now).await?;
        let row = sqlx::query(
            "INSERT INTO invitations (account_id, code_hash, created_at, created_by, expires_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account.0)
        .bind(code_hash)
        .bind(now.0)
        .bind(by)
        .bind(expires_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(row.try_get("id")?)
    }

    async fn find_usable_invitation(
        &mut self,
        account: AccountId,
        code_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<InvitationRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $3"
        ));
        let row = sqlx::query(sql)
            .bind(account.0)
            .bind(code_hash)
            .bind(now.0)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.as_ref().map(from_row).transpose()?)
    }

    async fn use_invitation(&mut self, id: i64, now: UnixMillis) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE invitations SET used_at = $2 WHERE id = $1 AND used_at IS NULL \
             AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_invitations(
        &mut self,
        account: AccountId,
        now: UnixMillis,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE invitations SET revoked_at = $2 WHERE account_id = $1 AND used_at IS NULL \
             AND revoked_at IS NULL",
        )
        .bind(account.0)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(done.rows_affected())
    }

    async fn list_invitations(
        &mut self,
        account: Option<AccountId>,
        limit: i64,
    ) -> Result<Vec<InvitationRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{COLUMNS} WHERE (CAST($1 AS BIGINT) IS NULL OR account_id = $1) \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ));
        let rows = sqlx::query(sql)
            .bind(account.map(|a| a.0))
            .bind(limit)
            .fetch_all(self.conn())
            .await?;
        all(&rows, from_row)
    }

    async fn count_outstanding_invitations(&mut self, now: UnixMillis) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM invitations WHERE used_at IS NULL AND revoked_at IS NULL \
             AND expires_at > $1",
        )
        .bind(now.0)
        .fetch_one(self.conn())
        .await?;
        Ok(row.try_get("n")?)
    }
}
