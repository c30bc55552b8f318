//! API tokens for automation (an HR feed, monitoring, scripts). An IT administrator makes one
//! with a name, the roles it acts with and a lifetime (at most a year); the token is shown
//! once and stored only as a keyed hash. A request with it acts as `token:NAME#ID` in the
//! audit trail, under the same authorization as a person with those roles.

use crate::secrets::{derive_key, keyed_hash};
use crate::{Actor, Directory, IdentityError, Permission, Role};
use carepost_audit::action;
use carepost_store::{ApiTokenRepo, ApiTokenRow, AuditRepo};
use serde::Serialize;
use serde_json::json;
use std::net::IpAddr;
use std::time::Duration;

/// The longest a token may live.
const MAX_LIFETIME: Duration = Duration::from_secs(365 * 86_400);
/// Every token starts so, which lets secret scanners and logs recognise one.
const PREFIX: &str = "cpt_";

/// A token as listed (never the secret).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub roles: Vec<String>,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

impl From<ApiTokenRow> for ApiTokenInfo {
    fn from(r: ApiTokenRow) -> Self {
        ApiTokenInfo {
            id: r.id,
            name: r.name,
            roles: r
                .roles
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            created_by: r.created_by,
            created_at: r.created_at.to_rfc3339(),
            expires_at: r.expires_at.to_rfc3339(),
            last_used_at: r.last_used_at.map(|t| t.to_rfc3339()),
            revoked: r.revoked_at.is_some(),
        }
    }
}

impl Directory {
    /// Tokens are managed by people only: a leaked token must not be able to mint others.
    async fn require_person(&self, actor: &Actor) -> Result<(), IdentityError> {
        if matches!(actor.who, carepost_audit::Actor::ApiToken { .. }) {
            return Err(self
                .refuse(actor, "api-tokens", "API tokens cannot manage API tokens")
                .await?);
        }
        Ok(())
    }

    fn token_key(&self) -> [u8; 32] {
        derive_key(&self.config().master_key, "api tokens")
    }

    /// Makes a token; returns its id and the secret (shown once).
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        name: &str,
        roles: &[Role],
        lifetime: Duration,
    ) -> Result<(i64, String), IdentityError> {
        self.require_person(actor).await?;
        self.require(actor, Permission::ManageRoles, "api-tokens")
            .await?;
        let name = name.trim();
        let name_ok = !name.is_empty()
            && name.len() <= 100
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._ -".contains(c));
        if !name_ok {
            return Err(IdentityError::Invalid(
                "a token's name is 1 to 100 letters, digits, '.', '_', '-' or spaces".into(),
            ));
        }
        if roles.is_empty() {
            return Err(IdentityError::Invalid(
                "a token needs at least one role (--role)".into(),
            ));
        }
        if roles
            .iter()
            .any(|r| matches!(r, Role::Supervisor | Role::Communications))
        {
            return Err(IdentityError::Invalid(
                "tokens may carry it-admin, helpdesk or security-officer (a supervisor's scope belongs to a person)".into(),
            ));
        }
        if lifetime.is_zero() || lifetime > MAX_LIFETIME {
            return Err(IdentityError::Invalid(
                "a token lives between a day and 365 days".into(),
            ));
        }
        use base64::Engine;
        let secret = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.rng.bytes(32))
        );
        let now = self.clock.now();
        let roles: Vec<&str> = roles.iter().map(Role::as_str).collect();
        let row = ApiTokenRow {
            id: 0,
            name: name.to_string(),
            roles: roles.join(","),
            created_by: actor.who.label(),
            created_at: now,
            expires_at: now.plus(lifetime),
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        let id = tx
            .insert_api_token(&row, &keyed_hash(&self.token_key(), &secret))
            .await?;
        let event = self
            .audit(
                actor,
                action::TOKEN_CREATE,
                format!("api-token:{name}#{id}"),
            )
            .with_details(json!({ "roles": roles, "expires_at": row.expires_at.to_rfc3339() }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok((id, secret))
    }

    /// The actor a token acts as, if it is genuine, live and not expired.
    pub async fn actor_for_token(
        &self,
        token: &str,
        source: Option<IpAddr>,
    ) -> Result<Option<Actor>, IdentityError> {
        if !token.starts_with(PREFIX) || token.len() > 200 {
            return Ok(None);
        }
        let hash = keyed_hash(&self.token_key(), token);
        let Some(row) = self.store.read().await?.find_api_token(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if row.revoked_at.is_some() || row.expires_at <= now {
            // The use of a revoked or expired token is the clearest sign of a leak.
            let mut tx = self.store.begin().await?;
            let mut event = carepost_audit::NewEvent::success(
                now,
                &carepost_audit::Actor::ApiToken {
                    id: row.id,
                    name: row.name.clone(),
                },
                action::TOKEN_DENIED,
                format!("api-token:{}#{}", row.name, row.id),
            )
            .with_outcome(carepost_audit::Outcome::Denied);
            event.source = source.map(|ip| ip.to_string());
            tx.append_audit(&event).await?;
            tx.commit().await?;
            return Ok(None);
        }
        // Last use is kept to the minute, so busy automation does not write on every call.
        if row.last_used_at.is_none_or(|t| now.0 - t.0 >= 60_000) {
            let mut tx = self.store.begin_bookkeeping().await?;
            tx.touch_api_token(row.id, now).await?;
            tx.commit().await?;
        }
        Ok(Some(Actor {
            who: carepost_audit::Actor::ApiToken {
                id: row.id,
                name: row.name.clone(),
            },
            roles: row.roles.split(',').filter_map(Role::parse).collect(),
            supervises: Vec::new(),
            source: source.map(|ip| ip.to_string()),
            waiting_for_factor: Vec::new(),
        }))
    }

    pub async fn list_api_tokens(&self, actor: &Actor) -> Result<Vec<ApiTokenInfo>, IdentityError> {
        self.require_person(actor).await?;
        self.require(actor, Permission::ManageRoles, "api-tokens")
            .await?;
        let rows = self.store.read().await?.list_api_tokens().await?;
        Ok(rows.into_iter().map(ApiTokenInfo::from).collect())
    }

    pub async fn revoke_api_token(&self, actor: &Actor, id: i64) -> Result<(), IdentityError> {
        self.require_person(actor).await?;
        self.require(actor, Permission::ManageRoles, "api-tokens")
            .await?;
        let mut tx = self.store.begin().await?;
        if !tx.revoke_api_token(id, self.clock.now()).await? {
            return Err(IdentityError::NotFound(format!("no live API token #{id}")));
        }
        let event = self.audit(actor, action::TOKEN_REVOKE, format!("api-token:#{id}"));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }
}
