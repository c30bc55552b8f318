//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an application sends the
//! person to carepost to sign out, with the ID token it holds as a hint and where to come back
//! to. The way back must be registered for that application; the hint's signature is checked
//! (its expiry is not: a hint is usually old). The portal session ends, and with it every
//! grant made from it.

use crate::{OidcError, Provider, SignedInSession};
use carepost_audit::{NewEvent, action};
use carepost_store::{AuditRepo, OidcRepo, SessionRepo};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

/// What a checked logout request allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutPlan {
    /// Where to send the person afterwards (with `state`), if the client registered it.
    pub redirect: Option<String>,
    /// The `sub` of a genuine ID token hint.
    pub hint_subject: Option<String>,
    /// Its `sid`: the portal session it was issued from.
    pub hint_session: Option<String>,
    pub client_name: Option<String>,
}

#[derive(Deserialize)]
struct HintClaims {
    sub: String,
    aud: String,
    sid: Option<String>,
}

impl Provider {
    /// The claims of an ID token this provider signed (not an access token), old or not.
    async fn hint_claims(&self, token: &str) -> Result<Option<HintClaims>, OidcError> {
        self.our_jwt(token, |h| h.typ.as_deref() != Some("at+jwt"))
            .await
    }

    /// Checks a logout request. An unregistered way back is an error shown to the person.
    /// Without a genuine hint naming the client, there is no way back to it.
    pub async fn check_logout(&self, req: &LogoutRequest) -> Result<LogoutPlan, OidcError> {
        // A hint that does not verify (signed by a key rotated out since, or not ours) counts
        // as none: the person is asked instead.
        let hint = match req.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            Some(h) => self.hint_claims(h).await?,
            None => None,
        };
        let client_id = match (&hint, req.client_id.as_deref().filter(|c| !c.is_empty())) {
            (Some(h), Some(c)) if h.aud != c => {
                return Err(OidcError::request(
                    "client_id differs from the ID token's audience",
                ));
            }
            (Some(h), _) => Some(h.aud.clone()),
            (None, c) => c.map(str::to_string),
        };
        let client = match &client_id {
            Some(id) => self.client(id).await?,
            None => None,
        };
        let redirect = match req
            .post_logout_redirect_uri
            .as_deref()
            .filter(|u| !u.is_empty() && client.is_some())
        {
            // Without a client to check it against, the way back is dropped: the person is
            // signed out (after confirming) and stays on carepost's page.
            Some(uri) => {
                let Some(c) = client
                    .as_ref()
                    .filter(|c| c.allows_post_logout_redirect(uri))
                else {
                    return Err(OidcError::request(
                        "post_logout_redirect_uri is not registered for this application",
                    ));
                };
                let _ = c;
                let mut url = url::Url::parse(uri)
                    .map_err(|_| OidcError::request("post_logout_redirect_uri is not a URI"))?;
                if let Some(s) = req
                    .state
                    .as_deref()
                    .filter(|s| !s.is_empty() && s.len() <= 2000)
                {
                    url.query_pairs_mut().append_pair("state", s);
                }
                Some(url.to_string())
            }
            None => None,
        };
        Ok(LogoutPlan {
            redirect,
            hint_session: hint.as_ref().and_then(|h| h.sid.clone()),
            hint_subject: hint.map(|h| h.sub),
            client_name: client.map(|c| c.row.name),
        })
    }

    /// Ends a portal session for a logout: the session and every grant made from it.
    pub async fn end_session(
        &self,
        s: &SignedInSession,
        client_name: Option<&str>,
    ) -> Result<(), OidcError> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let sessions = tx.revoke_sessions(s.account, Some(s.id), None, now).await?;
        let grants = tx
            .revoke_session_grants(s.account, s.id, now, "signed out", true)
            .await?;
        let event = NewEvent::success(
            now,
            &carepost_audit::Actor::Account {
                id: s.account,
                address: s.address.clone(),
            },
            action::OIDC_LOGOUT,
            format!("account:{}", s.address),
        )
        .with_details(json!({
            "session": s.id,
            "sessions_ended": sessions,
            "grants_revoked": grants,
            "from": client_name,
        }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }
}
