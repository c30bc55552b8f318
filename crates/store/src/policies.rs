//! Policies changed while the server runs: per section, the keys set over the config file.

use crate::rows::all;
use crate::{StoreError, Tx};
use carepost_types::UnixMillis;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySettingsRow {
    pub section: String,
    /// A JSON object: key to value, as the config file writes them.
    pub settings: String,
    pub changed_at: UnixMillis,
    pub changed_by: String,
}

#[allow(async_fn_in_trait)] // Used through the concrete `Tx`, whose futures are `Send`.
pub trait PolicyRepo {
    /// Every section's settings.
    async fn list_policy_settings(&mut self) -> Result<Vec<PolicySettingsRow>, StoreError>;
    /// Replaces a section's settings; an empty object removes them.
    async fn put_policy_settings(&mut self, row: &PolicySettingsRow) -> Result<(), StoreError>;
}

impl PolicyRepo for Tx {
    async fn list_policy_settings(&mut self) -> Result<Vec<PolicySettingsRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT section, settings, changed_at, changed_by FROM policy_settings \
             ORDER BY section",
        )
        .fetch_all(self.conn())
        .await?;
        all(&rows, |r| {
            Ok(PolicySettingsRow {
                section: r.try_get("section")?,
                settings: r.try_get("settings")?,
                changed_at: UnixMillis(r.try_get("changed_at")?),
                changed_by: r.try_get("changed_by")?,
            })
        })
    }

    async fn put_policy_settings(&mut self, row: &PolicySettingsRow) -> Result<(), StoreError> {
        if row.settings.trim() == "{}" {
            sqlx::query("DELETE FROM policy_settings WHERE section = $1")
                .bind(&row.section)
                .execute(self.write()?)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO policy_settings (section, settings, changed_at, changed_by) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (section) DO UPDATE SET \
             settings = excluded.settings, changed_at = excluded.changed_at, \
             changed_by = excluded.changed_by",
        )
        .bind(&row.section)
        .bind(&row.settings)
        .bind(row.changed_at.0)
        .bind(&row.changed_by)
        .execute(self.write()?)
        .await?;
        Ok(())
    }
}
