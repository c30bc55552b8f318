//! The spray defence for the helpdesk: unlocking an account (with what it cleared), the source
//! networks paused now, the networks one account failed from, and lifting a network's pause.

use super::ApiError;
use super::session::{ApiJson, ApiPath, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use carepost_identity::{SourceState, Unlocked};
use serde::{Deserialize, Serialize};

#[utoipa::path(
    post,
    path = "/accounts/{address}/unlock",
    tag = "accounts",
    summary = "Clear an account's locks and failed sign-ins; says what there was, and which networks it failed from are paused",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "what was cleared", body = Unlocked),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn unlock(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Unlocked>, ApiError> {
    Ok(Json(state.directory.unlock(&actor, &address).await?))
}

#[utoipa::path(
    get,
    path = "/sources",
    tag = "accounts",
    summary = "Source networks whose sign-ins are paused now, and why (helpdesk, IT)",
    responses(
        (status = 200, description = "paused networks", body = [SourceState]),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn paused(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Vec<SourceState>>, ApiError> {
    Ok(Json(state.directory.paused_sources(&actor).await?))
}

#[utoipa::path(
    get,
    path = "/accounts/{address}/sources",
    tag = "accounts",
    summary = "Networks the account failed to sign in from lately, paused or not",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "networks", body = [SourceState]),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn of_account(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Vec<SourceState>>, ApiError> {
    Ok(Json(
        state.directory.account_sources(&actor, &address).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Network {
    /// As the lists write it: `10.1.2.0/24`, `2001:db8:1:2::/64`.
    network: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    network: String,
    /// Failing logins forgotten; 0: there was nothing to clear.
    failing_logins: u64,
}

#[utoipa::path(
    post,
    path = "/sources/clear",
    tag = "accounts",
    summary = "Lift a network's pause: its failed sign-ins are forgotten (helpdesk, IT)",
    request_body = Network,
    responses(
        (status = 200, description = "cleared", body = Cleared),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn clear(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(n): ApiJson<Network>,
) -> Result<Json<Cleared>, ApiError> {
    let failing_logins = state.directory.clear_source(&actor, &n.network).await?;
    Ok(Json(Cleared {
        network: n.network,
        failing_logins,
    }))
}
