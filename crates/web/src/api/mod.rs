//! The JSON API under `/api/v1`. Every answer is JSON; errors are `{"error": code, "message":
//! text}` with the matching HTTP status. State-changing requests must carry the header
//! `X-Carepost-Request: 1`: a page on another site cannot add it without a CORS preflight,
//! which carepost never grants, so the session cookie cannot be ridden (CSRF).

mod admin;
mod auth;
mod error;
mod me;
mod session;

pub use error::ApiError;
pub use session::{MFA_COOKIE, SESSION_COOKIE};

use crate::WebState;
use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/auth/sign-in", post(auth::sign_in))
        .route("/auth/second-factor", post(auth::second_factor))
        .route("/auth/sign-out", post(auth::sign_out))
        .route("/me", get(me::show))
        .route("/me/password", post(me::change_password))
        .route("/me/sessions", get(me::sessions))
        .route("/me/sessions/{id}", delete(me::end_session))
        .route(
            "/me/app-passwords",
            get(me::app_passwords).post(me::create_app_password),
        )
        .route("/me/app-passwords/{id}", delete(me::revoke_app_password))
        .route("/me/totp", post(me::begin_totp))
        .route("/me/totp/confirm", post(me::confirm_totp))
        .route("/me/recovery-codes", post(me::recovery_codes))
        .route(
            "/accounts",
            get(admin::list_accounts).post(admin::create_account),
        )
        .route("/accounts/{address}", get(admin::show_account))
        .route("/accounts/{address}/unlock", post(admin::unlock))
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
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(require_request_header))
}

/// Refuses state-changing requests without `X-Carepost-Request` (see the module doc).
async fn require_request_header(req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && req.headers().get("x-carepost-request").is_none() {
        return ApiError::forbidden(
            "csrf",
            "state-changing API requests must carry the header X-Carepost-Request: 1",
        )
        .into_response();
    }
    next.run(req).await
}
