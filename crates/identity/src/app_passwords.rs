//! App passwords for mail clients, which cannot do a second factor: random secrets shown once,
//! labelled, scoped to protocols, optionally expiring, stored only as keyed hashes, with the
//! last use and its source; revoked one by one by their owner, or all at once by IT.

use crate::directory::account_by_address;
use crate::mfa::random_code;
use crate::secrets::keyed_hash;
use crate::{Actor, Directory, IdentityError, Permission};
use carepost_audit::action;
use carepost_store::{AppPasswordRow, AuditRepo, AuthRepo};
use carepost_types::{AccountId, UnixMillis};
use serde::Serialize;
use serde_json::json;

/// Why app passwords were revoked, in the owner's words: the account page shows it beside
/// each, so that "why did my mail app stop" has an answer.
pub(crate) mod why {
    pub const BY_OWNER: &str = "you revoked it";
    pub const BY_IT: &str = "IT revoked it";
    pub const PASSWORD_CHANGED: &str = "your password was changed";
    pub const PASSWORD_RECOVERED: &str = "your password was changed with a recovery code";
    pub const PASSWORD_RESET: &str = "the helpdesk reset your password";
    pub const PASSWORD_SET: &str = "an administrator set a new password";
    pub const FIRST_FACTOR: &str =
        "you set up your first second factor (app passwords made before it are not trusted)";
    pub const DISABLED: &str = "the account was disabled";
    pub const DEPROVISIONED: &str = "the account was closed";
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppPasswordInfo {
    pub id: i64,
    pub label: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_source: Option<String>,
    pub revoked: bool,
    pub revoked_at: Option<String>,
    /// Why it was revoked (see `why`).
    pub revoke_reason: Option<String>,
}

impl From<AppPasswordRow> for AppPasswordInfo {
    fn from(r: AppPasswordRow) -> Self {
        AppPasswordInfo {
            id: r.id,
            label: r.label,
            scopes: r.scopes.split(',').map(str::to_string).collect(),
            created_at: r.created_at.to_rfc3339(),
            expires_at: r.expires_at.map(UnixMillis::to_rfc3339),
            last_used_at: r.last_used_at.map(UnixMillis::to_rfc3339),
            last_used_source: r.last_used_source,
            revoked: r.revoked_at.is_some(),
            revoked_at: r.revoked_at.map(UnixMillis::to_rfc3339),
            revoke_reason: r.revoke_reason,
        }
    }
}

impl Directory {
    /// A new app password for mail clients: returned once, stored as a keyed hash.
    pub async fn create_app_password(
        &self,
        account: AccountId,
        label: &str,
        scopes: &[crate::Protocol],
        expires_at: Option<UnixMillis>,
    ) -> Result<(i64, String), IdentityError> {
        let row = self.account_row(account).await?;
        let label = label.trim();
        if label.is_empty() || label.chars().count() > 100 {
            return Err(IdentityError::Invalid(
                "an app password needs a label of 1 to 100 characters, such as \"iPhone Mail\""
                    .into(),
            ));
        }
        if scopes.is_empty() || scopes.iter().any(|s| !s.is_mail_client()) {
            return Err(IdentityError::Invalid(
                "app passwords are for imap, smtp and caldav".into(),
            ));
        }
        // 20 characters of a 31-letter alphabet: about 99 bits, typed into a phone once.
        let secret = random_code(&*self.rng, 20, 5);
        let hash = keyed_hash(&self.app_password_key(), &secret);
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let mut tx = self.store.begin().await?;
        let id = tx
            .insert_app_password(
                account,
                label,
                &hash,
                &scopes.join(","),
                expires_at,
                self.clock.now(),
            )
            .await?;
        let event = self
            .self_event(&row, action::APP_PASSWORD_CREATE)
            .with_details(json!({ "id": id, "label": label, "scopes": scopes }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok((id, secret))
    }

    pub async fn list_app_passwords(
        &self,
        account: AccountId,
    ) -> Result<Vec<AppPasswordInfo>, IdentityError> {
        let rows = self.store.read().await?.list_app_passwords(account).await?;
        Ok(rows.into_iter().map(AppPasswordInfo::from).collect())
    }

    /// Revokes one app password, or all of them.
    pub async fn revoke_app_passwords(
        &self,
        account: AccountId,
        id: Option<i64>,
    ) -> Result<u64, IdentityError> {
        let row = self.account_row(account).await?;
        let mut tx = self.store.begin().await?;
        let n = tx
            .revoke_app_passwords(account, id, self.clock.now(), why::BY_OWNER)
            .await?;
        let event = self
            .self_event(&row, action::APP_PASSWORD_REVOKE)
            .with_details(json!({ "id": id, "revoked": n }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Revokes every app password of an account, for IT (a lost phone reported to the
    /// helpdesk, a leaver): audited as the administrator's act.
    pub async fn revoke_app_passwords_of(
        &self,
        actor: &Actor,
        address: &str,
    ) -> Result<u64, IdentityError> {
        self.require(
            actor,
            Permission::ManageAccounts,
            &format!("account:{address}"),
        )
        .await?;
        let mut tx = self.store.begin().await?;
        let row = account_by_address(&mut tx, address).await?;
        let n = tx
            .revoke_app_passwords(row.id, None, self.clock.now(), why::BY_IT)
            .await?;
        let event = self
            .audit(
                actor,
                action::APP_PASSWORD_REVOKE,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "revoked": n, "by": "administrator" }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(n)
    }
}
