//! Calendar sharing and delegation over the API, what the portal's `/account/calendars` page
//! does: list whom one's calendars are shared with and who one's assistants are, share a
//! calendar with a colleague or a department, end a share (its owner, or its grantee
//! leaving it), name or remove an assistant, step down as someone's. Every change is audited
//! by the calendar crate, as from the portal and Apple clients.

use super::ApiError;
use super::session::{ApiJson, ApiPath, User};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_calendar::{Access, Grantee, ShareInfo};
use carepost_identity::Session;
use serde::{Deserialize, Serialize};

fn who(s: &Session) -> carepost_audit::Actor {
    carepost_audit::Actor::Account {
        id: s.account,
        address: s.address.clone(),
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sharing {
    /// Whom the caller's calendars are shared with.
    shares: Vec<ShareInfo>,
    /// The caller's assistants, by address.
    delegates: Vec<String>,
    /// Those whose assistant the caller is.
    delegating: Vec<String>,
}

#[utoipa::path(
    get,
    path = "/me/calendar-sharing",
    tag = "calendar",
    summary = "Whom the caller's calendars are shared with, and their assistants",
    responses(
        (status = 200, description = "done", body = Sharing),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(State(state): State<WebState>, user: User) -> Result<Json<Sharing>, ApiError> {
    let account = user.session.account;
    let shares = state.calendars.shares(account).await?;
    let (delegates, delegating) = state.calendars.delegations(account).await?;
    Ok(Json(Sharing {
        shares,
        delegates: delegates.into_iter().map(|d| d.1).collect(),
        delegating: delegating.into_iter().map(|d| d.1).collect(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewShare {
    /// The calendar's path segment (`calendar`, `tasks`...).
    calendar: String,
    /// A colleague's address, or `department:NAME` (that department and those below it).
    with: String,
    /// `read` or `write`.
    access: String,
}

#[utoipa::path(
    post,
    path = "/me/calendar-sharing/shares",
    tag = "calendar",
    summary = "Share a calendar with a colleague or a department (again: with the new access)",
    request_body = NewShare,
    responses(
        (status = 201, description = "done", body = ShareInfo),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn share(
    State(state): State<WebState>,
    user: User,
    ApiJson(b): ApiJson<NewShare>,
) -> Result<(StatusCode, Json<ShareInfo>), ApiError> {
    let access = Access::parse(&b.access)?;
    let s = &user.session;
    let info = state
        .calendars
        .share(
            &who(s),
            s.account,
            &b.calendar,
            &Grantee::parse(&b.with),
            access,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

#[utoipa::path(
    delete,
    path = "/me/calendar-sharing/shares/{id}",
    tag = "calendar",
    summary = "End a share of one's own calendar, or leave one shared with oneself",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn unshare(
    State(state): State<WebState>,
    user: User,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let s = &user.session;
    state.calendars.unshare(&who(s), s.account, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewDelegate {
    /// The assistant's address.
    address: String,
}

#[utoipa::path(
    post,
    path = "/me/calendar-sharing/delegates",
    tag = "calendar",
    summary = "Make a colleague an assistant who manages one's calendars and answers invitations (after a recent step-up when one has a second factor)",
    request_body = NewDelegate,
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn add_delegate(
    State(state): State<WebState>,
    user: User,
    ApiJson(b): ApiJson<NewDelegate>,
) -> Result<StatusCode, ApiError> {
    // An assistant may change every calendar of the caller's and answer for them.
    super::step_up::require_step_up(&state, &user.session).await?;
    let s = &user.session;
    state
        .calendars
        .add_delegate(&who(s), s.account, &b.address)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/me/calendar-sharing/delegates/{address}",
    tag = "calendar",
    summary = "Remove one of one's assistants",
    params(("address" = String, Path)),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn remove_delegate(
    State(state): State<WebState>,
    user: User,
    ApiPath(address): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let delegate = state.calendars.account_by_address(&address).await?;
    let s = &user.session;
    state
        .calendars
        .remove_delegate(&who(s), s.account, delegate)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/me/calendar-sharing/delegating/{address}",
    tag = "calendar",
    summary = "Step down as someone's assistant",
    params(("address" = String, Path)),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn leave(
    State(state): State<WebState>,
    user: User,
    ApiPath(address): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let owner = state.calendars.account_by_address(&address).await?;
    let s = &user.session;
    state
        .calendars
        .remove_delegate(&who(s), owner, s.account)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
