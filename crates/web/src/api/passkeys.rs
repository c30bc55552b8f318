//! Passkeys in the API: registering one (the password first, then the browser's
//! `navigator.credentials.create()` answer), listing and removing them, and the challenge for
//! the second step of a sign-in. The options are WebAuthn's JSON as webauthn-rs writes it: a
//! browser page passes `options.publicKey` (with its base64url fields decoded) to the
//! credentials API.

use super::ApiError;
use super::session::{ApiJson, ApiPath, RestrictedUser, Source, User, pending_account};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use carepost_identity::{PasskeyInfo, Protocol, RegisterPublicKeyCredential, SignIn};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A WebAuthn ceremony: `options` goes to `navigator.credentials.create()` or `.get()` as
/// WebAuthn defines them, and the browser's answer comes back with `ceremony`. (The answer's
/// type is `carepost_identity::PasskeyChallenge`; this describes it for the document.)
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ceremony {
    ceremony: String,
    options: WebAuthnOptions,
}

/// WebAuthn's own options object.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebAuthnOptions {
    #[serde(rename = "publicKey")]
    public_key: Value,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyRegistered {
    passkey: PasskeyInfo,
    /// With the account's first second factor, ten recovery codes (shown once).
    recovery_codes: Option<Vec<String>>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Passkeys {
    passkeys: Vec<PasskeyInfo>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Confirm {
    password: String,
}

/// Starts a registration; the password is asked again, as for every new secret.
#[utoipa::path(
    post,
    path = "/me/passkeys/registration",
    tag = "me",
    summary = "Start a passkey registration",
    request_body = Confirm,
    responses(
        (status = 200, description = "{ceremony, options}", body = Ceremony),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn begin_registration(
    State(state): State<WebState>,
    user: RestrictedUser,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<Json<Value>, ApiError> {
    let user = super::me::enrolling(&state, user).await?;
    super::me::confirm(&state, &user, &body.password).await?;
    let challenge = state
        .directory
        .begin_passkey_registration(user.session.account)
        .await?;
    Ok(Json(json!(challenge)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Registration {
    ceremony: String,
    name: String,
    /// The browser's answer to `navigator.credentials.create()` as WebAuthn JSON.
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

#[utoipa::path(
    post,
    path = "/me/passkeys",
    tag = "me",
    summary = "Finish a passkey registration",
    request_body = Registration,
    responses(
        (status = 201, description = "done", body = PasskeyRegistered),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn finish_registration(
    State(state): State<WebState>,
    user: RestrictedUser,
    ApiJson(body): ApiJson<Registration>,
) -> Result<axum::response::Response, ApiError> {
    let user = super::me::enrolling(&state, user).await?;
    let (passkey, codes) = state
        .directory
        .finish_passkey_registration(
            user.session.account,
            &body.ceremony,
            &body.name,
            &body.credential,
        )
        .await?;
    // The key was just used with user verification: the session counts as opened with it.
    let cookies = super::me::note_factor(&state, &user.session, &["pop", "mfa"]).await;
    let res = (
        StatusCode::CREATED,
        Json(PasskeyRegistered {
            passkey,
            recovery_codes: codes,
        }),
    )
        .into_response();
    Ok(super::me::with_cookies(res, cookies))
}

#[utoipa::path(
    get,
    path = "/me/passkeys",
    tag = "me",
    summary = "Passkeys",
    responses(
        (status = 200, description = "done", body = Passkeys),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(State(state): State<WebState>, user: User) -> Result<Json<Passkeys>, ApiError> {
    let list = state.directory.list_passkeys(user.session.account).await?;
    Ok(Json(Passkeys { passkeys: list }))
}

/// Removes a passkey; the password is asked again, so a left-open session cannot strip
/// someone's second factors.
#[utoipa::path(
    delete,
    path = "/me/passkeys/{id}",
    tag = "me",
    summary = "Remove a passkey",
    request_body = Confirm,
    params(("id" = i64, Path, description = "passkey id")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    user: User,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<StatusCode, ApiError> {
    super::step_up::require_step_up(&state, &user.session).await?;
    state.directory.may_change_factors(&user.session).await?;
    super::me::confirm(&state, &user, &body.password).await?;
    state
        .directory
        .remove_passkey(user.session.account, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The challenge for the second step of a sign-in, for the account of the pending cookie.
#[utoipa::path(
    post,
    path = "/auth/passkey-challenge",
    tag = "auth",
    summary = "Passkey challenge for the second step",
    responses(
        (status = 200, description = "{ceremony, options}", body = Ceremony),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn sign_in_challenge(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let expired = || ApiError::unauthorized("sign_in_expired", "sign in with your password again");
    let pending = pending_account(&state, &headers)
        .await?
        .ok_or_else(expired)?;
    let attempt = SignIn {
        login: pending.login(),
        secret: "",
        protocol: Protocol::Web,
        source: source.0,
    };
    match state
        .directory
        .begin_pending_passkey(&pending, &attempt)
        .await?
    {
        Some(challenge) => Ok(Json(json!(challenge))),
        // No passkey, the account is locked, or the network is paused: the same answer.
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_passkey",
            "no passkey can be used now: use your authenticator app or a recovery code",
        )),
    }
}
