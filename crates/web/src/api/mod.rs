//! The JSON API under `/api/v1`. Every answer is JSON; errors are `{"error": code, "message":
//! text}` with the matching HTTP status. State-changing requests must carry the header
//! `X-Carepost-Request: 1`: a page on another site cannot add it without a CORS preflight,
//! which carepost never grants, so the session cookie cannot be ridden (CSRF).

mod accounts;
mod admin;
mod apps;
pub(crate) mod auth;
mod calendar;
mod change_requests;
mod error;
mod invitations;
pub(crate) mod me;
mod openapi;
mod passkeys;
mod policies;
mod resources;
pub(crate) mod session;
mod shares;
mod sources;
pub(crate) mod step_up;

pub use calendar::calendar_limiter;
pub(crate) use calendar::over_limit;
pub use error::ApiError;
pub use session::{MFA_COOKIE, SESSION_COOKIE};

use crate::WebState;
use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};

/// Requests per source network to the sign-in endpoints: a sustained 5 per second with bursts
/// of 50 (a shift change behind one NAT), far below what would queue every sign-in of the
/// organization behind one client's argon2 work.
pub type SignInLimiter = governor::RateLimiter<
    String,
    governor::state::keyed::HashMapStateStore<String>,
    governor::clock::DefaultClock,
>;

pub fn sign_in_limiter() -> SignInLimiter {
    let quota = governor::Quota::per_second(std::num::NonZeroU32::MIN.saturating_add(4))
        .allow_burst(std::num::NonZeroU32::MIN.saturating_add(49));
    governor::RateLimiter::hashmap(quota)
}

/// Largest request body the API reads: sign-ins and self-service bodies are tiny.
const MAX_BODY: usize = 16 * 1024;
/// Largest HR export accepted by `/import` (200,000 rows are about 15 MiB).
const MAX_IMPORT: usize = 64 * 1024 * 1024;

pub fn routes(state: WebState) -> Router<WebState> {
    let auth = Router::new()
        .route("/auth/sign-in", post(auth::sign_in))
        .route("/auth/second-factor", post(auth::second_factor))
        .route("/auth/sign-out", post(auth::sign_out))
        .route("/auth/recover", post(auth::recover))
        .route("/auth/welcome", post(invitations::welcome))
        .route(
            "/invitations",
            get(invitations::list).post(invitations::issue),
        )
        .route(
            "/accounts/{address}/invitations/revoke",
            post(invitations::revoke),
        )
        .route("/auth/passkey-challenge", post(passkeys::sign_in_challenge))
        .route("/me/step-up", post(step_up::step_up))
        .route(
            "/me/step-up/passkey-challenge",
            post(step_up::passkey_challenge),
        )
        .layer(axum::middleware::from_fn_with_state(state, limit_sign_ins));
    Router::new()
        .merge(auth)
        .route("/openapi.json", get(openapi::document))
        .route("/me", get(me::show))
        .route("/me/password", post(me::change_password))
        .route("/me/password/check", post(me::check_password))
        .route(
            "/me/sessions",
            get(me::sessions).delete(me::end_other_sessions),
        )
        .route("/me/sessions/{id}", delete(me::end_session))
        .route("/me/apps", get(me::signed_in_apps))
        .route("/me/apps/{id}", delete(me::sign_out_app))
        .route(
            "/me/app-passwords",
            get(me::app_passwords).post(me::create_app_password),
        )
        .route("/me/app-passwords/{id}", delete(me::revoke_app_password))
        .route("/me/totp", post(me::begin_totp))
        .route("/me/totp/confirm", post(me::confirm_totp))
        .route("/me/recovery-codes", post(me::recovery_codes))
        .route(
            "/me/passkeys",
            get(passkeys::list).post(passkeys::finish_registration),
        )
        .route(
            "/me/passkeys/registration",
            post(passkeys::begin_registration),
        )
        .route("/me/passkeys/{id}", delete(passkeys::remove))
        .route(
            "/accounts",
            get(admin::list_accounts).post(admin::create_account),
        )
        .route("/address-preview", get(admin::address_preview))
        .route(
            "/accounts/{address}",
            get(admin::show_account).patch(admin::edit_account),
        )
        .route("/accounts/{address}/unlock", post(sources::unlock))
        .route("/accounts/{address}/sources", get(sources::of_account))
        .route("/sources", get(sources::paused))
        .route("/sources/clear", post(sources::clear))
        .route("/accounts/{address}/status", post(admin::set_status))
        .route(
            "/accounts/{address}/reset-password",
            post(admin::reset_password),
        )
        .route("/accounts/{address}/reset-mfa", post(admin::reset_mfa))
        .route(
            "/accounts/{address}/end-sessions",
            post(admin::end_sessions),
        )
        .route("/audit", get(admin::audit))
        .route("/audit/verify", post(admin::verify_audit))
        .route("/accounts/{address}/rename", post(accounts::rename))
        .route(
            "/accounts/{address}/revoke-app-passwords",
            post(accounts::revoke_app_passwords),
        )
        .route(
            "/accounts/{address}/roles",
            get(accounts::roles).post(accounts::grant_role),
        )
        .route(
            "/accounts/{address}/roles/{role}",
            delete(accounts::revoke_role),
        )
        .route("/reset-requests", get(admin::reset_requests))
        .route(
            "/accounts/{address}/helpdesk-reset",
            post(admin::helpdesk_reset),
        )
        .route(
            "/accounts/{address}/reset-requests",
            post(admin::request_reset),
        )
        .route("/reset-requests/{id}/approve", post(admin::approve_reset))
        .route(
            "/departments",
            get(admin::departments).post(admin::create_department),
        )
        .route("/departments/{name}", delete(admin::remove_department))
        .route("/departments/{name}/rename", post(admin::rename_department))
        .route("/departments/{name}/move", post(admin::move_department))
        .route(
            "/accounts/{address}/change-requests",
            post(change_requests::create),
        )
        .route("/change-requests", get(change_requests::list))
        .route(
            "/change-requests/{id}/approve",
            post(change_requests::approve),
        )
        .route(
            "/change-requests/{id}/decline",
            post(change_requests::decline),
        )
        .route("/policy", get(admin::policy))
        .route("/policies", get(policies::list))
        .route(
            "/policies/{section}",
            axum::routing::patch(policies::change).delete(policies::reset),
        )
        .route("/tokens", get(admin::tokens).post(admin::create_token))
        .route("/tokens/{id}", delete(admin::revoke_token))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{client_id}", delete(apps::remove))
        .route("/resources", get(resources::list).post(resources::create))
        .route(
            "/resources/{address}",
            get(resources::show)
                .patch(resources::update)
                .delete(resources::remove),
        )
        .route("/resources/{address}/bookings", get(resources::bookings))
        .route(
            "/resources/{address}/bookings/{id}/approve",
            post(resources::approve),
        )
        .route(
            "/resources/{address}/bookings/{id}/decline",
            post(resources::decline),
        )
        .route("/me/bookings", get(resources::waiting))
        .route("/me/shared-calendars", get(calendar::shared))
        .route("/me/calendar-sharing", get(shares::list))
        .route("/me/calendar-sharing/shares", post(shares::share))
        .route("/me/calendar-sharing/shares/{id}", delete(shares::unshare))
        .route("/me/calendar-sharing/delegates", post(shares::add_delegate))
        .route(
            "/me/calendar-sharing/delegates/{address}",
            delete(shares::remove_delegate),
        )
        .route(
            "/me/calendar-sharing/delegating/{address}",
            delete(shares::leave),
        )
        .route("/freebusy", get(calendar::free_busy))
        .route("/me/calendar", get(calendar::agenda))
        .route("/me/calendar/events", post(calendar::create_event))
        .route(
            "/me/calendar/events/{calendar}/{object}",
            patch(calendar::change_event).delete(calendar::cancel_event),
        )
        .route(
            "/me/calendar/events/{calendar}/{object}/answer",
            post(calendar::answer),
        )
        .route(
            "/import",
            post(admin::import).layer(axum::extract::DefaultBodyLimit::max(MAX_IMPORT)),
        )
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(require_request_header))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// Answers 429 to a network that signs in too fast, before any work is done for it.
pub(crate) async fn limit_sign_ins(
    axum::extract::State(state): axum::extract::State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req.extensions().get::<crate::Peer>().map(|p| p.0.ip());
    let key = carepost_identity::network_of(ip);
    if state.sign_in_limiter.check_key(&key).is_err() {
        return ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many sign-in attempts from your network; wait a moment",
        )
        .into_response();
    }
    if state.sign_in_limiter.len() > 100_000 {
        state.sign_in_limiter.retain_recent();
    }
    next.run(req).await
}

/// Refuses state-changing requests without `X-Carepost-Request` (see the module doc).
async fn require_request_header(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // A bearer token is never attached by a browser on its own, so it cannot be ridden.
    let bearer = session::bearer(req.headers()).is_some()
        && req.headers().get(axum::http::header::COOKIE).is_none();
    if !safe && !bearer && req.headers().get("x-carepost-request").is_none() {
        return ApiError::forbidden(
            "csrf",
            "state-changing API requests must carry the header X-Carepost-Request: 1",
        )
        .into_response();
    }
    next.run(req).await
}
