//! Headers every response carries, and request counting for `/metrics`.

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

pub async fn headers_and_metrics(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    // Only known methods become label values: a client must not be able to mint series.
    let method = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Pages set their own policy (scripts and styles from this origin); everything else is
    // data that needs none.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // Answers may carry secrets shown once (seeds, recovery codes, app passwords) on shared
    // workstations: nothing is kept by browsers or proxies.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let status = res.status().as_u16().to_string();
    metrics::counter!("carepost_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    res
}
