//! What the directory address book reads besides accounts (those are in `directory`): the
//! rooms, equipment and distribution lists changed after a change number, and the ones
//! removed since, each with its number (migration 0026 keeps them in one order with the
//! accounts').

use crate::lists::{LIST_COLUMNS, ListRow};
use crate::resources::{RESOURCE_COLUMNS, ResourceRow};
use crate::rows::all;
use crate::{StoreError, Tx};
use sqlx::{AssertSqlSafe, Row};

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait BookRepo {
    /// Resources changed after `after`, in the order of their last change.
    async fn resources_changed_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ResourceRow)>, StoreError>;
    /// Lists changed after `after`, in the order of their last change.
    async fn lists_changed_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ListRow)>, StoreError>;
    /// Resources (`resource`, their id) and lists (`list`, their address) removed after
    /// `after`: (number, kind, reference).
    async fn book_gone_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, String)>, StoreError>;
}

impl BookRepo for Tx {
    async fn resources_changed_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ResourceRow)>, StoreError> {
        changed_after(self, RESOURCE_COLUMNS, after, limit, ResourceRow::from_row).await
    }

    async fn lists_changed_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, ListRow)>, StoreError> {
        changed_after(self, LIST_COLUMNS, after, limit, ListRow::from_row).await
    }

    async fn book_gone_after(
        &mut self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT change_seq, kind, ref FROM directory_gone WHERE change_seq > $1 \
             ORDER BY change_seq LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok((
                r.try_get("change_seq")?,
                r.try_get("kind")?,
                r.try_get("ref")?,
            ))
        })
    }
}

/// The rows of `select` (a `SELECT ... FROM table` constant) changed after `after`, in the
/// order of their last change, each with its change number.
async fn changed_after<T>(
    tx: &mut Tx,
    select: &str,
    after: i64,
    limit: i64,
    from_row: fn(&sqlx::any::AnyRow) -> sqlx::Result<T>,
) -> Result<Vec<(i64, T)>, StoreError> {
    let sql = AssertSqlSafe(format!(
        "{}, change_seq FROM {} WHERE change_seq > $1 ORDER BY change_seq LIMIT $2",
        select.split(" FROM ").next().unwrap_or(select),
        select.rsplit(" FROM ").next().unwrap_or(select),
    ));
    let rows = sqlx::query(sql)
        .bind(after)
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
    all(&rows, |r| Ok((r.try_get("change_seq")?, from_row(r)?)))
}
