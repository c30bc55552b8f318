//! Supervisors' change requests: a supervisor asks IT to rename or move an account of their
//! department; IT approves (the change is made) or declines with a note.

use super::ApiError;
use super::session::{ApiJson, ApiPath, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_identity::{ChangeRequestInfo, RequestedChange};
use serde::Deserialize;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewChangeRequest {
    change: RequestedChange,
    /// What IT can check, such as the HR ticket.
    reason: String,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/change-requests",
    tag = "accounts",
    summary = "Ask IT to rename or move an account (a supervisor of its department)",
    params(("address" = String, Path)),
    request_body = NewChangeRequest,
    responses(
        (status = 201, description = "the request, open", body = ChangeRequestInfo),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<NewChangeRequest>,
) -> Result<(StatusCode, Json<ChangeRequestInfo>), ApiError> {
    let r = state
        .directory
        .request_change(&actor, &address, &b.change, &b.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(
    get,
    path = "/change-requests",
    tag = "accounts",
    summary = "For IT, the open change requests; for others, those they made in the last 90 days",
    responses(
        (status = 200, description = "done", body = [ChangeRequestInfo]),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<ChangeRequestInfo>>, ApiError> {
    Ok(Json(state.directory.change_requests(&actor).await?))
}

#[utoipa::path(
    post,
    path = "/change-requests/{id}/approve",
    tag = "accounts",
    summary = "Approve a change request: the change is made (IT; not one's own request)",
    params(("id" = i64, Path)),
    responses(
        (status = 200, description = "the request, approved", body = ChangeRequestInfo),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn approve(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ChangeRequestInfo>, ApiError> {
    Ok(Json(state.directory.approve_change(&actor, id).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Decline {
    /// Why, for the requester.
    note: String,
}

#[utoipa::path(
    post,
    path = "/change-requests/{id}/decline",
    tag = "accounts",
    summary = "Decline a change request, saying why (IT)",
    params(("id" = i64, Path)),
    request_body = Decline,
    responses(
        (status = 200, description = "the request, declined", body = ChangeRequestInfo),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn decline(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<Decline>,
) -> Result<Json<ChangeRequestInfo>, ApiError> {
    Ok(Json(
        state.directory.decline_change(&actor, id, &b.note).await?,
    ))
}
