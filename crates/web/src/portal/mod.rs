//! The portal: server-rendered pages (askama) for staff self-service. Sign-in with the second
//! step (authenticator code, recovery code or passkey), forced password change, second factors,
//! app passwords, sessions, and forgot-password. Pages call the directory directly; only the
//! passkey ceremonies go through the JSON API, from `assets/portal.js`, because the browser's
//! WebAuthn calls need script. Every asset is served from the binary: no CDN.
//!
//! Forms carry a CSRF token that must equal the browser's `__Host-` CSRF cookie (double
//! submit; a page elsewhere can neither read the cookie nor set a `__Host-` one), on top of the
//! SameSite=Strict session cookie. Pages answer with a strict Content-Security-Policy: scripts
//! and styles from this origin only, no inline script, no framing.

mod account;
mod admin;
mod apple_profile;
mod apps;
mod audit;
mod calendars;
mod change_requests;
pub(crate) mod confirm;
mod console;
mod departments;
mod invitations;
pub(crate) mod pages;
mod policies;
mod resources;
mod roster;
pub(crate) mod sign_in;
mod sources;

use crate::WebState;
use crate::api::session::{SESSION_COOKIE, cookie_value, set_cookie};
use askama::Template;
use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use carepost_identity::{IdentityError, SecondFactor, Session};

pub const CSRF_COOKIE: &str = "__Host-carepost-csrf";

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of pages whose forms end in a redirect to an application (sign-in for an
/// authorization request, consent, logout): browsers apply `form-action` to every redirect
/// after a form is sent, so the application's origin is allowed besides this one.
fn csp_to_app(redirect_uri: &str) -> Option<String> {
    let u = url::Url::parse(redirect_uri).ok()?;
    let source = match u.scheme() {
        "https" | "http" => {
            let host = u.host_str()?;
            // A desktop app's loopback listener may use any port (RFC 8252 §7.3).
            let loopback = matches!(host, "127.0.0.1" | "[::1]" | "localhost");
            let port = match (loopback, u.port()) {
                (true, _) => ":*".to_string(),
                (false, Some(p)) => format!(":{p}"),
                (false, None) => String::new(),
            };
            format!("{}://{host}{port}", u.scheme())
        }
        scheme => format!("{scheme}:"),
    };
    Some(format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self' {source}; frame-ancestors 'none'; \
         base-uri 'none'"
    ))
}

pub fn routes(state: WebState) -> Router<WebState> {
    let limited = Router::new()
        .route("/sign-in", get(sign_in::page).post(sign_in::submit))
        .route(
            "/sign-in/verify",
            get(sign_in::verify_page).post(sign_in::verify),
        )
        .route("/forgot", get(sign_in::forgot_page).post(sign_in::forgot))
        .route(
            "/welcome",
            get(invitations::welcome_form).post(invitations::welcome),
        )
        .route(
            "/admin/invitations",
            get(invitations::list).post(invitations::issue),
        )
        .route(
            "/account/confirm",
            get(confirm::confirm_page).post(confirm::confirm),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::api::limit_sign_ins,
        ));
    Router::new()
        .merge(limited)
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/sign-out", post(sign_in::sign_out))
        .route("/account", get(account::overview))
        .route(
            "/account/password",
            get(account::password_page).post(account::change_password),
        )
        .route("/account/totp", post(account::begin_totp))
        .route("/account/totp/confirm", post(account::confirm_totp))
        .route("/account/recovery-codes", post(account::recovery_codes))
        .route(
            "/account/passkeys/{id}/remove",
            post(account::remove_passkey),
        )
        .route("/account/app-passwords", post(account::create_app_password))
        .route(
            "/account/app-passwords/{id}/revoke",
            post(account::revoke_app_password),
        )
        .route(
            "/account/sessions/end-others",
            post(account::end_other_sessions),
        )
        .route("/account/sessions/{id}/end", post(account::end_session))
        .route("/account/apps/{id}/sign-out", post(account::sign_out_app))
        .route("/account/apple-profile", post(apple_profile::download))
        .route("/calendar", get(calendars::calendar_page))
        .route("/account/calendars", get(calendars::show))
        .route("/account/calendars/share", post(calendars::share))
        .route("/account/calendars/unshare", post(calendars::unshare))
        .route("/account/calendars/delegate", post(calendars::delegate))
        .route("/account/calendars/feed", post(calendars::feed))
        .route("/admin/reset-requests", get(admin::reset_requests))
        .route("/admin/reset-requests/{id}", get(admin::reset_request_page))
        .route(
            "/admin/reset-requests/{id}/approve",
            post(admin::approve_reset),
        )
        .route(
            "/admin/departments",
            get(departments::directory).post(departments::create_department),
        )
        .route(
            "/admin/departments/change",
            post(departments::change_department),
        )
        .route("/admin/audit", get(audit::audit))
        .route("/admin/policies", get(policies::policies))
        .route("/admin/change-requests", get(change_requests::list))
        .route(
            "/admin/change-requests/{id}/{decision}",
            post(change_requests::decide),
        )
        .route("/admin/policies/{section}", post(policies::change))
        .route("/admin/apps", get(apps::apps).post(apps::register))
        .route("/admin/apps/{client_id}/remove", post(apps::remove))
        .route(
            "/admin/resources",
            get(resources::list).post(resources::create),
        )
        .route("/admin/resources/{address}", get(resources::bookings))
        .route("/admin/resources/{address}/answer", post(resources::answer))
        .route("/admin/resources/{address}/remove", post(resources::remove))
        .route("/admin/audit/verify", post(audit::verify_audit))
        .route("/admin/accounts", get(roster::table))
        .route("/admin/accounts/bulk", post(roster::bulk))
        .route("/admin", get(console::home))
        .route("/admin/roles", get(departments::roles))
        .route("/admin/sources", get(sources::list))
        .route("/admin/sources/clear", post(sources::clear))
        .route(
            "/admin/accounts/new",
            get(admin::new_account_page).post(admin::create_account),
        )
        .route("/admin/accounts/{address}", get(admin::account))
        .route("/admin/accounts/{address}/{action}", post(admin::act))
        .route("/assets/portal.css", get(css))
        .route("/assets/portal.js", get(js))
        .route("/assets/calendar.js", get(calendar_js))
        // Forms are small; a megabyte "password" is refused before any hashing. (A layer
        // covers the routes added before it: this one, all of them.)
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            state,
            console::styled_refusal,
        ))
}

async fn css() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/portal.css"),
    )
}

async fn js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/portal.js"),
    )
}

async fn calendar_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/calendar.js"),
    )
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    res
}

/// This browser's CSRF token; a new one is made (and set with the page) when it has none.
pub(crate) struct Csrf {
    pub token: String,
    new: bool,
}

impl FromRequestParts<WebState> for Csrf {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Csrf::of(&parts.headers, state))
    }
}

impl Csrf {
    pub(crate) fn of(headers: &HeaderMap, state: &WebState) -> Csrf {
        match cookie_value(headers, CSRF_COOKIE).filter(|t| t.len() >= 32) {
            Some(token) => Csrf { token, new: false },
            None => Csrf {
                token: state.directory.new_token(),
                new: true,
            },
        }
    }

    /// Whether a form's token is this browser's (compared in constant time).
    pub(crate) fn accepts(&self, form: &str) -> bool {
        !self.new
            && form.len() == self.token.len()
            && form
                .bytes()
                .zip(self.token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// What a portal handler answers when something it did not expect goes wrong.
pub(crate) enum PageError {
    Identity(IdentityError),
    Oidc(carepost_oidc::OidcError),
    Render(String),
}

impl From<IdentityError> for PageError {
    fn from(e: IdentityError) -> Self {
        PageError::Identity(e)
    }
}

impl From<carepost_oidc::OidcError> for PageError {
    fn from(e: carepost_oidc::OidcError) -> Self {
        PageError::Oidc(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = match self {
            PageError::Identity(e) => e,
            PageError::Oidc(carepost_oidc::OidcError::Identity(e)) => e,
            PageError::Oidc(carepost_oidc::OidcError::Crypto(e)) => {
                tracing::error!(error = %e, "portal: signing failed");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; it has been logged.\n",
                )
                    .into_response();
            }
            PageError::Oidc(other) => IdentityError::Invalid(other.to_string()),
            PageError::Render(e) => {
                tracing::error!(error = %e, "portal: a page could not be rendered");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; it has been logged.\n",
                )
                    .into_response();
            }
        };
        let (status, text) = match &e {
            IdentityError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            IdentityError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            IdentityError::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many sign-ins at once: try again in a moment.".to_string(),
            ),
            IdentityError::Store(e) => {
                tracing::error!(error = %e, "portal: store failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on the server; it has been logged. Try again."
                        .to_string(),
                )
            }
            other => (StatusCode::BAD_REQUEST, other.to_string()),
        };
        let refused = (status == StatusCode::FORBIDDEN).then(|| console::Refused(text.clone()));
        let mut res = (status, format!("{text}\n")).into_response();
        if let Some(r) = refused {
            res.extensions_mut().insert(r);
        }
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

/// A rendered page with the portal's headers (and the CSRF cookie when it is new).
pub(crate) fn render(t: &impl Template, csrf: &Csrf) -> PageResult {
    render_with(t, csrf, None)
}

/// `render`, for a page whose forms may end at an application's redirect URI.
pub(crate) fn render_with(t: &impl Template, csrf: &Csrf, to_app: Option<&str>) -> PageResult {
    let html = t.render().map_err(|e| PageError::Render(e.to_string()))?;
    let mut res = axum::response::Html(html).into_response();
    let h = res.headers_mut();
    let policy = to_app
        .and_then(csp_to_app)
        .and_then(|p| HeaderValue::from_str(&p).ok())
        .unwrap_or(HeaderValue::from_static(CSP));
    h.insert(header::CONTENT_SECURITY_POLICY, policy);
    if csrf.new {
        h.append(
            header::SET_COOKIE,
            set_cookie(CSRF_COOKIE, Some(&csrf.token), None),
        );
    }
    Ok(res)
}

/// 303 to `to`, with cookies to set.
pub(crate) fn see_other(to: &str, cookies: &[HeaderValue]) -> Response {
    let mut res = Redirect::to(to).into_response();
    for c in cookies {
        res.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    res
}

/// A refused form (its token is not this browser's): the page is simply shown again.
pub(crate) fn stale_form(path: &str) -> Response {
    see_other(path, &[])
}

/// The session of this browser, if any.
pub(crate) async fn session(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<Option<Session>, PageError> {
    let Some(token) = cookie_value(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(state.directory.resume_session(&token).await?)
}

/// Where a signed-in account stands before it may use the portal freely.
pub(crate) enum Gate {
    Open,
    /// A temporary or expired password: only the password page.
    ChangePassword,
    /// A required second factor is overdue: only enrollment.
    EnrollOnly,
}

pub(crate) async fn gate(state: &WebState, s: &Session) -> Result<Gate, PageError> {
    if state
        .directory
        .own_password_state(s.account)
        .await?
        .must_change
    {
        return Ok(Gate::ChangePassword);
    }
    Ok(
        match state.directory.second_factor_state(s.account).await? {
            SecondFactor::EnrollmentRequired { overdue: true, .. } => Gate::EnrollOnly,
            _ => Gate::Open,
        },
    )
}

/// What a redirect after a change says: one fixed word (`?done=saved`), never text from the
/// URL shown as it is, so that a link cannot make a page claim something was done.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Done {
    pub done: Option<String>,
}

/// A refusal a form shows beside itself (bad input, a conflict, something not found), or the
/// error to answer with as a page.
pub(crate) fn refusal(e: carepost_identity::IdentityError) -> Result<String, PageError> {
    use carepost_identity::IdentityError::{Conflict, Invalid, NotFound};
    match e {
        Invalid(m) | Conflict(m) | NotFound(m) => Ok(m),
        e => Err(e.into()),
    }
}

pub(crate) fn org(state: &WebState) -> String {
    state.directory.config().organization.name.clone()
}
