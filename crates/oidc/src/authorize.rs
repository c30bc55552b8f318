//! The authorization endpoint's decisions (OpenID Connect Core §3.1.2): check the request,
//! then, given the browser's portal session, decide whether the person must sign in (again),
//! be asked for consent, or go back to the client with a code or an error.
//!
//! A request whose client is unknown or whose redirect URI is not registered is answered to the
//! person only: sending anything to an unverified URI would make carepost an open redirector.

use crate::claims::{ACR_MFA, SCOPES_SUPPORTED, has_scope};
use crate::clients::Client;
use crate::{AuthorizeError, OidcError, Provider, SignedInSession};
use carepost_audit::{NewEvent, Outcome, action};
use carepost_identity::{Actor, SecondFactor};
use carepost_store::{AuditRepo, OidcCodeRow, OidcRepo};
use serde::Deserialize;
use serde_json::json;

/// The parameters of an authorization request, as received (query or form).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub acr_values: Option<String>,
    pub login_hint: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

impl AuthorizationRequest {
    /// The parameters, to carry the request through the sign-in and consent pages. With
    /// `signing_in`, `login` leaves `prompt` and `max_age` goes: the sign-in they ask for is
    /// the one about to happen.
    pub fn params(&self, signing_in: bool) -> Vec<(&'static str, String)> {
        // The sign-in about to happen meets max_age too (max_age=0 is prompt=login).
        let max_age = if signing_in {
            None
        } else {
            self.max_age.clone()
        };
        let prompt = self.prompt.as_ref().map(|p| {
            p.split(' ')
                .filter(|x| !(signing_in && *x == "login"))
                .collect::<Vec<_>>()
                .join(" ")
        });
        [
            ("client_id", &self.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", &self.response_type),
            ("response_mode", &self.response_mode),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
            ("code_challenge", &self.code_challenge),
            ("code_challenge_method", &self.code_challenge_method),
            ("prompt", &prompt),
            ("max_age", &max_age),
            ("acr_values", &self.acr_values),
            ("login_hint", &self.login_hint),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (k, v.clone())))
        .collect()
    }
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct ValidRequest {
    pub(crate) client: Client,
    pub client_name: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub prompt_consent: bool,
    /// Seconds.
    pub max_age: Option<i64>,
    pub mfa_required: bool,
    pub login_hint: Option<String>,
}

/// What happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The person must sign in, or sign in again.
    SignIn,
    /// The person must allow the client these scopes first.
    Consent {
        client_name: String,
        scopes: Vec<String>,
    },
    /// Back to the client: a code, or an error it must handle.
    Redirect(String),
    /// Nothing can go back to the client; tell the person this.
    Page(String),
}

fn pkce_ok(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

impl ValidRequest {
    /// The client's redirect URI with `params` (and `state` and `iss`, RFC 9207) added.
    fn back(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        let mut url = match url::Url::parse(&self.redirect_uri) {
            Ok(u) => u,
            Err(_) => return self.redirect_uri.clone(),
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if let Some(s) = &self.state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", issuer);
        }
        url.to_string()
    }

    fn error(&self, issuer: &str, code: &str, description: &str) -> Decision {
        Decision::Redirect(self.back(
            issuer,
            &[("error", code), ("error_description", description)],
        ))
    }

    pub fn client_id(&self) -> &str {
        self.client.id()
    }

    /// Whether the person's consent is asked once and remembered: the client asks for it, or
    /// the request asks for `offline_access` (access that outlasts the sign-in, OpenID Connect
    /// Core §11).
    fn remembers_consent(&self) -> bool {
        self.client.row.consent || has_scope(&self.scope, "offline_access")
    }
}

impl Provider {
    /// Checks an authorization request.
    pub async fn validate_authorization(
        &self,
        req: &AuthorizationRequest,
    ) -> Result<ValidRequest, AuthorizeError> {
        let client_id = req.client_id.as_deref().unwrap_or("");
        let Some(client) = self.client(client_id).await? else {
            return Err(AuthorizeError::Page(
                "The application that sent you here is not registered with carepost. Tell its administrators.".into(),
            ));
        };
        let redirect_uri = req.redirect_uri.clone().unwrap_or_default();
        if redirect_uri.is_empty() || !client.allows_redirect(&redirect_uri) {
            return Err(AuthorizeError::Page(format!(
                "The application \"{}\" asked to send you back to an address it has not registered. Tell its administrators.",
                client.row.name
            )));
        }
        let mut v = ValidRequest {
            client_name: client.row.name.clone(),
            redirect_uri,
            scope: String::new(),
            state: req.state.clone().filter(|s| !s.is_empty()),
            nonce: req.nonce.clone().filter(|s| !s.is_empty()),
            code_challenge: req.code_challenge.clone().filter(|s| !s.is_empty()),
            prompt_none: false,
            prompt_login: false,
            prompt_consent: false,
            max_age: None,
            mfa_required: client.row.require_mfa,
            login_hint: req
                .login_hint
                .clone()
                .filter(|s| !s.is_empty() && s.len() <= 320),
            client,
        };
        let issuer = self.issuer();
        let refuse = |v: &ValidRequest, code: &str, msg: &str| {
            AuthorizeError::Redirect(match v.error(&issuer, code, msg) {
                Decision::Redirect(to) => to,
                _ => String::new(),
            })
        };
        if v.state.as_ref().is_some_and(|s| s.len() > 2000) {
            v.state = None;
            return Err(refuse(&v, "invalid_request", "state is too long"));
        }
        if req.request.is_some() {
            return Err(refuse(
                &v,
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if req.request_uri.is_some() {
            return Err(refuse(
                &v,
                "request_uri_not_supported",
                "request_uri is not supported",
            ));
        }
        if req.response_mode.as_deref().is_some_and(|m| m != "query") {
            return Err(refuse(
                &v,
                "invalid_request",
                "only response_mode=query is supported",
            ));
        }
        if req.response_type.as_deref() != Some("code") {
            return Err(refuse(
                &v,
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ));
        }
        let allowed = v.client.scopes();
        let mut scopes: Vec<&str> = Vec::new();
        for s in req
            .scope
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
        {
            if !allowed.iter().any(|a| a == s) {
                let known = SCOPES_SUPPORTED.contains(&s);
                let msg = if known {
                    format!("this application may not ask for the scope '{s}'")
                } else {
                    format!("unknown scope '{s}'")
                };
                return Err(refuse(&v, "invalid_scope", &msg));
            }
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        if scopes.is_empty() {
            return Err(refuse(
                &v,
                "invalid_scope",
                "ask for at least one scope, such as openid",
            ));
        }
        v.scope = scopes.join(" ");
        match (&v.code_challenge, req.code_challenge_method.as_deref()) {
            (Some(c), Some("S256")) if pkce_ok(c) => {}
            (Some(_), Some("S256")) => {
                return Err(refuse(&v, "invalid_request", "code_challenge is malformed"));
            }
            (Some(_), _) => {
                return Err(refuse(
                    &v,
                    "invalid_request",
                    "code_challenge_method must be S256",
                ));
            }
            (None, _) if v.client.is_public() => {
                return Err(refuse(
                    &v,
                    "invalid_request",
                    "public clients must use PKCE (code_challenge with S256)",
                ));
            }
            // Without PKCE, only a nonce in the ID token stops an injected code (RFC 9700
            // §2.1.1).
            (None, _) if v.nonce.is_none() || !has_scope(&v.scope, "openid") => {
                return Err(refuse(
                    &v,
                    "invalid_request",
                    "use PKCE (code_challenge with S256), or openid with a nonce",
                ));
            }
            (None, _) => {}
        }
        if v.nonce.as_ref().is_some_and(|n| n.len() > 500) {
            return Err(refuse(&v, "invalid_request", "nonce is too long"));
        }
        for p in req
            .prompt
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|p| !p.is_empty())
        {
            match p {
                "none" => v.prompt_none = true,
                "login" => v.prompt_login = true,
                "consent" => v.prompt_consent = true,
                "select_account" => {}
                other => {
                    return Err(refuse(
                        &v,
                        "invalid_request",
                        &format!("unknown prompt '{other}'"),
                    ));
                }
            }
        }
        if v.prompt_none && (v.prompt_login || v.prompt_consent) {
            return Err(refuse(
                &v,
                "invalid_request",
                "prompt=none goes with no other prompt",
            ));
        }
        if let Some(m) = req.max_age.as_deref().filter(|m| !m.is_empty()) {
            match m.parse::<i64>() {
                Ok(secs) if secs >= 0 => v.max_age = Some(secs),
                _ => {
                    return Err(refuse(
                        &v,
                        "invalid_request",
                        "max_age must be a number of seconds",
                    ));
                }
            }
        }
        if req
            .acr_values
            .as_deref()
            .is_some_and(|a| a.split(' ').any(|x| x == ACR_MFA))
        {
            v.mfa_required = true;
        }
        Ok(v)
    }

    /// What to do with a valid request, given the browser's session (if any). A sign-in made
    /// for the request comes back without `prompt=login` and `max_age` (see
    /// `AuthorizationRequest::params`), so it is not asked for again.
    pub async fn decide(
        &self,
        v: &ValidRequest,
        session: Option<&SignedInSession>,
    ) -> Result<Decision, OidcError> {
        let issuer = self.issuer();
        let Some(s) = session else {
            return Ok(if v.prompt_none {
                v.error(&issuer, "login_required", "the person is not signed in")
            } else {
                Decision::SignIn
            });
        };
        let too_old = v
            .max_age
            .is_some_and(|max| (self.now().0 - s.auth_time.0) / 1000 > max);
        if v.prompt_login || too_old {
            return Ok(if v.prompt_none {
                v.error(
                    &issuer,
                    "login_required",
                    "the sign-in is older than max_age",
                )
            } else {
                Decision::SignIn
            });
        }
        if let Some(refused) = self.refusal(v, s).await? {
            return Ok(refused);
        }
        // A public client (a mail or mobile app) cannot prove who it is: the person confirms
        // every time (RFC 8252 §8.6), so that a link elsewhere cannot have a code sent to
        // whatever listens on a loopback port.
        let ask = if v.client.is_public() {
            true
        } else if v.remembers_consent() {
            let given = self
                .store
                .read()
                .await?
                .find_consent(s.account, v.client.id())
                .await?;
            let covered = given
                .as_deref()
                .is_some_and(|g| v.scope.split(' ').all(|w| has_scope(g, w)));
            v.prompt_consent || !covered
        } else {
            false
        };
        if ask {
            return Ok(if v.prompt_none {
                v.error(
                    &issuer,
                    "consent_required",
                    "the person must allow this application",
                )
            } else {
                Decision::Consent {
                    client_name: v.client_name.clone(),
                    scopes: v.scope.split(' ').map(str::to_string).collect(),
                }
            });
        }
        Ok(Decision::Redirect(self.issue_code(v, s).await?))
    }

    /// Why this person may not use this client now, if they may not: a second factor the
    /// sign-in lacks, or roles and departments the client does not admit. Refusals are
    /// audited.
    async fn refusal(
        &self,
        v: &ValidRequest,
        s: &SignedInSession,
    ) -> Result<Option<Decision>, OidcError> {
        let issuer = self.issuer();
        if v.mfa_required && !s.amr.iter().any(|m| m == "mfa") {
            if v.prompt_none {
                return Ok(Some(v.error(
                    &issuer,
                    "login_required",
                    "a second factor is required",
                )));
            }
            let has_factor = matches!(
                self.directory.second_factor_state(s.account).await?,
                SecondFactor::Required { .. }
            );
            if has_factor {
                return Ok(Some(Decision::SignIn));
            }
            self.audit_refusal(s, v, "a second factor is required and the account has none")
                .await?;
            return Ok(Some(Decision::Page(format!(
                "\"{}\" needs two-factor sign-in. Set up an authenticator app or a passkey on your account page, sign out and sign in with it, then open the application again.",
                v.client_name
            ))));
        }
        let Some(profile) = self.directory.profile(s.account).await? else {
            return Ok(Some(Decision::SignIn));
        };
        if !v.client.admits(&profile) {
            self.audit_refusal(
                s,
                v,
                "the account is not among the client's allowed roles or departments",
            )
            .await?;
            return Ok(Some(v.error(
                &issuer,
                "access_denied",
                "this account may not use this application",
            )));
        }
        Ok(None)
    }

    /// The person answered the consent page. Every check of `decide` is made again (the form
    /// is the browser's to forge); allowed, the consent is remembered and a code goes back.
    pub async fn consent(
        &self,
        v: &ValidRequest,
        s: &SignedInSession,
        allow: bool,
    ) -> Result<Decision, OidcError> {
        if !(v.client.is_public() || v.remembers_consent()) {
            return self.decide(v, Some(s)).await;
        }
        if let Some(refused) = self.refusal(v, s).await? {
            return Ok(refused);
        }
        if !allow {
            self.audit_refusal(s, v, "the person did not allow the application")
                .await?;
            return Ok(v.error(
                &self.issuer(),
                "access_denied",
                "the person did not allow the application",
            ));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if v.remembers_consent() {
            tx.save_consent(s.account, v.client.id(), &v.scope, now)
                .await?;
        }
        let event = NewEvent::success(
            now,
            &Actor::account(s.account, &s.address).who,
            action::OIDC_CONSENT,
            format!("client:{}", v.client.id()),
        )
        .with_details(json!({ "scope": v.scope }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(Decision::Redirect(self.issue_code(v, s).await?))
    }

    async fn issue_code(&self, v: &ValidRequest, s: &SignedInSession) -> Result<String, OidcError> {
        let code = self.random_token();
        let now = self.now();
        let row = OidcCodeRow {
            code_hash: self.secret_hash(crate::tokens::CODE_PURPOSE, &code),
            client_id: v.client.id().to_string(),
            account_id: s.account,
            session_id: Some(s.id),
            redirect_uri: v.redirect_uri.clone(),
            scope: v.scope.clone(),
            nonce: v.nonce.clone(),
            code_challenge: v.code_challenge.clone(),
            auth_time: s.auth_time,
            amr: s.amr.join(","),
            created_at: now,
            expires_at: now.plus(self.lifetimes.code),
            used_at: None,
            grant_id: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_oidc_code(&row).await?;
        let event = NewEvent::success(
            now,
            &Actor::account(s.account, &s.address).who,
            action::OIDC_CODE_ISSUE,
            format!("client:{}", v.client.id()),
        )
        .with_details(json!({ "scope": v.scope, "session": s.id }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(v.back(&self.issuer(), &[("code", &code)]))
    }

    async fn audit_refusal(
        &self,
        s: &SignedInSession,
        v: &ValidRequest,
        why: &str,
    ) -> Result<(), OidcError> {
        let mut tx = self.store.begin().await?;
        let event = NewEvent::success(
            self.now(),
            &Actor::account(s.account, &s.address).who,
            action::OIDC_TOKEN_DENIED,
            format!("client:{}", v.client.id()),
        )
        .with_outcome(Outcome::Denied)
        .with_details(json!({ "stage": "authorize", "why": why }));
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }
}
