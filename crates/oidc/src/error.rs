//! Errors in OAuth's own words (RFC 6749 section 5.2): the code a client acts on and a text for
//! the person reading its logs.

use carepost_identity::IdentityError;
use carepost_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A malformed or unsupported request (`invalid_request`, `unsupported_grant_type`,
    /// `invalid_scope`, `unauthorized_client`, ...).
    #[error("{1}")]
    Request(&'static str, String),
    /// The client could not be authenticated (HTTP 401).
    #[error("{0}")]
    InvalidClient(String),
    /// A code, refresh token or grant that is not (or no longer) good.
    #[error("{0}")]
    InvalidGrant(String),
    #[error(transparent)]
    Identity(IdentityError),
    /// Signing or sealing failed: a server fault.
    #[error("{0}")]
    Crypto(String),
}

impl OidcError {
    /// The `error` value of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            OidcError::Request(code, _) => code,
            OidcError::InvalidClient(_) => "invalid_client",
            OidcError::InvalidGrant(_) => "invalid_grant",
            OidcError::Identity(IdentityError::Invalid(_)) => "invalid_request",
            OidcError::Identity(IdentityError::Forbidden(_)) => "access_denied",
            OidcError::Identity(IdentityError::NotFound(_)) => "invalid_request",
            OidcError::Identity(IdentityError::Conflict(_)) => "invalid_request",
            OidcError::Identity(IdentityError::Busy) => "temporarily_unavailable",
            OidcError::Identity(_) | OidcError::Crypto(_) => "server_error",
        }
    }

    pub(crate) fn request(msg: impl Into<String>) -> OidcError {
        OidcError::Request("invalid_request", msg.into())
    }
}

impl From<IdentityError> for OidcError {
    fn from(e: IdentityError) -> Self {
        OidcError::Identity(e)
    }
}

impl From<OidcError> for IdentityError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Identity(e) => e,
            other => IdentityError::Invalid(other.to_string()),
        }
    }
}

impl From<StoreError> for OidcError {
    fn from(e: StoreError) -> Self {
        OidcError::Identity(IdentityError::from(e))
    }
}

/// Why an authorization request cannot go on.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: the person is told, and nothing is
    /// sent to the URI (RFC 6749 section 4.1.2.1).
    Page(String),
    /// The client is known and the URI is its own: the error goes back to it.
    Redirect(String),
    Failed(OidcError),
}

impl From<OidcError> for AuthorizeError {
    fn from(e: OidcError) -> Self {
        AuthorizeError::Failed(e)
    }
}

impl From<IdentityError> for AuthorizeError {
    fn from(e: IdentityError) -> Self {
        AuthorizeError::Failed(e.into())
    }
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        AuthorizeError::Failed(e.into())
    }
}
