//! Rooms and equipment: every signed-in caller may list them (to book one, invite its
//! address); IT administrators, and supervisors for their department subtree, create, change
//! and remove them; their delegates and managers see the bookings and answer those that wait.

use super::ApiError;
use super::session::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_calendar::{Booking, Resource, ResourceSpec};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResourceList {
    resources: Vec<Resource>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookingList {
    bookings: Vec<Booking>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct BookingQuery {
    /// `accepted`, `pending` or `declined`; all when absent.
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct Decline {
    /// What the organizer is told.
    reason: Option<String>,
}

#[utoipa::path(
    get,
    path = "/resources",
    tag = "calendar",
    summary = "Rooms and equipment staff may book",
    responses(
        (status = 200, description = "done", body = ResourceList),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    Caller(_): Caller,
) -> Result<Json<ResourceList>, ApiError> {
    Ok(Json(ResourceList {
        resources: state.resources.list().await?,
    }))
}

#[utoipa::path(
    post,
    path = "/resources",
    tag = "calendar",
    summary = "Create a room or piece of equipment",
    request_body = ResourceSpec,
    responses(
        (status = 201, description = "done", body = Resource),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(spec): ApiJson<ResourceSpec>,
) -> Result<(StatusCode, Json<Resource>), ApiError> {
    let r = state.resources.create(&actor, &spec).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

#[utoipa::path(
    get,
    path = "/resources/{address}",
    tag = "calendar",
    summary = "One resource with its rules and delegates",
    params(("address" = String, Path)),
    responses(
        (status = 200, description = "done", body = Resource),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn show(
    State(state): State<WebState>,
    Caller(_): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Resource>, ApiError> {
    Ok(Json(state.resources.show(&address).await?))
}

#[utoipa::path(
    patch,
    path = "/resources/{address}",
    tag = "calendar",
    summary = "Change a resource's name or rules (only what is given)",
    params(("address" = String, Path)),
    request_body = ResourceSpec,
    responses(
        (status = 200, description = "done", body = Resource),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn update(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(spec): ApiJson<ResourceSpec>,
) -> Result<Json<Resource>, ApiError> {
    Ok(Json(state.resources.update(&actor, &address, &spec).await?))
}

#[utoipa::path(
    delete,
    path = "/resources/{address}",
    tag = "calendar",
    summary = "Remove a resource and its bookings",
    params(("address" = String, Path)),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.resources.remove(&actor, &address).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/resources/{address}/bookings",
    tag = "calendar",
    summary = "A resource's bookings, soonest first (its delegates and managers)",
    params(("address" = String, Path), BookingQuery),
    responses(
        (status = 200, description = "done", body = BookingList),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn bookings(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiQuery(q): ApiQuery<BookingQuery>,
) -> Result<Json<BookingList>, ApiError> {
    let bookings = state
        .resources
        .bookings(&actor, &address, q.status.as_deref())
        .await?;
    Ok(Json(BookingList { bookings }))
}

#[utoipa::path(
    post,
    path = "/resources/{address}/bookings/{id}/approve",
    tag = "calendar",
    summary = "Accept a booking that waits for a delegate",
    params(("address" = String, Path), ("id" = i64, Path)),
    responses(
        (status = 200, description = "done", body = Booking),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn approve(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath((address, id)): ApiPath<(String, i64)>,
) -> Result<Json<Booking>, ApiError> {
    let b = state
        .resources
        .answer(&actor, &address, id, true, None)
        .await?;
    Ok(Json(b))
}

#[utoipa::path(
    post,
    path = "/resources/{address}/bookings/{id}/decline",
    tag = "calendar",
    summary = "Decline a booking (waiting or accepted), with the reason",
    params(("address" = String, Path), ("id" = i64, Path)),
    request_body = Decline,
    responses(
        (status = 200, description = "done", body = Booking),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn decline(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath((address, id)): ApiPath<(String, i64)>,
    ApiJson(d): ApiJson<Decline>,
) -> Result<Json<Booking>, ApiError> {
    let b = state
        .resources
        .answer(&actor, &address, id, false, d.reason.as_deref())
        .await?;
    Ok(Json(b))
}

#[utoipa::path(
    get,
    path = "/me/bookings",
    tag = "calendar",
    summary = "Bookings waiting for the caller as a resource's delegate",
    responses(
        (status = 200, description = "done", body = BookingList),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn waiting(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<BookingList>, ApiError> {
    Ok(Json(BookingList {
        bookings: state.resources.waiting_for(&actor).await?,
    }))
}
