//! What a person sees of the applications they signed in to: each live grant (the
//! application, what it may see, since when, until when), and signing one out, as on a lost
//! phone's mail app set up with OAuth.

use crate::claims::has_scope;
use crate::{OidcError, Provider};
use carepost_audit::{NewEvent, action};
use carepost_store::{AuditRepo, OidcRepo};
use carepost_types::AccountId;
use serde::Serialize;
use serde_json::json;

/// A live grant, as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct GrantInfo {
    pub id: i64,
    pub client_id: String,
    pub application: String,
    pub scope: String,
    /// Given `offline_access`: it outlasts the browser session it came from.
    pub offline: bool,
    pub since: String,
    pub until: String,
}

impl Provider {
    /// The applications signed in with this account now.
    pub async fn own_grants(&self, account: AccountId) -> Result<Vec<GrantInfo>, OidcError> {
        let rows = self
            .store
            .read()
            .await?
            .list_account_grants(account, self.now())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(g, name)| GrantInfo {
                id: g.id,
                offline: has_scope(&g.scope, "offline_access"),
                client_id: g.client_id,
                application: name,
                scope: g.scope,
                since: g.created_at.to_rfc3339(),
                until: g.expires_at.to_rfc3339(),
            })
            .collect())
    }

    /// The owner signs an application out: the grant and every token of it end. `false` if
    /// the account has no such live grant.
    pub async fn revoke_own_grant(
        &self,
        account: AccountId,
        address: &str,
        grant: i64,
    ) -> Result<bool, OidcError> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(row) = tx
            .find_oidc_grant(grant)
            .await?
            .filter(|g| g.account_id == Some(account) && g.revoked_at.is_none())
        else {
            return Ok(false);
        };
        tx.revoke_oidc_grant(grant, now, "signed out by its owner")
            .await?;
        let event = NewEvent::success(
            now,
            &carepost_audit::Actor::Account {
                id: account,
                address: address.to_string(),
            },
            action::OIDC_TOKEN_REVOKE,
            format!("client:{}", row.client_id),
        )
        .with_details(json!({ "grant": grant, "why": "signed out by its owner" }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(true)
    }
}
