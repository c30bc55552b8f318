//! carepost as the OpenID Connect provider of the organization's applications, and the OAuth
//! authorization server of its mail clients: signing keys (ES256 and RS256, sealed at rest,
//! rotated), registered clients, the authorization code flow with PKCE, refresh tokens that
//! rotate and betray their reuse, client credentials, revocation, introspection, userinfo
//! claims and logout. Access tokens are JWTs (RFC 9068) that name their grant, so that revoking
//! a grant, or an account leaving, stops them at once wherever they are checked.
//!
//! This crate knows no HTTP: the web crate turns requests into the calls here, and the mail
//! protocols call `verify_access_token` for SASL OAUTHBEARER and XOAUTH2. People sign in
//! through the portal; what this crate sees of that is a `SignedInSession`.

mod authorize;
mod claims;
mod clients;
mod error;
mod keys;
mod logout;
mod own;
mod tokens;
mod verify;

pub use authorize::{AuthorizationRequest, Decision, ValidRequest};
pub use claims::{ACR_MFA, ACR_PWD, SCOPES_SUPPORTED};
pub use clients::{ClientCredentials, ClientInfo, MAIL_CLIENT_ID, NewClient};
pub use error::{AuthorizeError, OidcError};
pub use logout::{LogoutPlan, LogoutRequest};
pub use own::GrantInfo;
pub use tokens::{TokenRequest, TokenResponse};
pub use verify::{Introspection, TokenSubject};

use carepost_config::Config;
use carepost_identity::Directory;
use carepost_store::Store;
use carepost_types::{AccountId, Clock, Rng, UnixMillis};
use std::sync::Arc;
use std::time::Duration;

/// How long what this provider issues lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Access and ID tokens.
    pub access_token: Duration,
    /// Authorization codes: one redirect's worth.
    pub code: Duration,
    /// A refresh token unused this long expires.
    pub refresh_idle: Duration,
    /// A grant with `offline_access` (a mail client) lives this long from its sign-in.
    pub offline_grant: Duration,
}

impl Lifetimes {
    pub fn from_config(config: &Config) -> Lifetimes {
        Lifetimes {
            access_token: config.oidc.access_token_lifetime,
            code: Duration::from_secs(60),
            refresh_idle: config.oidc.refresh_token_idle,
            offline_grant: config.oidc.offline_lifetime,
        }
    }
}

/// The provider, bound to one store and one configuration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Provider {
    pub(crate) store: Store,
    pub(crate) directory: Directory,
    pub(crate) config: Arc<Config>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Rng>,
    pub(crate) lifetimes: Lifetimes,
    pub(crate) keys: Arc<keys::KeyCache>,
}

/// The portal session a browser brings to `/authorize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedInSession {
    pub id: i64,
    pub account: AccountId,
    pub address: String,
    /// RFC 8176 methods of the sign-in (`pwd`, `otp`, `hwk`, `mfa`, ...).
    pub amr: Vec<String>,
    /// When the person signed in.
    pub auth_time: UnixMillis,
}

impl Provider {
    pub fn new(
        store: Store,
        directory: Directory,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Rng>,
    ) -> Provider {
        Provider {
            lifetimes: Lifetimes::from_config(&config),
            store,
            directory,
            config,
            clock,
            rng,
            keys: Arc::new(keys::KeyCache::default()),
        }
    }

    /// The issuer: the portal's public URL, without a trailing slash.
    pub fn issuer(&self) -> String {
        self.config
            .web
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    pub(crate) fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// A fresh random token of 32 bytes, base64url.
    pub(crate) fn random_token(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.rng.bytes(32))
    }

    /// The keyed hash that stores a high-entropy secret (a code, a refresh token, a client
    /// secret) so that a copy of the database alone cannot present it.
    pub(crate) fn secret_hash(&self, purpose: &str, secret: &str) -> String {
        use carepost_identity::secrets::{derive_key, keyed_hash};
        keyed_hash(&derive_key(&self.config.master_key, purpose), secret)
    }

    /// Forgets what ended more than a day ago: codes, refresh tokens, grants (a client acting
    /// for itself makes one per token). Returns how many grants went.
    pub async fn purge_expired(&self) -> Result<u64, OidcError> {
        use carepost_store::OidcRepo;
        let before = UnixMillis(self.now().0 - 86_400_000);
        let mut tx = self.store.begin_bookkeeping().await?;
        tx.purge_oidc_codes(before).await?;
        let n = tx.purge_oidc_grants(before).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Prepares the provider at start: signing keys exist, and so does the mail client.
    pub async fn start(&self) -> Result<(), OidcError> {
        self.ensure_keys().await?;
        self.ensure_mail_client().await?;
        Ok(())
    }
}
