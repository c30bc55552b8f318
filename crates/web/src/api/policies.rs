//! The password, lockout, MFA and session policies as set while the server runs: each key in
//! force, the config file's value, and whether it is set here; IT administrators change them.

use super::ApiError;
use super::session::{ApiJson, ApiPath, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use carepost_identity::PolicySection;
use serde_json::{Map, Value};

#[utoipa::path(
    get,
    path = "/policies",
    tag = "directory",
    summary = "The policies that can be changed here, each key with its value in force and the config file's",
    responses(
        (status = 200, description = "done", body = [PolicySection]),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<PolicySection>>, ApiError> {
    Ok(Json(state.directory.policy_sections(&actor).await?))
}

#[utoipa::path(
    patch,
    path = "/policies/{section}",
    tag = "directory",
    summary = "Change keys of a policy (password, lockout, mfa, sessions); null gives a key back to the config file",
    params(("section" = String, Path)),
    request_body(content = Object, description = "key to value, as the config file writes them: {\"min_length\": 14, \"max_age\": \"180d\"}"),
    responses(
        (status = 200, description = "the section as now in force", body = PolicySection),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn change(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(section): ApiPath<String>,
    ApiJson(changes): ApiJson<Map<String, Value>>,
) -> Result<Json<PolicySection>, ApiError> {
    Ok(Json(
        state
            .directory
            .change_policy(&actor, &section, &changes)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/policies/{section}",
    tag = "directory",
    summary = "Give every key of a policy back to the config file",
    params(("section" = String, Path)),
    responses(
        (status = 200, description = "the section as now in force", body = PolicySection),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(section): ApiPath<String>,
) -> Result<Json<PolicySection>, ApiError> {
    Ok(Json(state.directory.reset_policy(&actor, &section).await?))
}
