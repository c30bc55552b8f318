//! The HTTP surface: health and readiness probes, Prometheus metrics, and (with later issues)
//! the portal, the admin console, the JSON API and the OIDC endpoints. It turns requests into
//! calls on the domain crates and domain errors into HTTP statuses with JSON bodies.
//!
//! This crate builds an axum `Router`; sockets and TLS belong to the server crate.

mod probes;
mod security;

use axum::Router;
use axum::routing::get;
use carepost_store::Store;
use metrics_exporter_prometheus::PrometheusHandle;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct WebState {
    pub store: Store,
    pub metrics: PrometheusHandle,
}

/// Every route carepost serves over HTTP(S).
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .route("/metrics", get(probes::metrics))
        .fallback(probes::not_found)
        .layer(axum::middleware::from_fn(security::headers_and_metrics))
        .with_state(state)
}
