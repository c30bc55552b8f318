//! Signing keys: one ES256 and one RS256 key sign at a time (RS256 is what every relying party
//! accepts by default; ES256 is smaller and faster, and signs access tokens). Private keys are
//! PKCS#8, sealed under a key derived from the master key and bound to their `kid`. A rotation
//! makes new keys and keeps the old ones published until every token they signed has expired.
//!
//! Every node caches the keys and reloads them each minute, and at once (at most every few
//! seconds) when a token names a key it does not know: a rotation made by the command line on
//! one machine reaches every node without a restart.

use crate::{OidcError, Provider};
use carepost_audit::{NewEvent, action};
use carepost_identity::{Actor, Permission};
use carepost_store::{AuditRepo, OidcKeyRow, OidcRepo};
use carepost_types::UnixMillis;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a node trusts its cached keys.
const RELOAD_EVERY: i64 = 60_000;
/// The least time between two reloads caused by an unknown `kid`.
const UNKNOWN_KID_RELOAD: i64 = 5_000;
/// The algorithms that sign, each with a live key.
pub(crate) const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

pub(crate) struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pub key: EncodingKey,
}

pub(crate) struct KeySet {
    signing: Vec<SigningKey>,
    published: JwkSet,
    verifying: HashMap<String, (Algorithm, DecodingKey)>,
    loaded_at: UnixMillis,
}

impl KeySet {
    /// The live key for `alg`.
    pub fn signer(&self, alg: Algorithm) -> Result<&SigningKey, OidcError> {
        self.signing
            .iter()
            .find(|k| k.alg == alg)
            .ok_or_else(|| OidcError::Crypto(format!("no live {alg:?} signing key")))
    }

    pub fn verifier(&self, kid: &str) -> Option<&(Algorithm, DecodingKey)> {
        self.verifying.get(kid)
    }
}

#[derive(Default)]
pub(crate) struct KeyCache {
    current: tokio::sync::RwLock<Option<Arc<KeySet>>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").finish_non_exhaustive()
    }
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        _ => "RS256",
    }
}

fn parse_alg(name: &str) -> Option<Algorithm> {
    match name {
        "ES256" => Some(Algorithm::ES256),
        "RS256" => Some(Algorithm::RS256),
        _ => None,
    }
}

/// A new private key, PKCS#8 DER, from aws-lc-rs.
fn generate(alg: Algorithm) -> Result<Vec<u8>, OidcError> {
    use aws_lc_rs::encoding::AsDer;
    let failed =
        |e: aws_lc_rs::error::Unspecified| OidcError::Crypto(format!("key generation: {e}"));
    match alg {
        Algorithm::ES256 => {
            let doc = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &aws_lc_rs::rand::SystemRandom::new(),
            )
            .map_err(failed)?;
            Ok(doc.as_ref().to_vec())
        }
        _ => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(failed)?;
            let der = pair.as_der().map_err(failed)?;
            Ok(der.as_ref().to_vec())
        }
    }
}

/// The signing key of a PKCS#8 document. jsonwebtoken's aws-lc backend reads RSA keys as
/// PKCS#1, the document's inner `privateKey`, taken out by the `pkcs8` crate.
fn encoding_key(alg: Algorithm, pkcs8_der: &[u8]) -> Result<EncodingKey, OidcError> {
    let bad = |e: String| OidcError::Crypto(format!("a stored signing key does not load: {e}"));
    match alg {
        Algorithm::ES256 => Ok(EncodingKey::from_ec_der(pkcs8_der)),
        _ => {
            let info =
                pkcs8::PrivateKeyInfoRef::try_from(pkcs8_der).map_err(|e| bad(e.to_string()))?;
            Ok(EncodingKey::from_rsa_der(info.private_key.as_bytes()))
        }
    }
}

/// The public JWK of a key, named by its RFC 7638 thumbprint.
fn public_jwk(alg: Algorithm, key: &EncodingKey) -> Result<Jwk, OidcError> {
    let mut jwk = Jwk::from_encoding_key(key, alg)
        .map_err(|e| OidcError::Crypto(format!("public key: {e}")))?;
    let kid = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| OidcError::Crypto(format!("key thumbprint: {e}")))?;
    jwk.common.key_id = Some(kid);
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

impl Provider {
    fn key_sealing_key(&self) -> [u8; 32] {
        carepost_identity::secrets::derive_key(&self.config.master_key, "oidc signing keys")
    }

    /// New keys for every algorithm, as rows ready to insert.
    fn new_key_rows(&self, now: UnixMillis) -> Result<Vec<OidcKeyRow>, OidcError> {
        let mut rows = Vec::new();
        for alg in ALGORITHMS {
            let der = generate(alg)?;
            let jwk = public_jwk(alg, &encoding_key(alg, &der)?)?;
            let kid = jwk.common.key_id.clone().unwrap_or_default();
            let sealed = carepost_identity::secrets::seal(
                &self.key_sealing_key(),
                &*self.rng,
                &format!("oidc-key:{kid}"),
                &der,
            )?;
            rows.push(OidcKeyRow {
                id: 0,
                kid,
                alg: alg_name(alg).to_string(),
                private_key: sealed,
                public_jwk: serde_json::to_string(&jwk)
                    .map_err(|e| OidcError::Crypto(e.to_string()))?,
                created_at: now,
                retired_at: None,
                published_until: None,
            });
        }
        Ok(rows)
    }

    /// Makes the first keys if there are none that sign (first start).
    pub(crate) async fn ensure_keys(&self) -> Result<(), OidcError> {
        let rows = self.store.read().await?.list_oidc_keys().await?;
        let live = |alg: Algorithm| {
            rows.iter()
                .any(|r| r.retired_at.is_none() && r.alg == alg_name(alg))
        };
        if ALGORITHMS.iter().all(|a| live(*a)) {
            return Ok(());
        }
        self.replace_keys(&Actor::system(), "first start").await?;
        Ok(())
    }

    /// `carepost oidc rotate-keys`: new keys sign from now on; the old ones stay published
    /// until the tokens they signed have expired. Returns the new key ids.
    pub async fn rotate_keys(&self, actor: &Actor) -> Result<Vec<String>, OidcError> {
        self.directory
            .require(actor, Permission::ManageApps, "oidc-keys")
            .await?;
        self.replace_keys(actor, "rotation").await
    }

    async fn replace_keys(&self, actor: &Actor, why: &str) -> Result<Vec<String>, OidcError> {
        let now = self.now();
        let rows = self.new_key_rows(now)?;
        // The old keys verify what they signed: the longest-lived of those is an ID or access
        // token, plus a margin for clocks.
        let keep = now.plus(self.lifetimes.access_token + Duration::from_secs(300));
        let mut tx = self.store.begin().await?;
        let retired = tx.retire_oidc_keys(now, keep).await?;
        for r in &rows {
            tx.insert_oidc_key(r).await?;
        }
        let kids: Vec<String> = rows.iter().map(|r| r.kid.clone()).collect();
        let mut event = NewEvent::success(
            now,
            &actor.who,
            action::OIDC_KEYS_ROTATE,
            "oidc-keys".to_string(),
        )
        .with_details(json!({ "why": why, "new": kids, "retired": retired }));
        event.source = actor.source.clone();
        tx.append_audit(&event).await?;
        tx.commit().await?;
        *self.keys.current.write().await = None;
        Ok(kids)
    }

    async fn load_keys(&self) -> Result<Arc<KeySet>, OidcError> {
        let now = self.now();
        let rows = self.store.read().await?.list_oidc_keys().await?;
        let mut signing = Vec::new();
        let mut published = Vec::new();
        let mut verifying = HashMap::new();
        for r in rows {
            let Some(alg) = parse_alg(&r.alg) else {
                continue;
            };
            if r.published_until.is_some_and(|t| t <= now) {
                continue;
            }
            let jwk: Jwk = serde_json::from_str(&r.public_jwk)
                .map_err(|e| OidcError::Crypto(format!("stored JWK {}: {e}", r.kid)))?;
            let decoding = DecodingKey::from_jwk(&jwk)
                .map_err(|e| OidcError::Crypto(format!("stored JWK {}: {e}", r.kid)))?;
            verifying.insert(r.kid.clone(), (alg, decoding));
            published.push(jwk);
            // Rows come newest first: the first live key of each algorithm signs.
            if r.retired_at.is_none() && !signing.iter().any(|k: &SigningKey| k.alg == alg) {
                let der = carepost_identity::secrets::open(
                    &self.key_sealing_key(),
                    &format!("oidc-key:{}", r.kid),
                    &r.private_key,
                )?;
                signing.push(SigningKey {
                    kid: r.kid.clone(),
                    alg,
                    key: encoding_key(alg, &der)?,
                });
            }
        }
        Ok(Arc::new(KeySet {
            signing,
            published: JwkSet { keys: published },
            verifying,
            loaded_at: now,
        }))
    }

    /// The keys, from the cache while it is fresh.
    pub(crate) async fn key_set(&self) -> Result<Arc<KeySet>, OidcError> {
        let now = self.now();
        if let Some(k) = self.keys.current.read().await.as_ref()
            && now.0 - k.loaded_at.0 < RELOAD_EVERY
        {
            return Ok(k.clone());
        }
        let fresh = self.load_keys().await?;
        *self.keys.current.write().await = Some(fresh.clone());
        Ok(fresh)
    }

    /// The key that verifies `kid`; reloads once if no cached key has that name.
    pub(crate) async fn verifying_key(
        &self,
        kid: &str,
    ) -> Result<Option<(Algorithm, DecodingKey)>, OidcError> {
        let set = self.key_set().await?;
        if let Some(k) = set.verifier(kid) {
            return Ok(Some(k.clone()));
        }
        if self.now().0 - set.loaded_at.0 < UNKNOWN_KID_RELOAD {
            return Ok(None);
        }
        let fresh = self.load_keys().await?;
        *self.keys.current.write().await = Some(fresh.clone());
        Ok(fresh.verifier(kid).cloned())
    }

    /// The JWKS document: every published public key.
    pub async fn jwks(&self) -> Result<JwkSet, OidcError> {
        Ok(self.key_set().await?.published.clone())
    }
}
