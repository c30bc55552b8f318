//! The HTTP surface: health and readiness probes, Prometheus metrics, the portal, the admin
//! console, the JSON API, the OpenID Connect endpoints and autoconfig. It turns requests into
//! calls on the domain crates and domain errors into HTTP statuses with JSON bodies.
//!
//! This crate builds an axum `Router`; sockets and TLS belong to the server crate.

pub mod api;
mod dav;
mod oidc;
mod portal;
mod probes;
mod security;

pub use dav::DavAuthCache;

use axum::Router;
use axum::routing::get;
use carepost_identity::Directory;
use carepost_store::Store;
use carepost_types::Clock;
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::SocketAddr;
use std::sync::Arc;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct WebState {
    pub store: Store,
    pub metrics: PrometheusHandle,
    pub directory: Directory,
    /// The OpenID Connect provider.
    pub oidc: carepost_oidc::Provider,
    /// The mail store: notices the console sends (invitations to a personal address).
    pub mail: carepost_mail::MailStore,
    pub clock: Arc<dyn Clock>,
    /// Sign-in requests per source network, checked before any password is hashed.
    pub sign_in_limiter: Arc<api::SignInLimiter>,
    /// Audited refusals of the token endpoint per source network.
    pub token_refusals: Arc<api::SignInLimiter>,
    /// Bytes of request bodies being read ahead at once (see `security::read_small_bodies`).
    pub read_ahead: Arc<tokio::sync::Semaphore>,
    /// Calendars and task lists (CalDAV).
    pub calendars: carepost_calendar::Calendars,
    /// Rooms and equipment (their management and their bookings).
    pub resources: carepost_calendar::Resources,
    /// Free/busy questions and meetings made over the API, per caller (see
    /// `api::calendar_limiter`).
    pub calendar_limiter: Arc<api::SignInLimiter>,
    /// Each account's WebDAV file space (`dav::files`).
    pub files: carepost_files::Files,
    /// DAV credentials verified in the last minute (see `dav::auth`).
    pub dav_auth: Arc<DavAuthCache>,
}

/// The read-ahead budget of one server: 32 MiB of request bodies at once.
pub fn read_ahead_budget() -> Arc<tokio::sync::Semaphore> {
    Arc::new(tokio::sync::Semaphore::new(security::READ_AHEAD_BUDGET_KIB))
}

/// Mails each invitation whose person has a personal address on record (HR's
/// `personal_email`), and marks it mailed. An invitation is issued before this; a mail that
/// cannot be queued leaves it unmarked (its slip still opens the first sign-in) and is logged.
pub async fn mail_invitations(
    mail: &carepost_mail::MailStore,
    actor: &carepost_identity::Actor,
    issued: &mut [carepost_identity::IssuedInvitation],
) {
    let config = mail.config();
    let welcome = format!("{}welcome", config.web.public_url.as_str());
    for i in issued.iter_mut() {
        let Some(to) = i.personal_email.clone() else {
            continue;
        };
        let (subject, text) = i.notice(&config.organization.name, &welcome);
        let notice = carepost_mail::Notice {
            to: &to,
            about: format!("account:{}", i.address),
            subject: &subject,
            text: &text,
        };
        match mail.send_notice(&actor.who, &notice).await {
            Ok(()) => i.mailed = true,
            Err(e) => {
                tracing::warn!(error = %e, account = %i.address, "an invitation could not be mailed")
            }
        }
    }
}

impl WebState {
    pub fn now_millis(&self) -> i64 {
        self.clock.now().0
    }
}

/// The peer address of the connection a request came in on; the server adds it.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The metrics listener's routes (`listeners.metrics`): Prometheus metrics and the probes, on
/// their own address so that the public HTTPS listener does not tell who is busy or failing.
pub fn metrics_router(state: WebState) -> Router {
    Router::new()
        .route("/metrics", get(probes::metrics))
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .fallback(probes::not_found)
        .with_state(state)
}

/// Every route carepost serves over HTTP(S).
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .nest("/api/v1", api::routes(state.clone()))
        .merge(portal::routes(state.clone()))
        .merge(oidc::routes())
        .merge(dav::routes())
        .fallback(probes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::read_small_bodies,
        ))
        .layer(axum::middleware::from_fn(security::headers_and_metrics))
        .with_state(state)
}
