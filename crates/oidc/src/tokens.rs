//! The token endpoint (RFC 6749 §3.2): codes for tokens (with PKCE, RFC 7636), refresh tokens
//! that rotate on each use (a spent one presented again revokes its whole grant, RFC 9700
//! §4.14.2), and client credentials. Access tokens are JWTs (RFC 9068) signed with ES256; ID
//! tokens are signed with the client's algorithm (RS256 unless registered otherwise).
//!
//! Every issuance and every refusal is written to the audit trail.

use crate::claims::{acr_of, has_scope, user_claims};
use crate::clients::{Client, ClientCredentials};
use crate::{OidcError, Provider};
use carepost_audit::{NewEvent, Outcome, action};
use carepost_identity::{AccountStatus, Profile};
use carepost_store::{AuditRepo, OidcGrantRow, OidcRepo, RefreshTokenRow, Tx};
use carepost_types::{AccountId, UnixMillis};
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::IpAddr;

pub(crate) const CODE_PURPOSE: &str = "oidc codes";
pub(crate) const REFRESH_PURPOSE: &str = "oidc refresh tokens";
const REFRESH_PREFIX: &str = "cpr_";

/// A token request's parameters (form-encoded), the client's credentials apart.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
}

/// The successful answer (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    pub scope: String,
    /// The grant this token belongs to: revoking the grant stops the token.
    pub gid: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
}

/// `base64url(left half of SHA-256(token))`: `at_hash` and `c_hash` (OIDC Core §3.1.3.6).
fn half_hash(token: &str) -> String {
    use base64::Engine;
    let digest = Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

fn secs(t: UnixMillis) -> i64 {
    t.0 / 1000
}

/// What a grant says about its sign-in, for the tokens made from it.
struct Issue<'a> {
    client: &'a Client,
    grant: &'a OidcGrantRow,
    profile: Option<&'a Profile>,
    nonce: Option<&'a str>,
    with_refresh: bool,
}

impl Provider {
    fn sign(
        &self,
        header_alg: Algorithm,
        typ: &str,
        claims: &impl Serialize,
        keys: &crate::keys::KeySet,
    ) -> Result<String, OidcError> {
        let key = keys.signer(header_alg)?;
        let mut header = Header::new(header_alg);
        header.kid = Some(key.kid.clone());
        header.typ = Some(typ.to_string());
        jsonwebtoken::encode(&header, claims, &key.key)
            .map_err(|e| OidcError::Crypto(format!("signing a token: {e}")))
    }

    /// The token endpoint. A refusal is audited while `may_audit()` says the source may still
    /// have its refusals written (the caller limits them per network: anyone can send
    /// requests in a public client's name, and nobody may flood the audit trail).
    pub async fn token(
        &self,
        creds: &ClientCredentials,
        req: &TokenRequest,
        source: Option<IpAddr>,
        may_audit: impl Fn() -> bool,
    ) -> Result<TokenResponse, OidcError> {
        let client = match self.authenticate_client(creds).await {
            Ok(c) => c,
            Err(e) => {
                if may_audit() {
                    self.audit_client_failure(&creds.client_id, source).await?;
                } else {
                    tracing::warn!(
                        ?source,
                        "token endpoint: failed client authentications beyond the limit are not audited"
                    );
                }
                return Err(e);
            }
        };
        let result = match req.grant_type.as_deref() {
            Some("authorization_code") => self.redeem_code(&client, req, source).await,
            Some("refresh_token") => self.refresh(&client, req, source).await,
            Some("client_credentials") => self.client_credentials(&client, req, source).await,
            Some(other) => Err(OidcError::Request(
                "unsupported_grant_type",
                format!("grant_type '{other}' is not supported"),
            )),
            None => Err(OidcError::request("grant_type is required")),
        };
        if let Err(e) = &result {
            if may_audit() {
                self.audit_denied(client.id(), None, &e.to_string(), source)
                    .await?;
            } else {
                tracing::warn!(
                    ?source,
                    client = client.id(),
                    "token endpoint: refusals beyond the limit are not audited"
                );
            }
        }
        result
    }

    async fn redeem_code(
        &self,
        client: &Client,
        req: &TokenRequest,
        source: Option<IpAddr>,
    ) -> Result<TokenResponse, OidcError> {
        let bad = |why: &str| OidcError::InvalidGrant(why.to_string());
        let code = req
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 200)
            .ok_or_else(|| OidcError::request("code is required"))?;
        let hash = self.secret_hash(CODE_PURPOSE, code);
        let now = self.now();
        let Some(row) = self.store.read().await?.find_oidc_code(&hash).await? else {
            return Err(bad("the code is unknown or expired"));
        };
        if row.client_id != client.id() {
            return Err(bad("the code was issued to another client"));
        }
        if row.used_at.is_some() {
            // A code used twice was intercepted: what the first use gave is revoked too.
            if let Some(g) = row.grant_id {
                self.revoke_grant(g, "authorization code replayed", source)
                    .await?;
            }
            return Err(bad(
                "the code was used already; the tokens it gave are revoked",
            ));
        }
        if row.expires_at <= now {
            return Err(bad("the code has expired"));
        }
        if req.redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
            return Err(bad("redirect_uri differs from the authorization request's"));
        }
        match (&row.code_challenge, req.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) => {
                use base64::Engine;
                let ok_form = (43..=128).contains(&verifier.len())
                    && verifier
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()));
                if !ok_form || computed != *challenge {
                    return Err(bad(
                        "the PKCE code_verifier does not match the code_challenge",
                    ));
                }
            }
            (Some(_), None) => return Err(bad("code_verifier is required (PKCE)")),
            (None, Some(_)) => return Err(bad("the authorization request had no code_challenge")),
            (None, None) => {}
        }
        let profile = self.live_profile(row.account_id).await?;
        let amr: Vec<String> = row.amr.split(',').map(str::to_string).collect();
        if !self.still_admitted(client, &profile, &amr) {
            return Err(bad("the account may not use this application"));
        }
        let offline = has_scope(&row.scope, "offline_access");
        let lifetime = if offline {
            self.lifetimes.offline_grant
        } else {
            // As long as a web session may live, by the policy in force now.
            self.directory.config().sessions.absolute_timeout
        };
        let grant = OidcGrantRow {
            id: 0,
            client_id: client.id().to_string(),
            account_id: Some(row.account_id),
            session_id: row.session_id,
            scope: row.scope.clone(),
            auth_time: Some(row.auth_time),
            amr: row.amr.clone(),
            created_at: now,
            expires_at: row.auth_time.plus(lifetime),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        let id = tx.insert_oidc_grant(&grant).await?;
        if !tx.spend_oidc_code(&hash, now, id).await? {
            drop(tx);
            // Two requests raced with one code: what the other got is revoked too.
            let winner = self.store.read().await?.find_oidc_code(&hash).await?;
            if let Some(g) = winner.and_then(|c| c.grant_id) {
                self.revoke_grant(g, "authorization code replayed", source)
                    .await?;
            }
            return Err(bad("the code was used already"));
        }
        let grant = OidcGrantRow { id, ..grant };
        let issue = Issue {
            client,
            grant: &grant,
            profile: Some(&profile),
            nonce: row.nonce.as_deref(),
            with_refresh: true,
        };
        let res = self
            .issue(&mut tx, &issue, "authorization_code", source)
            .await?;
        tx.commit().await?;
        Ok(res)
    }

    async fn refresh(
        &self,
        client: &Client,
        req: &TokenRequest,
        source: Option<IpAddr>,
    ) -> Result<TokenResponse, OidcError> {
        let bad = |why: &str| OidcError::InvalidGrant(why.to_string());
        let token = req
            .refresh_token
            .as_deref()
            .filter(|t| t.starts_with(REFRESH_PREFIX) && t.len() <= 200)
            .ok_or_else(|| OidcError::request("refresh_token is required"))?;
        let hash = self.secret_hash(REFRESH_PURPOSE, token);
        let now = self.now();
        let mut read = self.store.read().await?;
        let Some(rt) = read.find_refresh_token(&hash).await? else {
            return Err(bad("the refresh token is unknown"));
        };
        let Some(grant) = read.find_oidc_grant(rt.grant_id).await? else {
            return Err(bad("the refresh token is unknown"));
        };
        drop(read);
        if grant.client_id != client.id() {
            return Err(bad("the refresh token was issued to another client"));
        }
        if grant.revoked_at.is_some() {
            return Err(bad("the refresh token has been revoked"));
        }
        if rt.used_at.is_some() {
            self.revoke_grant(grant.id, "refresh token reused", source)
                .await?;
            return Err(bad(
                "the refresh token was used already; every token of this sign-in is revoked",
            ));
        }
        if rt.expires_at <= now || grant.expires_at <= now {
            return Err(bad("the refresh token has expired"));
        }
        let Some(account) = grant.account_id else {
            return Err(bad("the refresh token is unknown"));
        };
        let profile = match self.live_profile(account).await {
            Ok(p) => p,
            Err(e @ OidcError::InvalidGrant(_)) => {
                self.revoke_grant(grant.id, "account no longer active", source)
                    .await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let amr: Vec<String> = grant.amr.split(',').map(str::to_string).collect();
        if !self.still_admitted(client, &profile, &amr) {
            self.revoke_grant(grant.id, "no longer allowed to use the client", source)
                .await?;
            return Err(bad("the account may no longer use this application"));
        }
        let mut grant = grant;
        if let Some(asked) = req.scope.as_deref().filter(|s| !s.is_empty()) {
            if !asked.split(' ').all(|s| has_scope(&grant.scope, s)) {
                return Err(OidcError::Request(
                    "invalid_scope",
                    "a refresh may only narrow the scopes of the sign-in".into(),
                ));
            }
            grant.scope = asked.to_string();
        }
        let mut tx = self.store.begin().await?;
        let from = source.map(|ip| ip.to_string());
        tx.touch_oidc_grant(grant.id, now, from.as_deref()).await?;
        if !tx.spend_refresh_token(&hash, now).await? {
            drop(tx);
            self.revoke_grant(grant.id, "refresh token reused", source)
                .await?;
            return Err(bad("the refresh token was used already"));
        }
        let issue = Issue {
            client,
            grant: &grant,
            profile: Some(&profile),
            nonce: None,
            with_refresh: true,
        };
        let res = self.issue(&mut tx, &issue, "refresh_token", source).await?;
        tx.commit().await?;
        Ok(res)
    }

    async fn client_credentials(
        &self,
        client: &Client,
        req: &TokenRequest,
        source: Option<IpAddr>,
    ) -> Result<TokenResponse, OidcError> {
        if client.is_public() {
            return Err(OidcError::Request(
                "unauthorized_client",
                "public clients cannot use client_credentials".into(),
            ));
        }
        // Scopes about a person mean nothing without one.
        let personal = [
            "openid",
            "profile",
            "email",
            "groups",
            "offline_access",
            "mail",
        ];
        let allowed: Vec<String> = client
            .scopes()
            .into_iter()
            .filter(|s| !personal.contains(&s.as_str()))
            .collect();
        let scope = match req.scope.as_deref().filter(|s| !s.is_empty()) {
            Some(asked) => {
                if let Some(s) = asked.split(' ').find(|s| !allowed.iter().any(|a| a == s)) {
                    return Err(OidcError::Request(
                        "invalid_scope",
                        format!("scope '{s}' cannot be given to a client acting for itself"),
                    ));
                }
                asked.to_string()
            }
            None => allowed.join(" "),
        };
        let now = self.now();
        let grant = OidcGrantRow {
            id: 0,
            client_id: client.id().to_string(),
            account_id: None,
            session_id: None,
            scope,
            auth_time: None,
            amr: String::new(),
            created_at: now,
            expires_at: now.plus(self.lifetimes.access_token),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        let id = tx.insert_oidc_grant(&grant).await?;
        let grant = OidcGrantRow { id, ..grant };
        let issue = Issue {
            client,
            grant: &grant,
            profile: None,
            nonce: None,
            with_refresh: false,
        };
        let res = self
            .issue(&mut tx, &issue, "client_credentials", source)
            .await?;
        tx.commit().await?;
        Ok(res)
    }

    /// The profile of an account that may still receive tokens.
    pub(crate) async fn live_profile(&self, account: AccountId) -> Result<Profile, OidcError> {
        match self.directory.profile(account).await? {
            Some(p) if p.status == AccountStatus::Active => Ok(p),
            // Said the same for every reason: the client learns nothing of the account.
            _ => Err(OidcError::InvalidGrant(
                "the grant is no longer valid".into(),
            )),
        }
    }

    /// Whether the client still admits this person (roles and departments change), with the
    /// second factor it requires.
    fn still_admitted(&self, client: &Client, profile: &Profile, amr: &[String]) -> bool {
        client.admits(profile) && (!client.row.require_mfa || amr.iter().any(|m| m == "mfa"))
    }

    /// Makes the tokens of `issue` and records them, inside `tx`.
    async fn issue(
        &self,
        tx: &mut Tx,
        issue: &Issue<'_>,
        grant_type: &str,
        source: Option<IpAddr>,
    ) -> Result<TokenResponse, OidcError> {
        let now = self.now();
        let keys = self.key_set().await?;
        let g = issue.grant;
        let amr: Vec<String> = g
            .amr
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        let exp = now
            .plus(self.lifetimes.access_token)
            .min(if g.account_id.is_some() {
                UnixMillis(i64::MAX)
            } else {
                g.expires_at
            });
        let sub = match g.account_id {
            Some(a) => self.subject(a),
            None => g.client_id.clone(),
        };
        let claims = AccessClaims {
            iss: self.issuer(),
            sub: sub.clone(),
            aud: g.client_id.clone(),
            exp: secs(exp),
            iat: secs(now),
            jti: hex::encode(self.rng.bytes(16)),
            client_id: g.client_id.clone(),
            scope: g.scope.clone(),
            gid: g.id,
            auth_time: g.auth_time.map(secs),
            acr: g.account_id.map(|_| acr_of(&amr).to_string()),
            amr: g.account_id.map(|_| amr.clone()),
        };
        let access_token = self.sign(Algorithm::ES256, "at+jwt", &claims, &keys)?;
        let id_token = match (issue.profile, has_scope(&g.scope, "openid")) {
            (Some(p), true) => {
                let mut c = user_claims(p, &g.scope);
                c.insert("iss".into(), json!(self.issuer()));
                c.insert("sub".into(), json!(sub));
                c.insert("aud".into(), json!(g.client_id));
                c.insert("azp".into(), json!(g.client_id));
                c.insert(
                    "exp".into(),
                    json!(secs(now.plus(self.lifetimes.access_token))),
                );
                c.insert("iat".into(), json!(secs(now)));
                if let Some(t) = g.auth_time {
                    c.insert("auth_time".into(), json!(secs(t)));
                }
                c.insert("acr".into(), json!(acr_of(&amr)));
                c.insert("amr".into(), json!(amr));
                if let Some(n) = issue.nonce {
                    c.insert("nonce".into(), json!(n));
                }
                if let Some(sid) = g.session_id {
                    c.insert("sid".into(), json!(sid.to_string()));
                }
                c.insert("at_hash".into(), json!(half_hash(&access_token)));
                Some(self.sign(issue.client.id_token_alg(), "JWT", &Value::Object(c), &keys)?)
            }
            _ => None,
        };
        let refresh_token = if issue.with_refresh {
            let token = format!("{REFRESH_PREFIX}{}", self.random_token());
            let row = RefreshTokenRow {
                grant_id: g.id,
                created_at: now,
                expires_at: now.plus(self.lifetimes.refresh_idle).min(g.expires_at),
                used_at: None,
            };
            tx.insert_refresh_token(&self.secret_hash(REFRESH_PURPOSE, &token), &row)
                .await?;
            Some(token)
        } else {
            None
        };
        let who = match (g.account_id, issue.profile) {
            (Some(a), Some(p)) => carepost_audit::Actor::Account {
                id: a,
                address: p.address.clone(),
            },
            _ => carepost_audit::Actor::Client {
                client_id: g.client_id.clone(),
            },
        };
        let mut event = NewEvent::success(
            now,
            &who,
            action::OIDC_TOKEN_ISSUE,
            format!("client:{}", g.client_id),
        )
        .with_details(json!({
            "grant_type": grant_type,
            "grant": g.id,
            "scope": g.scope,
            "jti": claims.jti,
            "refresh": refresh_token.is_some(),
            "id_token": id_token.is_some(),
        }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: u64::try_from((exp.0 - now.0) / 1000).unwrap_or(0),
            scope: g.scope.clone(),
            refresh_token,
            id_token,
        })
    }

    /// Revokes a grant (and so its refresh token and access tokens), audited.
    pub(crate) async fn revoke_grant(
        &self,
        grant: i64,
        why: &str,
        source: Option<IpAddr>,
    ) -> Result<bool, OidcError> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(row) = tx.find_oidc_grant(grant).await? else {
            return Ok(false);
        };
        let done = tx.revoke_oidc_grant(grant, now, why).await?;
        let mut event = NewEvent::success(
            now,
            &carepost_audit::Actor::Client {
                client_id: row.client_id.clone(),
            },
            action::OIDC_TOKEN_REVOKE,
            format!("client:{}", row.client_id),
        )
        .with_details(
            json!({ "grant": grant, "why": why, "account": row.account_id.map(|a| a.0) }),
        );
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// A client that could not be authenticated: the id it claimed is only a target, never
    /// the actor.
    async fn audit_client_failure(
        &self,
        client_id: &str,
        source: Option<IpAddr>,
    ) -> Result<(), OidcError> {
        let client_id: String = client_id
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let mut tx = self.store.begin().await?;
        let mut event = NewEvent::success(
            self.now(),
            &carepost_audit::Actor::System,
            action::OIDC_TOKEN_DENIED,
            format!("client:{client_id}"),
        )
        .with_outcome(Outcome::Denied)
        .with_details(json!({ "why": "client authentication failed" }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn audit_denied(
        &self,
        client_id: &str,
        account: Option<AccountId>,
        why: &str,
        source: Option<IpAddr>,
    ) -> Result<(), OidcError> {
        let client_id: String = client_id
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let why: String = why.chars().filter(|c| !c.is_control()).take(300).collect();
        let mut tx = self.store.begin().await?;
        let mut event = NewEvent::success(
            self.now(),
            &carepost_audit::Actor::Client {
                client_id: client_id.clone(),
            },
            action::OIDC_TOKEN_DENIED,
            format!("client:{client_id}"),
        )
        .with_outcome(Outcome::Denied)
        .with_details(json!({ "why": why, "account": account.map(|a| a.0) }));
        event.source = source.map(|ip| ip.to_string());
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }
}
