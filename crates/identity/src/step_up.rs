//! The step-up: before a sensitive action (changing one's second factors, an administrator's
//! change in the console or through the API with a session), a person whose account has a
//! second factor must have proven it in the last minutes, at sign-in or when asked again.
//! Each proof gives the session a new token, so a copy of the cookie taken earlier (from a
//! workstation left unlocked) never shares it.

use crate::passkeys::{PasskeyChallenge, RequestChallengeResponse};
use crate::{Actor, Directory, IdentityError, Protocol, Session, SignIn};
use carepost_audit::action;
use carepost_store::AuditRepo;
use serde_json::json;
use std::net::IpAddr;
use webauthn_rs::prelude::PublicKeyCredential;

fn attempt<'a>(s: &'a Session, source: Option<IpAddr>) -> SignIn<'a> {
    SignIn {
        login: &s.address,
        secret: "",
        protocol: Protocol::Web,
        source,
    }
}

/// The passkey ceremony of one session's step-up (a sign-in's is another).
fn purpose(s: &Session) -> String {
    format!("step-up:{}", s.id)
}

impl Directory {
    /// Whether the session must prove a second factor again before a sensitive action. An
    /// account without a second factor has nothing to prove (its policy decides whether it
    /// must enroll one).
    pub async fn step_up_needed(&self, s: &Session) -> Result<bool, IdentityError> {
        if !self.has_factor(s.account).await? {
            return Ok(false);
        }
        let now = self.clock.now();
        let window = self.config().sessions.step_up;
        Ok(s.factor_at.is_none_or(|t| t.plus(window) < now))
    }

    /// The person proves a factor again with the authenticator's code or a recovery code
    /// (checked, audited and locked out like a sign-in's second step). Returns the session's
    /// new token, or `None` when the code is not right.
    pub async fn step_up_with_code(
        &self,
        s: &Session,
        code: &str,
        source: Option<IpAddr>,
    ) -> Result<Option<String>, IdentityError> {
        if !self
            .verify_second_factor(s.account, code, &attempt(s, source))
            .await?
        {
            return Ok(None);
        }
        Ok(Some(self.mark_step_up(s, source).await?))
    }

    /// A passkey challenge for this session's step-up; `None` without a usable passkey.
    pub async fn begin_passkey_step_up(
        &self,
        s: &Session,
        source: Option<IpAddr>,
    ) -> Result<Option<PasskeyChallenge<RequestChallengeResponse>>, IdentityError> {
        self.begin_passkey_proof(s.account, &attempt(s, source), &purpose(s))
            .await
    }

    /// The passkey's answer to this session's step-up challenge; the session's new token, or
    /// `None`.
    pub async fn step_up_with_passkey(
        &self,
        s: &Session,
        ceremony: &str,
        answer: &PublicKeyCredential,
        source: Option<IpAddr>,
    ) -> Result<Option<String>, IdentityError> {
        if !self
            .verify_passkey_proof(
                s.account,
                ceremony,
                answer,
                &attempt(s, source),
                &purpose(s),
            )
            .await?
        {
            return Ok(None);
        }
        Ok(Some(self.mark_step_up(s, source).await?))
    }

    /// Records the proof on the session, under a new token (audited).
    async fn mark_step_up(
        &self,
        s: &Session,
        source: Option<IpAddr>,
    ) -> Result<String, IdentityError> {
        let mut tx = self.store.begin().await?;
        let token = self.renew_session_token(&mut tx, s.id).await?;
        let mut event = self
            .audit(
                &Actor::account(s.account, &s.address),
                action::SESSION_STEP_UP,
                format!("account:{}", s.address),
            )
            .with_details(json!({ "session": s.id }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(token)
    }
}
