//! The rest of what the console does to one account: rename, revoke its app passwords, and
//! its administrative roles (IT).

use super::ApiError;
use super::session::{ApiJson, ApiPath, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_identity::{Account, IdentityError, Rename, Role};
use serde::{Deserialize, Serialize};

/// A name change: absent parts stay, an empty middle or preferred name is removed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewName {
    first: Option<String>,
    middle: Option<String>,
    last: Option<String>,
    preferred: Option<String>,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/rename",
    tag = "accounts",
    summary = "Change names; a new address from the policy becomes primary and the old one stays as an alias (IT)",
    params(("address" = String, Path, description = "primary address")),
    request_body = NewName,
    responses(
        (status = 200, description = "the account as now", body = Account),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn rename(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<NewName>,
) -> Result<Json<Account>, ApiError> {
    let change = Rename {
        first: b.first,
        middle: b.middle,
        last: b.last,
        preferred: b.preferred,
    };
    Ok(Json(
        state.directory.rename(&actor, &address, &change).await?,
    ))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: u64,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/revoke-app-passwords",
    tag = "accounts",
    summary = "Revoke every app password of an account (IT)",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "how many were revoked", body = Revoked),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn revoke_app_passwords(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = state
        .directory
        .revoke_app_passwords_of(&actor, &address)
        .await?;
    Ok(Json(Revoked { revoked }))
}

/// An administrative role; a supervisor's names the department (and those within it) it
/// covers.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HeldRole {
    /// it-admin, helpdesk, supervisor, security-officer or communications.
    role: String,
    department: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Roles {
    roles: Vec<HeldRole>,
}

fn role(name: &str) -> Result<Role, IdentityError> {
    Role::named(name)
}

#[utoipa::path(
    get,
    path = "/accounts/{address}/roles",
    tag = "accounts",
    summary = "The administrative roles an account holds",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = Roles),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn roles(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Roles>, ApiError> {
    let roles = state
        .directory
        .roles_of(&actor, &address)
        .await?
        .into_iter()
        .map(|(role, department)| HeldRole { role, department })
        .collect();
    Ok(Json(Roles { roles }))
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/roles",
    tag = "accounts",
    summary = "Grant an administrative role (IT)",
    params(("address" = String, Path, description = "primary address")),
    request_body = HeldRole,
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn grant_role(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<HeldRole>,
) -> Result<StatusCode, ApiError> {
    let r = role(&b.role)?;
    state
        .directory
        .grant_role(&actor, &address, &r, b.department.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/accounts/{address}/roles/{role}",
    tag = "accounts",
    summary = "Revoke an administrative role (IT; never the last IT administrator's)",
    params(
        ("address" = String, Path, description = "primary address"),
        ("role" = String, Path),
    ),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn revoke_role(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath((address, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let r = role(&name)?;
    state.directory.revoke_role(&actor, &address, &r).await?;
    Ok(StatusCode::NO_CONTENT)
}
