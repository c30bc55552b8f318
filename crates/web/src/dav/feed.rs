//! A calendar published as a read-only iCalendar feed at a secret URL,
//! `/calendar-feeds/TOKEN.ics`, for subscribing clients that cannot sign in (a wall display,
//! a partner's calendar). No credentials: the token is the key, so it is long, kept only as
//! a hash, revocable, and the route answers 404 alike for a wrong token, a revoked one, and
//! every token while the policy (`calendar.public_feeds`) is off. What it shows is trimmed by
//! the calendar crate (no attendees, private events as busy).

use crate::WebState;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn feed(State(state): State<WebState>, Path(file): Path<String>) -> Response {
    let token = file.strip_suffix(".ics").unwrap_or(&file);
    let allowed = state.directory.config().calendar.public_feeds;
    match state.calendars.feed(token, allowed).await {
        Ok(ics) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            ics,
        )
            .into_response(),
        Err(carepost_calendar::DavError::NotFound) => {
            (StatusCode::NOT_FOUND, "no such calendar feed").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "a calendar feed could not be read");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the calendar store is unavailable",
            )
                .into_response()
        }
    }
}
