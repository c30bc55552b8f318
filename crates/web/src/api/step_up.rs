//! The step-up through the API: a signed-in person proves a second factor again (the
//! authenticator's code, a recovery code, or a passkey), after which sensitive requests made
//! with the session are accepted for `sessions.step_up`.

use super::ApiError;
use super::auth::SecondStep;
use super::session::{ApiJson, Source, User};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use carepost_identity::Session;
use serde_json::{Value, json};

/// Refuses a sensitive request made with a session that has not proven its second factor in
/// the last minutes.
pub async fn require_step_up(state: &WebState, s: &Session) -> Result<(), ApiError> {
    if state.directory.step_up_needed(s).await? {
        return Err(ApiError::forbidden(
            "step_up_required",
            "confirm it is you first: POST /api/v1/me/step-up with your authenticator's code or a passkey",
        ));
    }
    Ok(())
}

#[utoipa::path(
    post,
    path = "/me/step-up/passkey-challenge",
    tag = "me",
    summary = "A passkey challenge for the step-up",
    responses(
        (status = 200, description = "{ceremony, options}", body = super::passkeys::Ceremony),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn passkey_challenge(
    State(state): State<WebState>,
    user: User,
) -> Result<Json<Value>, ApiError> {
    match state
        .directory
        .begin_passkey_step_up(&user.session, user.source)
        .await?
    {
        Some(challenge) => Ok(Json(json!(challenge))),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_passkey",
            "no passkey can be used now: use your authenticator app or a recovery code",
        )),
    }
}

#[utoipa::path(
    post,
    path = "/me/step-up",
    tag = "me",
    summary = "Prove a second factor again (step-up)",
    request_body = SecondStep,
    responses(
        (status = 204, description = "confirmed"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn step_up(
    State(state): State<WebState>,
    source: Source,
    user: User,
    ApiJson(step): ApiJson<SecondStep>,
) -> Result<axum::response::Response, ApiError> {
    let s = &user.session;
    let token = match (&step.code, &step.passkey) {
        (Some(code), None) => state.directory.step_up_with_code(s, code, source.0).await?,
        (None, Some(p)) => {
            state
                .directory
                .step_up_with_passkey(s, &p.ceremony, &p.credential, source.0)
                .await?
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid",
                "send either \"code\" or \"passkey\"",
            ));
        }
    };
    let Some(token) = token else {
        return Err(ApiError::unauthorized(
            "invalid_code",
            "that code or passkey is not right, or was used already",
        ));
    };
    // The session goes on under a new token (see `Directory::step_up_with_code`).
    let cookies = super::session::session_cookies(Some(&token)).to_vec();
    Ok(super::me::with_cookies(
        StatusCode::NO_CONTENT.into_response(),
        cookies,
    ))
}
