//! Checking the tokens this provider issued: for userinfo, for introspection (RFC 7662), for
//! revocation (RFC 7009), and for the mail protocols' SASL OAUTHBEARER and XOAUTH2. A token
//! is good only while its signature holds, it has not expired (by carepost's clock), its grant
//! stands, and its account is still active: deprovisioning someone stops their tokens at once.

use crate::claims::{has_scope, user_claims};
use crate::clients::ClientCredentials;
use crate::tokens::{AccessClaims, REFRESH_PURPOSE};
use crate::{OidcError, Provider};
use carepost_identity::{AccountStatus, Profile};
use carepost_store::{OidcGrantRow, OidcRepo};
use carepost_types::AccountId;
use jsonwebtoken::{Algorithm, Validation};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::net::IpAddr;

/// Who a good access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSubject {
    /// `None`: a client acting for itself.
    pub account: Option<AccountId>,
    pub address: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub grant: i64,
    pub amr: Vec<String>,
}

/// An introspection answer (RFC 7662 §2.2).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A checked access token: its claims, its grant, and its account's profile.
struct Checked {
    claims: AccessClaims,
    grant: OidcGrantRow,
    profile: Option<Profile>,
}

impl Provider {
    /// The claims of a JWT this provider signed with the key its `kid` names, expired or not
    /// (expiry is checked against carepost's clock, not the system's), if `kind` accepts its
    /// header; `None` for anything else.
    pub(crate) async fn our_jwt<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        kind: impl Fn(&jsonwebtoken::Header) -> bool,
    ) -> Result<Option<T>, OidcError> {
        if token.len() > 16_384 {
            return Ok(None);
        }
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(None);
        };
        let Some(kid) = header.kid.as_deref().filter(|_| kind(&header)) else {
            return Ok(None);
        };
        let Some((alg, key)) = self.verifying_key(kid).await? else {
            return Ok(None);
        };
        if header.alg != alg {
            return Ok(None);
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[self.issuer()]);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        Ok(jsonwebtoken::decode::<T>(token, &key, &v)
            .ok()
            .map(|d| d.claims))
    }

    /// The claims of an access token this provider signed, expired or not.
    async fn signed_claims(&self, token: &str) -> Result<Option<AccessClaims>, OidcError> {
        self.our_jwt(token, |h| {
            h.alg == Algorithm::ES256 && h.typ.as_deref() == Some("at+jwt")
        })
        .await
    }

    async fn check_access_token(&self, token: &str) -> Result<Option<Checked>, OidcError> {
        let Some(claims) = self.signed_claims(token).await? else {
            return Ok(None);
        };
        if claims.exp * 1000 <= self.now().0 {
            return Ok(None);
        }
        self.standing(claims).await
    }

    /// The grant and account behind `claims`, if both still stand.
    async fn standing(&self, claims: AccessClaims) -> Result<Option<Checked>, OidcError> {
        let grant = self.store.read().await?.find_oidc_grant(claims.gid).await?;
        let now = self.now();
        let Some(grant) = grant.filter(|g| {
            g.revoked_at.is_none() && g.client_id == claims.client_id && g.expires_at > now
        }) else {
            return Ok(None);
        };
        let profile = match grant.account_id {
            Some(a) => match self.directory.profile(a).await? {
                Some(p) if p.status == AccountStatus::Active => Some(p),
                _ => return Ok(None),
            },
            None => None,
        };
        Ok(Some(Checked {
            claims,
            grant,
            profile,
        }))
    }

    /// The subject of a good access token that carries `scope`; `None` for any token that is
    /// not good, whatever the reason (the caller answers `invalid_token`).
    pub async fn verify_access_token(
        &self,
        token: &str,
        scope: &str,
    ) -> Result<Option<TokenSubject>, OidcError> {
        let Some(c) = self.check_access_token(token).await? else {
            return Ok(None);
        };
        if !has_scope(&c.claims.scope, scope) {
            return Ok(None);
        }
        Ok(Some(TokenSubject {
            account: c.grant.account_id,
            address: c.profile.map(|p| p.address),
            client_id: c.claims.client_id,
            scope: c.claims.scope,
            grant: c.grant.id,
            amr: c.claims.amr.unwrap_or_default(),
        }))
    }

    /// What a mail app's token (SASL OAUTHBEARER or XOAUTH2) stands for: it must carry the
    /// `mail` scope and speak for a person.
    pub async fn mail_token(
        &self,
        token: &str,
        source: Option<IpAddr>,
    ) -> Result<Option<carepost_identity::VerifiedToken>, OidcError> {
        let verified = self
            .verify_access_token(token, "mail")
            .await?
            .and_then(|t| {
                Some(carepost_identity::VerifiedToken {
                    account: t.account?,
                    grant: t.grant,
                    client_id: t.client_id,
                })
            });
        if let Some(v) = &verified {
            self.touch_grant(v.grant, source).await?;
        }
        Ok(verified)
    }

    /// The userinfo claims for a good access token with the `openid` scope.
    pub async fn userinfo(&self, token: &str) -> Result<Option<Map<String, Value>>, OidcError> {
        let Some(c) = self.check_access_token(token).await? else {
            return Ok(None);
        };
        let Some(profile) = c.profile.filter(|_| has_scope(&c.claims.scope, "openid")) else {
            return Ok(None);
        };
        let mut claims = user_claims(&profile, &c.claims.scope);
        claims.insert("sub".into(), json!(c.claims.sub));
        Ok(Some(claims))
    }

    /// Introspection, for a confidential client (a resource server).
    pub async fn introspect(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Introspection, OidcError> {
        let client = self.authenticate_client(creds).await?;
        if client.is_public() {
            return Err(OidcError::InvalidClient(
                "introspection is for confidential clients".into(),
            ));
        }
        // A client learns only of its own tokens: another's are inactive to it (so a stolen
        // refresh token cannot be tested quietly, nor an address read off a token).
        if let Some(c) = self
            .check_access_token(token)
            .await?
            .filter(|c| c.claims.client_id == client.id())
        {
            return Ok(Introspection {
                active: true,
                scope: Some(c.claims.scope),
                client_id: Some(c.claims.client_id),
                username: c.profile.map(|p| p.address),
                token_type: Some("Bearer"),
                exp: Some(c.claims.exp),
                iat: Some(c.claims.iat),
                sub: Some(c.claims.sub),
                aud: Some(c.claims.aud),
                iss: Some(c.claims.iss),
                jti: Some(c.claims.jti),
            });
        }
        let Some((grant, rt)) = self
            .refresh_grant(token)
            .await?
            .filter(|(g, _)| g.client_id == client.id())
        else {
            return Ok(Introspection::default());
        };
        let now = self.now();
        if rt.used_at.is_some() || rt.expires_at <= now || grant.expires_at <= now {
            return Ok(Introspection::default());
        }
        let profile = match grant.account_id {
            Some(a) => match self.directory.profile(a).await? {
                Some(p) if p.status == AccountStatus::Active => p,
                _ => return Ok(Introspection::default()),
            },
            None => return Ok(Introspection::default()),
        };
        Ok(Introspection {
            active: true,
            scope: Some(grant.scope.clone()),
            client_id: Some(grant.client_id.clone()),
            sub: Some(self.subject(profile.account)),
            username: Some(profile.address),
            token_type: Some("refresh_token"),
            exp: Some(rt.expires_at.0 / 1000),
            iat: Some(rt.created_at.0 / 1000),
            iss: Some(self.issuer()),
            ..Introspection::default()
        })
    }

    async fn refresh_grant(
        &self,
        token: &str,
    ) -> Result<Option<(OidcGrantRow, carepost_store::RefreshTokenRow)>, OidcError> {
        if !token.starts_with("cpr_") || token.len() > 200 {
            return Ok(None);
        }
        let mut read = self.store.read().await?;
        let Some(rt) = read
            .find_refresh_token(&self.secret_hash(REFRESH_PURPOSE, token))
            .await?
        else {
            return Ok(None);
        };
        let grant = read.find_oidc_grant(rt.grant_id).await?;
        Ok(grant.filter(|g| g.revoked_at.is_none()).map(|g| (g, rt)))
    }

    /// Revocation (RFC 7009): a client ends one of its own tokens, and with it the whole
    /// grant. An unknown token, or another client's, is answered the same (success) and
    /// changes nothing.
    pub async fn revoke(
        &self,
        creds: &ClientCredentials,
        token: &str,
        source: Option<IpAddr>,
    ) -> Result<(), OidcError> {
        let client = self.authenticate_client(creds).await?;
        let grant = match self.refresh_grant(token).await? {
            Some((g, _)) => Some(g),
            None => match self.signed_claims(token).await? {
                Some(c) => self.store.read().await?.find_oidc_grant(c.gid).await?,
                None => None,
            },
        };
        if let Some(g) = grant.filter(|g| g.client_id == client.id() && g.revoked_at.is_none()) {
            self.revoke_grant(g.id, "revoked by the client", source)
                .await?;
        }
        Ok(())
    }
}
