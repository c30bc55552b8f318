//! The browser's side of a session: cookies (`__Host-` prefixed, Secure, HttpOnly,
//! SameSite=Strict), the extractor that turns the session cookie into the signed-in account,
//! and the peer address the server records for each connection.

use super::ApiError;
use crate::{Peer, WebState};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use carepost_identity::Session;
use cookie::{Cookie, SameSite};
use std::net::IpAddr;

pub const SESSION_COOKIE: &str = "__Host-carepost-session";
pub const MFA_COOKIE: &str = "__Host-carepost-mfa";
/// See `session_cookies`.
pub const SSO_COOKIE: &str = "__Host-carepost-sso";

/// The value of cookie `name` in the request.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| Cookie::split_parse(v.to_string()))
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: `Some(value)` with a lifetime in seconds, or `None` (a cookie that
/// ends with the browser, as the session cookie does on a shared workstation), or a value of
/// `None` to clear the cookie.
pub fn set_cookie(
    name: &'static str,
    value: Option<&str>,
    max_age_secs: Option<i64>,
) -> HeaderValue {
    cookie_with(name, value, max_age_secs, SameSite::Strict)
}

/// The session's cookies: the SameSite=Strict one every page and the API read, and its
/// SameSite=Lax twin, which a browser also sends when another site's link brings it to
/// `/oauth2/authorize` (a Strict cookie would not come, and single sign-on would ask for the
/// password each time). Only the authorization endpoint reads the twin, and that endpoint
/// answers only to registered redirect URIs. `None` clears both.
pub fn session_cookies(token: Option<&str>) -> [HeaderValue; 2] {
    [
        set_cookie(SESSION_COOKIE, token, None),
        cookie_with(SSO_COOKIE, token, None, SameSite::Lax),
    ]
}

fn cookie_with(
    name: &'static str,
    value: Option<&str>,
    max_age_secs: Option<i64>,
    same_site: SameSite,
) -> HeaderValue {
    let mut c = Cookie::new(name, value.unwrap_or("").to_string());
    c.set_path("/");
    c.set_secure(true);
    c.set_http_only(true);
    c.set_same_site(same_site);
    match (value, max_age_secs) {
        (None, _) => c.set_max_age(cookie::time::Duration::ZERO),
        (Some(_), Some(secs)) => c.set_max_age(cookie::time::Duration::seconds(secs)),
        (Some(_), None) => {}
    }
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The account whose sign-in waits for its second step, from the pending cookie (signed, bound
/// to the password's last change, five minutes).
pub async fn pending_account(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<Option<carepost_identity::Pending>, carepost_identity::IdentityError> {
    let Some(p) = cookie_value(headers, MFA_COOKIE) else {
        return Ok(None);
    };
    state.directory.check_pending_second_factor(&p).await
}

/// Where the request came from, as the server recorded it for the connection.
pub fn source(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<Peer>().map(|p| p.0.ip())
}

/// The signed-in account behind the session cookie, with nothing left to do: its password
/// need not be changed and no required second factor is overdue. Handlers take this by
/// default; only the few that resolve a restriction take `RestrictedUser`.
#[derive(Debug, Clone)]
pub struct User {
    pub session: Session,
    pub source: Option<IpAddr>,
}

/// A signed-in account that may still owe a password change or an MFA enrollment.
#[derive(Debug, Clone)]
pub struct RestrictedUser(pub User);

impl FromRequestParts<WebState> for RestrictedUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let not_signed_in = || ApiError::unauthorized("not_signed_in", "sign in first");
        let token = cookie_value(&parts.headers, SESSION_COOKIE).ok_or_else(not_signed_in)?;
        let session = state
            .directory
            .resume_session(&token)
            .await?
            .ok_or_else(not_signed_in)?;
        Ok(RestrictedUser(User {
            session,
            source: source(parts),
        }))
    }
}

impl FromRequestParts<WebState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let RestrictedUser(user) =
            <RestrictedUser as FromRequestParts<WebState>>::from_request_parts(parts, state)
                .await?;
        let id = user.session.account;
        if state.directory.own_password_state(id).await?.must_change {
            return Err(ApiError::forbidden(
                "password_change_required",
                "your password is temporary or expired: change it first (POST /api/v1/me/password)",
            ));
        }
        if matches!(
            state.directory.second_factor_state(id).await?,
            carepost_identity::SecondFactor::EnrollmentRequired { overdue: true, .. }
        ) {
            return Err(ApiError::forbidden(
                "mfa_enrollment_required",
                "your account must use two-factor sign-in: enroll an authenticator first (POST /api/v1/me/totp)",
            ));
        }
        Ok(user)
    }
}

/// The connection's source address, for handlers that do not need a session.
#[derive(Debug, Clone, Copy)]
pub struct Source(pub Option<IpAddr>);

impl FromRequestParts<WebState> for Source {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &WebState) -> Result<Self, ApiError> {
        Ok(Source(source(parts)))
    }
}

impl OptionalFromRequestParts<WebState> for RestrictedUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Option<Self>, ApiError> {
        match <RestrictedUser as FromRequestParts<WebState>>::from_request_parts(parts, state).await
        {
            Ok(u) => Ok(Some(u)),
            Err(_) => Ok(None),
        }
    }
}

/// `Json` whose rejections (bad JSON, wrong fields, wrong content type) answer in the API's
/// own error format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(e) => Err(ApiError::new(e.status(), "invalid_request", e.body_text())),
        }
    }
}

/// `Path` whose rejections (an id that is not a number, or does not fit) answer in the API's
/// own error format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match <axum::extract::Path<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
        {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(e) => Err(ApiError::new(e.status(), "invalid_request", e.body_text())),
        }
    }
}

/// `Query` whose rejections answer in the API's own error format.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match <axum::extract::Query<T> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
        {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(ApiError::new(e.status(), "invalid_request", e.body_text())),
        }
    }
}

/// Who an administrative request acts as: an API token (`Authorization: Bearer cpt_...`) or
/// the signed-in account with its roles.
#[derive(Debug, Clone)]
pub struct Caller(pub carepost_identity::Actor);

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

impl FromRequestParts<WebState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        if let Some(token) = bearer(&parts.headers) {
            let actor = state
                .directory
                .actor_for_token(token, source(parts))
                .await?
                .ok_or_else(|| {
                    ApiError::unauthorized(
                        "invalid_token",
                        "the API token is unknown, revoked or expired",
                    )
                })?;
            return Ok(Caller(actor));
        }
        let user = <User as FromRequestParts<WebState>>::from_request_parts(parts, state).await?;
        // A change made as a person with a role needs a recent proof of their second factor.
        if !matches!(
            parts.method,
            axum::http::Method::GET | axum::http::Method::HEAD
        ) {
            super::step_up::require_step_up(state, &user.session).await?;
        }
        let actor = state
            .directory
            .actor_for(user.session.account, &user.session.address, user.source)
            .await?;
        Ok(Caller(actor))
    }
}
