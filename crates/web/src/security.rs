//! Headers every response carries, request counting for `/metrics`, and reading small request
//! bodies whole before a handler may refuse them.

use axum::extract::{MatchedPath, Request};
use axum::http::header;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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
    // workstations: nothing is kept by browsers or proxies, unless a handler says otherwise
    // (the public signing keys).
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    let status = res.status().as_u16().to_string();
    metrics::counter!("carepost_http_requests_total", "route" => route, "method" => method, "status" => status)
        .increment(1);
    res
}

/// Bodies up to this size are read whole before the handler runs.
const READ_AHEAD: usize = 256 * 1024;
/// How long a body read ahead may take to arrive.
const READ_AHEAD_TIME: std::time::Duration = std::time::Duration::from_secs(15);
/// Of all requests together, in KiB: a flood of slow uploads cannot pin more memory.
pub(crate) const READ_AHEAD_BUDGET_KIB: usize = 32 * 1024;

/// Reads a request body of up to 256 KiB before the handler runs, while the server-wide budget
/// allows. A handler that refuses a request without reading its body (not signed in, too
/// large, a bad path) would otherwise close the connection with bytes still unread, and the
/// client's kernel then resets it, often before the client has read the answer: the client
/// sees a broken connection instead of the JSON refusal. Larger bodies (the HR import), and
/// any body while the budget is spent, stream as before.
pub async fn read_small_bodies(
    axum::extract::State(state): axum::extract::State<crate::WebState>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(len) = declared.filter(|n| *n > 0 && *n <= READ_AHEAD) else {
        return next.run(req).await;
    };
    let kib = u32::try_from(len.div_ceil(1024)).unwrap_or(u32::MAX);
    let Ok(_permit) = state.read_ahead.try_acquire_many(kib) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // A client trickling its body cannot hold the budget for long.
    let read = tokio::time::timeout(READ_AHEAD_TIME, axum::body::to_bytes(body, READ_AHEAD));
    match read.await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => axum::http::StatusCode::BAD_REQUEST.into_response(),
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}
