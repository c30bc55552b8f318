//! The step-up: before a sensitive action (changing one's second factors, an administrator's
//! change in the console or through the API with a session), a person whose account has a
//! second factor must have proven it in the last minutes, at sign-in or when asked again. A
//! session cookie stolen from a workstation left unlocked is then not enough to change what
//! protects the account, or to act as an administrator.

use crate::{Directory, IdentityError, Protocol, Session, SignIn};
use carepost_store::SessionRepo;
use std::net::IpAddr;
use std::time::Duration;
use webauthn_rs::prelude::PublicKeyCredential;

/// How recent the proof must be.
pub const STEP_UP_WINDOW: Duration = Duration::from_secs(15 * 60);

impl Directory {
    /// Whether the session must prove a second factor again before a sensitive action. An
    /// account without a second factor has nothing to prove (its policy decides whether it
    /// must enroll one).
    pub async fn step_up_needed(&self, s: &Session) -> Result<bool, IdentityError> {
        if !self.has_factor(s.account).await? {
            return Ok(false);
        }
        let now = self.clock.now();
        Ok(s.factor_at.is_none_or(|t| t.plus(STEP_UP_WINDOW) < now))
    }

    /// The person proves a factor again with the authenticator's code or a recovery code
    /// (checked, audited and locked out like a sign-in's second step).
    pub async fn step_up_with_code(
        &self,
        s: &Session,
        code: &str,
        source: Option<IpAddr>,
    ) -> Result<bool, IdentityError> {
        let attempt = SignIn {
            login: &s.address,
            secret: "",
            protocol: Protocol::Web,
            source,
        };
        if !self.verify_second_factor(s.account, code, &attempt).await? {
            return Ok(false);
        }
        self.mark_step_up(s.id).await?;
        Ok(true)
    }

    /// The person proves a passkey again: the answer to `begin_passkey_sign_in`'s challenge.
    pub async fn step_up_with_passkey(
        &self,
        s: &Session,
        ceremony: &str,
        answer: &PublicKeyCredential,
        source: Option<IpAddr>,
    ) -> Result<bool, IdentityError> {
        let attempt = SignIn {
            login: &s.address,
            secret: "",
            protocol: Protocol::Web,
            source,
        };
        if !self
            .verify_passkey_second_factor(s.account, ceremony, answer, &attempt)
            .await?
        {
            return Ok(false);
        }
        self.mark_step_up(s.id).await?;
        Ok(true)
    }

    /// Records the proof on the session (the verification itself is in the audit trail).
    async fn mark_step_up(&self, session: i64) -> Result<(), IdentityError> {
        let mut tx = self.store.begin_bookkeeping().await?;
        tx.set_session_factor_at(session, self.clock.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}
