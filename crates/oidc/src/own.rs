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

/// A grant, as its owner sees it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantInfo {
    pub id: i64,
    pub client_id: String,
    pub application: String,
    pub scope: String,
    /// Given `offline_access`: it outlasts the browser session it came from.
    pub offline: bool,
    pub since: String,
    pub until: String,
    /// The last refresh or mail sign-in with it, and from where.
    pub last_used_at: Option<String>,
    pub last_used_from: Option<String>,
    /// Why it ended, for a grant that ended in the last week (so that a person can see why a
    /// mail app stopped: "password changed", "signed out everywhere", ...).
    pub ended: Option<String>,
}

/// How long an ended grant stays in its owner's list.
const ENDED_SHOWN: i64 = 7 * 86_400_000;

impl Provider {
    /// The applications signed in with this account now, and those signed out in the last
    /// week with the reason.
    pub async fn own_grants(&self, account: AccountId) -> Result<Vec<GrantInfo>, OidcError> {
        let now = self.now();
        let rows = self
            .store
            .read()
            .await?
            .list_account_grants(account, carepost_types::UnixMillis(now.0 - ENDED_SHOWN))
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let g = r.grant;
                let ended = match (g.revoked_at, r.revoke_reason) {
                    (Some(_), reason) => Some(reason.unwrap_or_else(|| "revoked".into())),
                    (None, _) if g.expires_at <= now => Some("expired".into()),
                    (None, _) => None,
                };
                GrantInfo {
                    id: g.id,
                    offline: has_scope(&g.scope, "offline_access"),
                    client_id: g.client_id,
                    application: r.client_name,
                    scope: g.scope,
                    since: g.created_at.to_rfc3339(),
                    until: g.expires_at.to_rfc3339(),
                    last_used_at: r.last_used_at.map(|t| t.to_rfc3339()),
                    last_used_from: r.last_used_source,
                    ended,
                }
            })
            .collect())
    }

    /// Records a use of a grant (a mail app's sign-in), to the minute.
    pub(crate) async fn touch_grant(
        &self,
        grant: i64,
        source: Option<std::net::IpAddr>,
    ) -> Result<(), OidcError> {
        let source = source.map(|ip| ip.to_string());
        let mut tx = self.store.begin_bookkeeping().await?;
        tx.touch_oidc_grant(grant, self.now(), source.as_deref())
            .await?;
        tx.commit().await?;
        Ok(())
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
