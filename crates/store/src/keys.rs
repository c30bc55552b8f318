//! The store's root key, wrapped under each master key allowed to open it. This crate keeps the
//! wrapped bytes and their fingerprints only; wrapping and unwrapping are the identity layer's.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::UnixMillis;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterKeyRow {
    /// A keyed hash made from the master key (never the key), to tell keys apart.
    pub fingerprint: String,
    /// The root key, sealed under a key derived from this master key.
    pub wrapped_root: String,
    pub added_at: UnixMillis,
    pub added_by: String,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait KeyRepo {
    /// Every master key that opens the store, oldest first.
    async fn list_master_keys(&mut self) -> Result<Vec<MasterKeyRow>, StoreError>;
    async fn insert_master_key(&mut self, row: &MasterKeyRow) -> Result<(), StoreError>;
    /// Returns whether there was such a key.
    async fn delete_master_key(&mut self, fingerprint: &str) -> Result<bool, StoreError>;
}

impl KeyRepo for Tx {
    async fn list_master_keys(&mut self) -> Result<Vec<MasterKeyRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT fingerprint, wrapped_root, added_at, added_by FROM master_keys \
             ORDER BY added_at, fingerprint",
        )
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok(MasterKeyRow {
                fingerprint: r.try_get("fingerprint")?,
                wrapped_root: r.try_get("wrapped_root")?,
                added_at: UnixMillis(r.try_get("added_at")?),
                added_by: r.try_get("added_by")?,
            })
        })
    }

    async fn insert_master_key(&mut self, row: &MasterKeyRow) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO master_keys (fingerprint, wrapped_root, added_at, added_by) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.fingerprint)
        .bind(&row.wrapped_root)
        .bind(row.added_at.0)
        .bind(&row.added_by)
        .execute(self.write()?)
        .await?;
        Ok(())
    }

    async fn delete_master_key(&mut self, fingerprint: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM master_keys WHERE fingerprint = $1")
            .bind(fingerprint)
            .execute(self.write()?)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
