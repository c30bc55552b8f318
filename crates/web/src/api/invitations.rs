//! First-sign-in invitations over the API: IT (or a supervisor, for their own staff) issues
//! them for accounts or a department and gets the codes once; the invited person sets their
//! first password with `POST /auth/welcome`.

use super::error::ApiError;
use super::session::{ApiJson, ApiPath, ApiQuery, Caller, Source};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_identity::{InvitationInfo, IssuedInvitation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewInvitations {
    /// These accounts (each active, with no password yet)...
    #[serde(default)]
    accounts: Vec<String>,
    /// ...or every such account of this department and below.
    department: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Issued {
    /// The codes, shown this once.
    invitations: Vec<IssuedInvitation>,
}

#[utoipa::path(
    post,
    path = "/invitations",
    tag = "directory",
    summary = "Issue first-sign-in invitations (codes shown once)",
    request_body = NewInvitations,
    responses(
        (status = 201, description = "issued", body = Issued),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn issue(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<NewInvitations>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let d = &state.directory;
    let mut invitations = match (&b.department, b.accounts.is_empty()) {
        (Some(dept), true) => d.invite_department(&actor, dept).await?,
        (None, false) => d.invite(&actor, &b.accounts).await?,
        _ => {
            return Err(ApiError::bad_request(
                "invalid",
                "give either \"accounts\" or \"department\"",
            ));
        }
    };
    crate::mail_invitations(&state.mail, &actor, &mut invitations).await;
    Ok((StatusCode::CREATED, Json(Issued { invitations })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Which {
    /// One account's invitations (else all, for IT).
    account: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Invitations {
    invitations: Vec<InvitationInfo>,
}

#[utoipa::path(
    get,
    path = "/invitations",
    tag = "directory",
    summary = "Invitations on the record (issued, used, expired, revoked)",
    params(Which),
    responses(
        (status = 200, description = "done", body = Invitations),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<Which>,
) -> Result<Json<Invitations>, ApiError> {
    let invitations = state
        .directory
        .list_invitations(&actor, q.account.as_deref())
        .await?;
    Ok(Json(Invitations { invitations }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: u64,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/invitations/revoke",
    tag = "directory",
    summary = "Revoke an account's unused invitation",
    params(("address" = String, Path, description = "the account")),
    responses(
        (status = 200, description = "done", body = Revoked),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Revoked>, ApiError> {
    let revoked = state.directory.revoke_invitation(&actor, &address).await?;
    Ok(Json(Revoked { revoked }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Welcome {
    login: String,
    code: String,
    new_password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Welcomed {
    /// `password_set`: sign in with it now.
    status: String,
}

#[utoipa::path(
    post,
    path = "/auth/welcome",
    tag = "auth",
    summary = "First sign-in: set the first password with an invitation's code",
    request_body = Welcome,
    responses(
        (status = 200, description = "the password is set", body = Welcomed),
        (status = "4XX", description = "refused (the same answer whatever was wrong; 422 lists the password rules): {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn welcome(
    State(state): State<WebState>,
    source: Source,
    ApiJson(b): ApiJson<Welcome>,
) -> Result<Json<Welcomed>, ApiError> {
    match state
        .directory
        .accept_invitation(&b.login, &b.code, &b.new_password, source.0)
        .await?
    {
        Some(_) => Ok(Json(Welcomed {
            status: "password_set".into(),
        })),
        None => Err(ApiError::unauthorized(
            "invalid_invitation",
            "that address and code do not go together, or the code was used, revoked or has expired",
        )),
    }
}
