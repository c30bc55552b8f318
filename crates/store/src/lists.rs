//! Distribution lists: an organization address that expands, at delivery, to the active
//! accounts of a department subtree or of the whole organization, with the roles that may
//! post to it.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::{AccountId, DepartmentId, UnixMillis};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub address: String,
    pub name: String,
    /// `None`: every active account of the organization.
    pub department_id: Option<DepartmentId>,
    /// The roles whose holders may post, space-separated.
    pub senders: String,
    pub created_at: UnixMillis,
}

impl ListRow {
    pub(crate) fn from_row(r: &AnyRow) -> sqlx::Result<ListRow> {
        Ok(ListRow {
            address: r.try_get("address")?,
            name: r.try_get("name")?,
            department_id: r
                .try_get::<Option<i64>, _>("department_id")?
                .map(DepartmentId),
            senders: r.try_get("senders")?,
            created_at: UnixMillis(r.try_get("created_at")?),
        })
    }
}

/// A member at delivery time: the account and what its mail occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRow {
    pub account_id: AccountId,
    pub used_bytes: i64,
}

pub(crate) const LIST_COLUMNS: &str =
    "SELECT address, name, department_id, senders, created_at FROM mail_lists";

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait ListRepo {
    /// Claims `address` for a list if nobody holds it (never assigned, or its quarantine
    /// ended before `now`); returns whether it did.
    async fn claim_list_address(
        &mut self,
        address: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError>;
    async fn insert_list(&mut self, row: &ListRow) -> Result<(), StoreError>;
    async fn find_list(&mut self, address: &str) -> Result<Option<ListRow>, StoreError>;
    async fn list_lists(&mut self) -> Result<Vec<ListRow>, StoreError>;
    async fn delete_list(&mut self, address: &str) -> Result<(), StoreError>;
    /// The active accounts a list reaches now.
    async fn list_members(
        &mut self,
        department: Option<DepartmentId>,
    ) -> Result<Vec<MemberRow>, StoreError>;
}

impl ListRepo for Tx {
    async fn claim_list_address(
        &mut self,
        address: &str,
        now: UnixMillis,
    ) -> Result<bool, StoreError> {
        claim_unowned(self, address, "list", now).await
    }

    async fn insert_list(&mut self, row: &ListRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO mail_lists (address, name, department_id, senders, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&row.address)
        .bind(&row.name)
        .bind(row.department_id.map(|d| d.0))
        .bind(&row.senders)
        .bind(row.created_at.0)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn find_list(&mut self, address: &str) -> Result<Option<ListRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{LIST_COLUMNS} WHERE address = $1"));
        let row = sqlx::query(sql)
            .bind(address)
            .fetch_optional(self.conn())
            .await?;
        Ok(row.map(|r| ListRow::from_row(&r)).transpose()?)
    }

    async fn list_lists(&mut self) -> Result<Vec<ListRow>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("{LIST_COLUMNS} ORDER BY address"));
        let rows = sqlx::query(sql).fetch_all(self.conn()).await?;
        all(&rows, ListRow::from_row)
    }

    async fn delete_list(&mut self, address: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM mail_lists WHERE address = $1")
            .bind(address)
            .execute(self.write()?)
            .await?;
        Ok(())
    }

    async fn list_members(
        &mut self,
        department: Option<DepartmentId>,
    ) -> Result<Vec<MemberRow>, StoreError> {
        let base = "SELECT a.id, COALESCE(u.bytes, 0) AS used_bytes FROM accounts a \
                    LEFT JOIN mail_usage u ON u.account_id = a.id WHERE a.status = 'active'";
        let rows = match department {
            None => {
                let sql = sqlx::AssertSqlSafe(format!("{base} ORDER BY a.id"));
                sqlx::query(sql).fetch_all(self.conn()).await?
            }
            Some(d) => {
                let sql = sqlx::AssertSqlSafe(format!(
                    "{base} AND a.department_id IN (WITH RECURSIVE sub(id) AS ( \
                       SELECT id FROM departments WHERE id = $1 \
                       UNION ALL SELECT c.id FROM departments c JOIN sub ON c.parent_id = sub.id) \
                     SELECT id FROM sub) ORDER BY a.id"
                ));
                sqlx::query(sql).bind(d.0).fetch_all(self.conn()).await?
            }
        };
        all(&rows, |r| {
            Ok(MemberRow {
                account_id: AccountId(r.try_get("id")?),
                used_bytes: r.try_get("used_bytes")?,
            })
        })
    }
}

/// Claims `address` for something that is not an account (`kind`: a list, a resource) if
/// nobody holds it: never assigned, or its quarantine ended before `now`.
pub(crate) async fn claim_unowned(
    tx: &mut Tx,
    address: &str,
    kind: &str,
    now: UnixMillis,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO addresses (address, account_id, kind, active, reusable_after, created_at) \
         VALUES ($1, NULL, $3, 1, NULL, $2) \
         ON CONFLICT (address) DO UPDATE SET account_id = NULL, kind = $3, active = 1, \
           reusable_after = NULL, created_at = excluded.created_at \
         WHERE addresses.reusable_after IS NOT NULL AND addresses.reusable_after <= $2",
    )
    .bind(address)
    .bind(now.0)
    .bind(kind)
    .execute(tx.write()?)
    .await?;
    Ok(done.rows_affected() == 1)
}
