//! Calendar answers for people and applications: free/busy of several colleagues and rooms
//! at once (what the portal's meeting form shows side by side, and what the scheduling
//! system asks), the calendars shared with the caller, and the caller's own agenda with
//! what the portal's calendar page does: make an event or meeting, answer an invitation. Free/busy is open to any
//! signed-in member of staff, to an API token, and to an application's access token with
//! the `freebusy` scope (client credentials: a system acting for itself); it gives periods
//! and their kind only, never what fills them.

use super::ApiError;
use super::session::{ApiJson, ApiPath, ApiQuery, User, bearer};
use crate::WebState;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use carepost_calendar::{BusyKind, EventChange, NewEvent, Occurrence, SharedCalendar};
use carepost_types::UnixMillis;
use serde::{Deserialize, Serialize};

/// The scope an application's token needs for free/busy.
pub const FREEBUSY_SCOPE: &str = "freebusy";
/// Addresses one question may name, and the longest range (a year and a day, as over DAV).
const MAX_ATTENDEES: usize = 100;
const MAX_RANGE_SECONDS: i64 = 366 * 86_400;

/// Who asks for free/busy: a signed-in person, an API token, or an application with the
/// scope, named for the per-caller limit. Anything else is 401.
pub struct FreeBusyCaller(String);

/// Calendar questions and meetings one caller (a person, an API token, an application) may
/// make: a sustained 10 a second with bursts of 200 (a scheduling system filling a day's
/// grid), so that nobody maps the organization's diaries or floods colleagues' calendars
/// as fast as the server answers.
pub fn calendar_limiter() -> super::SignInLimiter {
    let quota = governor::Quota::per_second(std::num::NonZeroU32::MIN.saturating_add(9))
        .allow_burst(std::num::NonZeroU32::MIN.saturating_add(199));
    governor::RateLimiter::hashmap(quota)
}

/// Whether `caller` went past its share (see `calendar_limiter`). A person is named
/// `account:ID` here and by the DAV outbox alike, so the two share one allowance.
pub(crate) fn over_limit(state: &WebState, caller: &str) -> bool {
    let limiter = &state.calendar_limiter;
    if limiter.len() > 100_000 {
        limiter.retain_recent();
    }
    limiter.check_key(&caller.to_string()).is_err()
}

/// 429 once `caller` went past its share (see `calendar_limiter`).
fn limit(state: &WebState, caller: &str) -> Result<(), ApiError> {
    if !over_limit(state, caller) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
        "too many calendar requests; wait a moment",
    ))
}

impl FromRequestParts<WebState> for FreeBusyCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, ApiError> {
        let refused = || {
            ApiError::unauthorized(
                "invalid_token",
                "the token is unknown, revoked, expired or lacks the freebusy scope",
            )
        };
        if let Some(token) = bearer(&parts.headers) {
            if token.starts_with("cpt_") {
                let source = parts.extensions.get::<crate::Peer>().map(|p| p.0.ip());
                return match state.directory.actor_for_token(token, source).await? {
                    Some(actor) => Ok(FreeBusyCaller(format!("token:{:?}", actor.who))),
                    None => Err(refused()),
                };
            }
            return match state
                .oidc
                .verify_access_token(token, FREEBUSY_SCOPE)
                .await?
            {
                Some(t) => Ok(FreeBusyCaller(format!("client:{}", t.client_id))),
                None => Err(refused()),
            };
        }
        let user = User::from_request_parts(parts, state).await?;
        Ok(FreeBusyCaller(format!(
            "account:{}",
            user.session.account.0
        )))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct FreeBusyQuery {
    /// Addresses of people, rooms or equipment, comma-separated (at most 100).
    attendees: String,
    /// RFC 3339.
    start: String,
    /// RFC 3339; at most 366 days after `start`.
    end: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Period {
    /// RFC 3339.
    start: String,
    end: String,
    /// `busy` or `tentative`.
    kind: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttendeeFreeBusy {
    address: String,
    /// Whether the address is an active member of staff or a resource; unknown ones have no
    /// periods.
    known: bool,
    busy: Vec<Period>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FreeBusy {
    start: String,
    end: String,
    attendees: Vec<AttendeeFreeBusy>,
}

fn seconds(text: &str, what: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| ApiError::bad_request("invalid", format!("{what} must be an RFC 3339 time")))
}

fn rfc3339(seconds: i64) -> String {
    UnixMillis(seconds.saturating_mul(1000)).to_rfc3339()
}

#[utoipa::path(
    get,
    path = "/freebusy",
    tag = "calendar",
    summary = "When people, rooms and equipment are taken (periods only)",
    params(FreeBusyQuery),
    responses(
        (status = 200, description = "done", body = FreeBusy),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    ),
    security(("session" = []), ("token" = []))
)]
pub async fn free_busy(
    State(state): State<WebState>,
    caller: FreeBusyCaller,
    ApiQuery(q): ApiQuery<FreeBusyQuery>,
) -> Result<Json<FreeBusy>, ApiError> {
    limit(&state, &caller.0)?;
    let start = seconds(&q.start, "start")?;
    let end = seconds(&q.end, "end")?;
    if end <= start || end - start > MAX_RANGE_SECONDS {
        return Err(ApiError::bad_request(
            "invalid",
            "end must come after start, at most 366 days later",
        ));
    }
    let mut addresses: Vec<String> = q
        .attendees
        .split(',')
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    addresses.sort_unstable();
    addresses.dedup();
    if addresses.is_empty() || addresses.len() > MAX_ATTENDEES {
        return Err(ApiError::bad_request(
            "invalid",
            format!("name 1 to {MAX_ATTENDEES} attendees"),
        ));
    }
    let found = state.calendars.busy_of_many(&addresses, start, end).await?;
    let mut attendees = Vec::new();
    for (address, busy) in addresses.into_iter().zip(found) {
        attendees.push(AttendeeFreeBusy {
            known: busy.is_some(),
            busy: busy
                .unwrap_or_default()
                .into_iter()
                .map(|b| Period {
                    start: rfc3339(b.start),
                    end: rfc3339(b.end),
                    kind: match b.kind {
                        BusyKind::Busy => "busy",
                        BusyKind::Tentative => "tentative",
                    },
                })
                .collect(),
            address,
        });
    }
    Ok(Json(FreeBusy {
        start: rfc3339(start),
        end: rfc3339(end),
        attendees,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SharedList {
    calendars: Vec<SharedCalendar>,
}

#[utoipa::path(
    get,
    path = "/me/shared-calendars",
    tag = "calendar",
    summary = "Calendars of others the caller reaches (shares and delegations)",
    responses(
        (status = 200, description = "done", body = SharedList),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn shared(
    State(state): State<WebState>,
    user: User,
) -> Result<Json<SharedList>, ApiError> {
    let calendars = state.calendars.shared_list(user.session.account).await?;
    Ok(Json(SharedList { calendars }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RangeQuery {
    /// RFC 3339.
    start: String,
    /// RFC 3339; at most 62 days after `start`.
    end: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Agenda {
    events: Vec<Occurrence>,
}

#[utoipa::path(
    get,
    path = "/me/calendar",
    tag = "calendar",
    summary = "Every instance of the caller's events, and of calendars shared with them, in a range",
    params(RangeQuery),
    responses(
        (status = 200, description = "done", body = Agenda),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn agenda(
    State(state): State<WebState>,
    user: User,
    ApiQuery(q): ApiQuery<RangeQuery>,
) -> Result<Json<Agenda>, ApiError> {
    let start = seconds(&q.start, "start")?;
    let end = seconds(&q.end, "end")?;
    let events = state
        .calendars
        .agenda(user.session.account, &user.session.address, start, end)
        .await?;
    Ok(Json(Agenda { events }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    calendar: String,
    object: String,
    uid: String,
}

#[utoipa::path(
    post,
    path = "/me/calendar/events",
    tag = "calendar",
    summary = "Create an event, or a meeting that invites colleagues and rooms",
    request_body = NewEvent,
    responses(
        (status = 201, description = "done", body = Created),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_event(
    State(state): State<WebState>,
    user: User,
    ApiJson(e): ApiJson<NewEvent>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    limit(&state, &format!("account:{}", user.session.account.0))?;
    // A UID from the server's random source, in the form calendar apps make them.
    let uid = format!("{}@carepost", state.directory.new_token());
    let object = state
        .calendars
        .create_event(user.session.account, &user.session.address, &uid, &e)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            calendar: e.calendar.unwrap_or_else(|| "calendar".into()),
            object,
            uid,
        }),
    ))
}

#[utoipa::path(
    patch,
    path = "/me/calendar/events/{calendar}/{object}",
    tag = "calendar",
    summary = "Change an event or a meeting one organizes (attendees are told; a moved meeting asks them again)",
    params(("calendar" = String, Path), ("object" = String, Path)),
    request_body = EventChange,
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}; 412 when it changed meanwhile", body = super::error::ErrorBody),
    )
)]
pub async fn change_event(
    State(state): State<WebState>,
    user: User,
    ApiPath((calendar, object)): ApiPath<(String, String)>,
    ApiJson(change): ApiJson<EventChange>,
) -> Result<StatusCode, ApiError> {
    limit(&state, &format!("account:{}", user.session.account.0))?;
    state
        .calendars
        .change_event(
            user.session.account,
            &user.session.address,
            &calendar,
            &object,
            &change,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete,
    path = "/me/calendar/events/{calendar}/{object}",
    tag = "calendar",
    summary = "Cancel an event or a meeting one organizes (attendees are sent a cancellation, rooms freed)",
    params(("calendar" = String, Path), ("object" = String, Path)),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn cancel_event(
    State(state): State<WebState>,
    user: User,
    ApiPath((calendar, object)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    limit(&state, &format!("account:{}", user.session.account.0))?;
    state
        .calendars
        .cancel_event(
            user.session.account,
            &user.session.address,
            &calendar,
            &object,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AnswerBody {
    /// `accepted`, `declined` or `tentative`.
    answer: String,
}

#[utoipa::path(
    post,
    path = "/me/calendar/events/{calendar}/{object}/answer",
    tag = "calendar",
    summary = "Answer an invitation (the organizer is told)",
    params(("calendar" = String, Path), ("object" = String, Path)),
    request_body = AnswerBody,
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn answer(
    State(state): State<WebState>,
    user: User,
    ApiPath((calendar, object)): ApiPath<(String, String)>,
    ApiJson(a): ApiJson<AnswerBody>,
) -> Result<StatusCode, ApiError> {
    limit(&state, &format!("account:{}", user.session.account.0))?;
    state
        .calendars
        .answer_invitation(
            user.session.account,
            &user.session.address,
            &calendar,
            &object,
            &a.answer,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
