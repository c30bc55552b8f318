//! Rows of calendar sharing: a calendar shared with an account or a department subtree (read
//! or write), the assistants who manage all of someone's calendars, and the secret feed URL
//! a calendar may be published at (only the token's hash is kept). Which share applies to a
//! request is decided by the calendar crate; these only read and write the rows.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareRow {
    pub id: i64,
    pub collection_id: i64,
    pub grantee_account_id: Option<AccountId>,
    pub grantee_department_id: Option<DepartmentId>,
    /// `read` or `write`.
    pub access: String,
    pub created_at: UnixMillis,
}

impl ShareRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<ShareRow> {
        Ok(ShareRow {
            id: r.try_get("id")?,
            collection_id: r.try_get("collection_id")?,
            grantee_account_id: r
                .try_get::<Option<i64>, _>("grantee_account_id")?
                .map(AccountId),
            grantee_department_id: r
                .try_get::<Option<i64>, _>("grantee_department_id")?
                .map(DepartmentId),
            access: r.try_get("access")?,
            created_at: UnixMillis(r.try_get("created_at")?),
        })
    }
}

const SHARE_COLUMNS: &str = "SELECT s.id, s.collection_id, s.grantee_account_id, \
    s.grantee_department_id, s.access, s.created_at FROM dav_shares s";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ShareRepo {
    /// Shares a calendar with an account or a department (exactly one of them), replacing an
    /// earlier share with the same grantee; its id.
    async fn put_share(&mut self, row: &ShareRow) -> Result<i64, StoreError>;
    async fn delete_share(&mut self, id: i64) -> Result<(), StoreError>;
    async fn share(&mut self, id: i64) -> Result<Option<ShareRow>, StoreError>;
    /// The shares of every calendar of `owner`.
    async fn shares_by_owner(&mut self, owner: AccountId) -> Result<Vec<ShareRow>, StoreError>;
    /// The shares of one calendar.
    async fn shares_of(&mut self, collection: i64) -> Result<Vec<ShareRow>, StoreError>;
    /// The shares made to `account` itself or to one of `departments` (its department and
    /// those above it).
    async fn shares_for(
        &mut self,
        account: AccountId,
        departments: &[DepartmentId],
    ) -> Result<Vec<ShareRow>, StoreError>;

    async fn add_calendar_delegate(
        &mut self,
        owner: AccountId,
        delegate: AccountId,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Whether there was such a delegation.
    async fn remove_calendar_delegate(
        &mut self,
        owner: AccountId,
        delegate: AccountId,
    ) -> Result<bool, StoreError>;
    /// The assistants of `owner`.
    async fn calendar_delegates(&mut self, owner: AccountId) -> Result<Vec<AccountId>, StoreError>;
    /// Whose calendars `delegate` manages.
    async fn delegating_to(&mut self, delegate: AccountId) -> Result<Vec<AccountId>, StoreError>;

    /// Publishes a calendar under the token with this hash (replacing its earlier token).
    async fn put_feed(
        &mut self,
        collection: i64,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError>;
    /// Whether there was one.
    async fn delete_feed(&mut self, collection: i64) -> Result<bool, StoreError>;
    /// The calendar published under the token with this hash.
    async fn feed_collection(&mut self, token_hash: &str) -> Result<Option<i64>, StoreError>;
    /// Which of `owner`'s calendars are published.
    async fn feeds_by_owner(&mut self, owner: AccountId) -> Result<Vec<i64>, StoreError>;
}

impl ShareRepo for Tx {
    async fn put_share(&mut self, row: &ShareRow) -> Result<i64, StoreError> {
        // One share per grantee and calendar: the newer access replaces the older.
        sqlx::query(
            "DELETE FROM dav_shares WHERE collection_id = $1 \
             AND COALESCE(grantee_account_id, 0) = $2 AND COALESCE(grantee_department_id, 0) = $3",
        )
        .bind(row.collection_id)
        .bind(row.grantee_account_id.map_or(0, |a| a.0))
        .bind(row.grantee_department_id.map_or(0, |d| d.0))
        .execute(self.write()?)
        .await?;
        let r = sqlx::query(
            "INSERT INTO dav_shares (collection_id, grantee_account_id, grantee_department_id, \
             access, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(row.collection_id)
        .bind(row.grantee_account_id.map(|a| a.0))
        .bind(row.grantee_department_id.map(|d| d.0))
        .bind(&row.access)
        .bind(row.created_at.0)
        .fetch_one(self.write()?)
        .await?;
        Ok(r.try_get("id")?)
    }

    async fn delete_share(&mut self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dav_shares WHERE id = $1")
            .bind(id)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn share(&mut self, id: i64) -> Result<Option<ShareRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{SHARE_COLUMNS} WHERE s.id = $1"));
        let row = sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| ShareRow::from_row(&r)).transpose()?)
    }

    async fn shares_by_owner(&mut self, owner: AccountId) -> Result<Vec<ShareRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SHARE_COLUMNS} JOIN dav_collections c ON c.id = s.collection_id \
             WHERE c.account_id = $1 ORDER BY s.collection_id, s.id"
        ));
        let rows = sqlx::query(sql)
            .bind(owner.0)
            .fetch_all(self.conn())
            .await?;
        all(&rows, ShareRow::from_row)
    }

    async fn shares_of(&mut self, collection: i64) -> Result<Vec<ShareRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SHARE_COLUMNS} WHERE s.collection_id = $1 ORDER BY s.id"
        ));
        let rows = sqlx::query(sql)
            .bind(collection)
            .fetch_all(self.conn())
            .await?;
        all(&rows, ShareRow::from_row)
    }

    async fn shares_for(
        &mut self,
        account: AccountId,
        departments: &[DepartmentId],
    ) -> Result<Vec<ShareRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "{SHARE_COLUMNS} WHERE s.grantee_account_id = $1 ORDER BY s.id"
        ));
        let mut out = all(
            &sqlx::query(sql)
                .bind(account.0)
                .fetch_all(self.conn())
                .await?,
            ShareRow::from_row,
        )?;
        // A department's chain is a handful of rows: one indexed query each.
        for d in departments {
            let sql = sqlx::AssertSqlSafe(format!(
                "{SHARE_COLUMNS} WHERE s.grantee_department_id = $1 ORDER BY s.id"
            ));
            let rows = sqlx::query(sql).bind(d.0).fetch_all(self.conn()).await?;
            out.extend(all(&rows, ShareRow::from_row)?);
        }
        Ok(out)
    }

    async fn add_calendar_delegate(
        &mut self,
        owner: AccountId,
        delegate: AccountId,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO calendar_delegates (owner_id, delegate_id, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(owner.0)
        .bind(delegate.0)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn remove_calendar_delegate(
        &mut self,
        owner: AccountId,
        delegate: AccountId,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("DELETE FROM calendar_delegates WHERE owner_id = $1 AND delegate_id = $2")
                .bind(owner.0)
                .bind(delegate.0)
                .execute(self.write()?)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn calendar_delegates(&mut self, owner: AccountId) -> Result<Vec<AccountId>, StoreError> {
        let rows = sqlx::query(
            "SELECT delegate_id FROM calendar_delegates WHERE owner_id = $1 ORDER BY delegate_id",
        )
        .bind(owner.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| Ok(AccountId(r.try_get("delegate_id")?)))
    }

    async fn delegating_to(&mut self, delegate: AccountId) -> Result<Vec<AccountId>, StoreError> {
        let rows = sqlx::query(
            "SELECT owner_id FROM calendar_delegates WHERE delegate_id = $1 ORDER BY owner_id",
        )
        .bind(delegate.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| Ok(AccountId(r.try_get("owner_id")?)))
    }

    async fn put_feed(
        &mut self,
        collection: i64,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM dav_feeds WHERE collection_id = $1")
            .bind(collection)
            .execute(self.write()?)
            .await?;
        sqlx::query(
            "INSERT INTO dav_feeds (token_hash, collection_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash)
        .bind(collection)
        .bind(now.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn delete_feed(&mut self, collection: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM dav_feeds WHERE collection_id = $1")
            .bind(collection)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn feed_collection(&mut self, token_hash: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT collection_id FROM dav_feeds WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| r.try_get("collection_id")).transpose()?)
    }

    async fn feeds_by_owner(&mut self, owner: AccountId) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT f.collection_id FROM dav_feeds f JOIN dav_collections c \
             ON c.id = f.collection_id WHERE c.account_id = $1",
        )
        .bind(owner.0)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| r.try_get("collection_id"))
    }
}
