//! Web sessions: a random token in the browser, its hash in the store; an idle timeout (15
//! minutes by default, for shared clinical workstations) and an absolute one (12 hours).
//! Sessions end when the owner or an administrator ends them, when the password changes
//! (all but the one that changed it), and when the account is disabled or deprovisioned.

use crate::directory::account_by_address;
use crate::{Actor, Directory, IdentityError, Permission, SignedIn};
use carepost_audit::action;
use carepost_store::{
    AuditRepo, AuthRepo, DirectoryRepo, NewSession, OidcRepo, SessionRepo, SessionRow, Tx,
};
use carepost_types::{AccountId, UnixMillis};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::IpAddr;

/// A live session, as a request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: i64,
    pub account: AccountId,
    pub address: String,
    /// RFC 8176 method names: `pwd`, `otp`, ...
    pub amr: Vec<String>,
    /// When the sign-in that opened it happened.
    pub started_at: UnixMillis,
    /// When a second factor was last proven in it (see `step_up_needed`).
    pub factor_at: Option<UnixMillis>,
}

/// A session as listed for its owner or an administrator.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub id: i64,
    pub device: String,
    pub source: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
}

impl From<SessionRow> for SessionInfo {
    fn from(r: SessionRow) -> Self {
        SessionInfo {
            id: r.id,
            device: r.device,
            source: r.source,
            created_at: r.created_at.to_rfc3339(),
            last_seen_at: r.last_seen_at.to_rfc3339(),
            expires_at: r.expires_at.to_rfc3339(),
        }
    }
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Directory {
    /// A new session token, and the hash the store keeps.
    fn new_session_token(&self) -> (String, String) {
        use base64::Engine;
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.rng.bytes(32));
        let hash = token_hash(&token);
        (token, hash)
    }

    /// After a second factor is proven in a session (a step-up, an enrollment), the session
    /// gets a new token inside `tx`: a copy of the old cookie, taken from a workstation left
    /// unlocked, does not share the proof. Returns the token for the browser.
    pub(crate) async fn renew_session_token(
        &self,
        tx: &mut Tx,
        session: i64,
    ) -> Result<String, IdentityError> {
        let (token, hash) = self.new_session_token();
        tx.replace_session_token(session, &hash).await?;
        tx.set_session_factor_at(session, self.clock.now()).await?;
        Ok(token)
    }
}

impl Directory {
    /// Opens a session after a complete sign-in; returns the token for the browser (once).
    pub async fn start_session(
        &self,
        signed_in: &SignedIn,
        amr: &[&str],
        device: &str,
        source: Option<IpAddr>,
    ) -> Result<(String, Session), IdentityError> {
        let (token, hash) = self.new_session_token();
        let now = self.clock.now();
        let device: String = device
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let source = source.map(|ip| ip.to_string());
        let amr_text = amr.join(",");
        // A session that owes a password change or an overdue enrollment is only for that:
        // it lives no longer than one idle period.
        let restricted = signed_in.must_change_password
            || matches!(
                signed_in.second_factor,
                crate::SecondFactor::EnrollmentRequired { overdue: true, .. }
            );
        let lifetime = if restricted {
            self.config().sessions.idle_timeout
        } else {
            self.config().sessions.absolute_timeout
        };
        let mut tx = self.store.begin().await?;
        let id = tx
            .insert_session(&NewSession {
                token_hash: &hash,
                account: signed_in.account,
                now,
                expires_at: now.plus(lifetime),
                device: &device,
                source: source.as_deref(),
                amr: &amr_text,
                factor_at: amr.contains(&"mfa").then_some(now),
            })
            .await?;
        let mut event = self
            .audit(
                &Actor::account(signed_in.account, &signed_in.address),
                action::SESSION_START,
                format!("account:{}", signed_in.address),
            )
            .with_details(json!({ "session": id, "amr": amr, "device": device }));
        event.source = source;
        tx.append_audit(&event).await?;
        tx.commit().await?;
        let session = Session {
            id,
            account: signed_in.account,
            address: signed_in.address.clone(),
            amr: amr.iter().map(|s| s.to_string()).collect(),
            started_at: now,
            factor_at: amr.contains(&"mfa").then_some(now),
        };
        Ok((token, session))
    }

    /// The session a token opens, if it is still alive; counts as activity.
    pub async fn resume_session(&self, token: &str) -> Result<Option<Session>, IdentityError> {
        self.session_of(token, true).await
    }

    /// The session a token opens, if it is still alive, without counting as activity (an
    /// application asking silently whether someone is signed in must not keep an idle
    /// workstation's session open).
    pub async fn peek_session(&self, token: &str) -> Result<Option<Session>, IdentityError> {
        self.session_of(token, false).await
    }

    async fn session_of(&self, token: &str, touch: bool) -> Result<Option<Session>, IdentityError> {
        let now = self.clock.now();
        let mut read = self.store.read().await?;
        let Some(row) = read.find_session(&token_hash(token)).await? else {
            return Ok(None);
        };
        let idle_end = row.last_seen_at.plus(self.config().sessions.idle_timeout);
        if row.revoked_at.is_some() || now >= row.expires_at || now >= idle_end {
            return Ok(None);
        }
        let Some(account) = read.find_account(row.account_id).await? else {
            return Ok(None);
        };
        drop(read);
        if account.status != crate::AccountStatus::Active.as_str() {
            return Ok(None);
        }
        if touch {
            let mut tx = self.store.begin_bookkeeping().await?;
            tx.touch_session(row.id, now).await?;
            tx.commit().await?;
        }
        Ok(Some(Session {
            id: row.id,
            account: row.account_id,
            address: account.primary_address,
            amr: row.amr.split(',').map(str::to_string).collect(),
            started_at: row.created_at,
            factor_at: row.factor_at,
        }))
    }

    pub async fn list_sessions(
        &self,
        account: AccountId,
    ) -> Result<Vec<SessionInfo>, IdentityError> {
        let now = self.clock.now();
        let rows = self.store.read().await?.list_sessions(account, now).await?;
        let idle = self.config().sessions.idle_timeout;
        Ok(rows
            .into_iter()
            .filter(|r| r.last_seen_at.plus(idle) > now)
            .map(SessionInfo::from)
            .collect())
    }

    /// The owner ends one of their sessions (from the sessions list), or all (`None`): the
    /// applications signed in through them are signed out too, mail apps given offline access
    /// included (a session ended from elsewhere may be a thief's).
    pub async fn end_sessions(
        &self,
        account: AccountId,
        only: Option<i64>,
    ) -> Result<u64, IdentityError> {
        self.end(account, only, None, false).await
    }

    /// The owner signs out everywhere but here ("sign out of every other browser"): every
    /// other session ends, and the applications signed in through them, mail apps with
    /// offline access included.
    pub async fn end_other_sessions(
        &self,
        account: AccountId,
        keep: i64,
    ) -> Result<u64, IdentityError> {
        self.end(account, None, Some(keep), false).await
    }

    /// The owner signs this session out: its applications are signed out, but a mail app
    /// given offline access from it keeps working.
    pub async fn sign_out(&self, account: AccountId, session: i64) -> Result<u64, IdentityError> {
        self.end(account, Some(session), None, true).await
    }

    async fn end(
        &self,
        account: AccountId,
        only: Option<i64>,
        except: Option<i64>,
        keep_offline: bool,
    ) -> Result<u64, IdentityError> {
        let row = self
            .store
            .read()
            .await?
            .find_account(account)
            .await?
            .ok_or_else(|| IdentityError::NotFound(format!("no account {account}")))?;
        let mut tx = self.store.begin().await?;
        let now = self.clock.now();
        let n = tx.revoke_sessions(account, only, except, now).await?;
        // Applications signed in through the ended sessions are signed out with them.
        let grants = match only {
            Some(id) => {
                tx.revoke_session_grants(account, id, now, "signed out", keep_offline)
                    .await?
            }
            None => {
                tx.revoke_account_grants(account, now, "signed out everywhere", except)
                    .await?
            }
        };
        let event = self
            .audit(
                &Actor::account(row.id, &row.primary_address),
                action::SESSION_END,
                format!("account:{}", row.primary_address),
            )
            .with_details(
                json!({ "session": only, "kept": except, "ended": n, "grants_revoked": grants }),
            );
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// An administrator ends every session of an account (someone left, a device was lost).
    pub async fn end_all_sessions(
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
            .revoke_sessions(row.id, None, None, self.clock.now())
            .await?;
        let grants = tx
            .revoke_account_grants(row.id, self.clock.now(), "signed out everywhere", None)
            .await?;
        let event = self
            .audit(
                actor,
                action::SESSION_END,
                format!("account:{}", row.primary_address),
            )
            .with_details(json!({ "ended": n, "grants_revoked": grants }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// After a password change: other sessions end, and app passwords are revoked if the
    /// policy says so, saying `why` to their owner. Runs inside the change's transaction.
    /// Returns the sessions ended and the labels of the app passwords revoked (for the page
    /// that confirms the change).
    pub(crate) async fn after_password_change(
        &self,
        tx: &mut Tx,
        account: AccountId,
        keep_session: Option<i64>,
        why: &str,
    ) -> Result<(u64, Vec<String>), IdentityError> {
        let now: UnixMillis = self.clock.now();
        let sessions = tx.revoke_sessions(account, None, keep_session, now).await?;
        // Single sign-on grants (applications, mail apps signed in with OAuth) end with the
        // password they were opened under.
        tx.revoke_account_grants(account, now, "password changed", None)
            .await?;
        let mut revoked = Vec::new();
        if self.config().password.revoke_app_passwords_on_change {
            revoked = tx
                .list_app_passwords(account)
                .await?
                .into_iter()
                .filter(|p| p.revoked_at.is_none() && p.expires_at.is_none_or(|e| e > now))
                .map(|p| p.label)
                .collect();
            tx.revoke_app_passwords(account, None, now, why).await?;
        }
        Ok((sessions, revoked))
    }
}
