//! Who a DAV request comes from. Calendar and contacts clients send their credentials with
//! every request (HTTP Basic with an app password, or an OAuth bearer token as IMAP takes),
//! so each is checked by the same sign-in service as IMAP (lockout, MFA rules, app-password
//! scopes, audit). A success is remembered for five minutes under a keyed hash of the
//! credentials as they read (scheme, lower-cased login, secret), so that a phone syncing
//! twenty calendars does not cost twenty password hashes; every hit still asks the directory
//! whether the account and that credential are in force (one read, as an open IMAP session
//! does), so a revoked app password or a disabled account stops at once. A refusal is
//! remembered for a minute too: a phone left with a revoked app password then costs its
//! owner one counted failure a minute, not one per request, toward the lockout. Sign-ins
//! that miss the cache are throttled per network by a limiter of their own, so that a ward of
//! phones re-signing-in does not use up the portal's budget.

use crate::WebState;
use axum::http::HeaderMap;
use base64::Engine;
use carepost_identity::{Credential, Protocol, SignIn};
use carepost_types::AccountId;
use carepost_types::UnixMillis;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// How long a verified credential is remembered, in milliseconds.
const REMEMBER_MS: i64 = 300_000;
/// How long a refused one is, in milliseconds.
const REFUSED_MS: i64 = 60_000;
/// Entries kept at most; past it the cache starts over.
const MAX_ENTRIES: usize = 50_000;

/// The signed-in account of a DAV request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavUser {
    pub account: AccountId,
    pub address: String,
}

/// What a credential proved, for the checks at each hit.
#[derive(Debug, Clone)]
struct Proven {
    user: DavUser,
    credential: Credential,
    password_stamp: Option<UnixMillis>,
}

/// What was proven (`None`: a refusal) and until when it counts.
type Entry = (Option<Proven>, i64);

/// Credentials seen lately, by keyed hash: what they proved, or `None` for a refusal, with
/// when the entry stops counting.
#[derive(Debug)]
pub struct DavAuthCache {
    key: Vec<u8>,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    limiter: crate::api::SignInLimiter,
}

impl DavAuthCache {
    /// A cache keyed with `key` (random per process: a hash means nothing elsewhere).
    pub fn new(key: &[u8]) -> DavAuthCache {
        DavAuthCache {
            key: key.to_vec(),
            entries: Mutex::new(HashMap::new()),
            limiter: crate::api::sign_in_limiter(),
        }
    }

    fn digest(&self, canonical: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(canonical.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn get(&self, digest: &[u8; 32], now: i64) -> Option<Option<Proven>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(digest)
            .filter(|(_, until)| *until > now)
            .map(|(p, _)| p.clone())
    }

    fn put(&self, digest: [u8; 32], proven: Option<Proven>, until: i64, now: i64) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            // Expired entries go first; only a cache full of live ones starts over.
            map.retain(|_, (_, u)| *u > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(digest, (proven, until));
    }

    fn forget(&self, digest: &[u8; 32]) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(digest);
    }
}

/// The credentials of an `Authorization` header as they read, whatever the spelling: the
/// cache key, and what to sign in with.
enum Presented {
    Basic { login: String, secret: String },
    Bearer(String),
}

impl Presented {
    fn read(header: &str) -> Option<Presented> {
        let (scheme, value) = header.trim().split_once(' ')?;
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())?;
            let (login, secret) = decoded.split_once(':')?;
            Some(Presented::Basic {
                login: login.trim().to_lowercase(),
                secret: secret.to_string(),
            })
        } else if scheme.eq_ignore_ascii_case("bearer") {
            Some(Presented::Bearer(value.to_string()))
        } else {
            None
        }
    }

    fn canonical(&self) -> String {
        match self {
            Presented::Basic { login, secret } => format!("basic\0{login}\0{secret}"),
            Presented::Bearer(t) => format!("bearer\0{t}"),
        }
    }
}

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRefusal {
    /// No or wrong credentials: 401 with a Basic challenge.
    Unauthorized,
    /// The source network signs in too fast: 429.
    Throttled,
    /// The store failed: 503.
    Unavailable,
}

/// The account the request's `Authorization` header proves.
pub async fn authenticate(
    state: &WebState,
    headers: &HeaderMap,
    source: Option<IpAddr>,
) -> Result<DavUser, AuthRefusal> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(Presented::read)
        .ok_or(AuthRefusal::Unauthorized)?;
    let cache = &state.dav_auth;
    let now = state.clock.now().0;
    let digest = cache.digest(&presented.canonical());
    match cache.get(&digest, now) {
        Some(None) => return Err(AuthRefusal::Unauthorized),
        Some(Some(p)) => {
            match state
                .directory
                .credential_in_force(p.user.account, &p.credential, p.password_stamp)
                .await
            {
                Ok(true) => return Ok(p.user),
                // Revoked, changed or disabled since: signed in afresh below, and refused
                // (and counted) there if it no longer holds.
                Ok(false) => cache.forget(&digest),
                Err(e) => {
                    tracing::warn!(error = %e, "a DAV credential could not be checked");
                    return Err(AuthRefusal::Unavailable);
                }
            }
        }
        None => {}
    }
    // Checked before any password is hashed.
    let network = carepost_identity::network_of(source);
    if cache.limiter.check_key(&network).is_err() {
        return Err(AuthRefusal::Throttled);
    }
    if cache.limiter.len() > 100_000 {
        cache.limiter.retain_recent();
    }
    let result = match &presented {
        Presented::Basic { login, secret } => {
            let attempt = SignIn {
                login,
                secret,
                protocol: Protocol::CalDav,
                source,
            };
            state.directory.sign_in(&attempt).await
        }
        Presented::Bearer(token) => {
            let attempt = SignIn {
                login: "",
                secret: "",
                protocol: Protocol::CalDav,
                source,
            };
            match state.oidc.mail_token(token, source).await {
                Ok(v) => state.directory.token_sign_in(&attempt, v.as_ref()).await,
                Err(e) => Err(e.into()),
            }
        }
    };
    match result {
        Ok(Ok(signed)) if signed.complete => {
            let user = DavUser {
                account: signed.account,
                address: signed.address,
            };
            let proven = Proven {
                user: user.clone(),
                credential: signed.credential,
                password_stamp: signed.password_stamp,
            };
            cache.put(digest, Some(proven), now + REMEMBER_MS, now);
            Ok(user)
        }
        Ok(_) => {
            cache.put(digest, None, now + REFUSED_MS, now);
            Err(AuthRefusal::Unauthorized)
        }
        Err(e) => {
            tracing::warn!(error = %e, "a DAV sign-in could not be checked");
            Err(AuthRefusal::Unavailable)
        }
    }
}
