//! CalDAV over HTTPS (RFC 4791 on WebDAV, RFC 4918): discovery (RFC 6764 well-known URLs,
//! `current-user-principal`, `calendar-home-set`), each account's calendars and task lists,
//! objects with ETags and conditional writes, `sync-collection` (RFC 6578), `calendar-multiget`
//! and `calendar-query` with time ranges. Requests are parsed with proto-dav, answered by the
//! calendar crate, and every one is authenticated (`auth`); a path names its owner, and an
//! account reaches only its own (403 for another's, whatever exists there).

mod auth;
mod path;
mod props;

pub use auth::DavAuthCache;

use crate::WebState;
use auth::{AuthRefusal, DavUser, authenticate};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use carepost_calendar::{
    Change, Collection, Conditions, DavError, MAX_OBJECT_SIZE, quoted, seq_of_token,
};
use carepost_proto_dav::{
    Depth, Multistatus, Name, PropRequest, Report, error_body, ns, parse_mkcol, parse_propfind,
    parse_proppatch, parse_report,
};
use path::DavPath;

/// The DAV compliance classes and CalDAV features advertised (RFC 4918 section 10.1).
const DAV_HEADER: &str = "1, 3, calendar-access, extended-mkcol";
const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT, MKCALENDAR, MKCOL";
/// Objects one REPORT answers with at most (a multiget asks for this many at most).
const MAX_REPORT: usize = 5000;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/.well-known/caldav", any(well_known))
        .route("/.well-known/carddav", any(well_known))
        .route("/dav", any(handle))
        .route("/dav/", any(handle))
        .route("/dav/{*rest}", any(handle))
        // An object up to the limit, with room for the XML of a REPORT or PROPPATCH.
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_OBJECT_SIZE + 64 * 1024,
        ))
}

/// RFC 6764 section 5: the well-known URL sends the client to the DAV root, where
/// `current-user-principal` says the rest.
async fn well_known() -> Response {
    (
        StatusCode::MOVED_PERMANENTLY,
        [(header::LOCATION, path::ROOT)],
    )
        .into_response()
}

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn multistatus(m: &Multistatus) -> Response {
    xml(StatusCode::MULTI_STATUS, m.to_xml())
}

/// A refusal with a precondition element (RFC 4918 section 16).
fn condition(status: StatusCode, name: Name) -> Response {
    xml(status, error_body(&name))
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

fn dav_error(e: DavError) -> Response {
    match e {
        DavError::NotFound => plain(StatusCode::NOT_FOUND, "not found"),
        DavError::PreconditionFailed => {
            plain(StatusCode::PRECONDITION_FAILED, "the resource changed")
        }
        DavError::Exists => plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "a collection of that name exists",
        ),
        DavError::UidConflict(_) => {
            condition(StatusCode::FORBIDDEN, Name::caldav("no-uid-conflict"))
        }
        DavError::TooLarge => condition(
            StatusCode::PAYLOAD_TOO_LARGE,
            Name::caldav("max-resource-size"),
        ),
        DavError::InvalidData(_) => condition(
            StatusCode::FORBIDDEN,
            Name::caldav("valid-calendar-object-resource"),
        ),
        DavError::UnsupportedComponent(_) => condition(
            StatusCode::FORBIDDEN,
            Name::caldav("supported-calendar-component"),
        ),
        DavError::Invalid(why) => plain(StatusCode::BAD_REQUEST, &why),
        DavError::TooMany => plain(StatusCode::INSUFFICIENT_STORAGE, "too many collections"),
        DavError::Store(e) => {
            tracing::warn!(error = %e, "the calendar store failed");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the calendar store is unavailable",
            )
        }
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [
            (
                header::WWW_AUTHENTICATE,
                "Basic realm=\"carepost\", charset=\"UTF-8\"",
            ),
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        ],
        "sign in with your address and an app password",
    )
        .into_response()
}

async fn handle(State(state): State<WebState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let source = parts.extensions.get::<crate::Peer>().map(|p| p.0.ip());
    let method = parts.method.clone();
    let mut res = if method == Method::OPTIONS {
        // Preflight and capability discovery need no credentials.
        StatusCode::OK.into_response()
    } else {
        match authenticate(&state, &parts.headers, source).await {
            Ok(user) => {
                let body = match axum::body::to_bytes(body, MAX_OBJECT_SIZE + 64 * 1024).await {
                    Ok(b) => b,
                    Err(_) => {
                        return condition(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            Name::caldav("max-resource-size"),
                        );
                    }
                };
                match std::str::from_utf8(&body) {
                    Ok(text) => {
                        serve(
                            &state,
                            &user,
                            &method,
                            parts.uri.path(),
                            &parts.headers,
                            text,
                        )
                        .await
                    }
                    Err(_) => plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body is not UTF-8"),
                }
            }
            Err(AuthRefusal::Unauthorized) => unauthorized(),
            Err(AuthRefusal::Throttled) => plain(
                StatusCode::TOO_MANY_REQUESTS,
                "too many sign-ins from your network; wait a moment",
            ),
            Err(AuthRefusal::Unavailable) => {
                plain(StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable")
            }
        }
    };
    let h = res.headers_mut();
    h.insert("DAV", HeaderValue::from_static(DAV_HEADER));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    metrics::counter!("carepost_dav_requests_total", "status" => res.status().as_u16().to_string())
        .increment(1);
    res
}

/// One authenticated request.
async fn serve(
    state: &WebState,
    user: &DavUser,
    method: &Method,
    raw_path: &str,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let Ok(path) = DavPath::parse(raw_path) else {
        return plain(StatusCode::BAD_REQUEST, "not a DAV path");
    };
    if let Some(owner) = path.owner()
        && owner != user.address
    {
        return plain(StatusCode::FORBIDDEN, "that belongs to someone else");
    }
    let depth = match Depth::parse(headers.get("Depth").and_then(|v| v.to_str().ok())) {
        Ok(d) => d,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Depth must be 0, 1 or infinity"),
    };
    let calendars = &state.calendars;
    match (method.as_str(), &path) {
        ("PROPFIND", _) => {
            // RFC 4918 section 9.1: a server may refuse Depth: infinity.
            if depth == Depth::Infinity && !matches!(path, DavPath::Object(..)) {
                return condition(StatusCode::FORBIDDEN, Name::dav("propfind-finite-depth"));
            }
            let request = match parse_propfind(body) {
                Ok(r) => r,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            propfind(state, user, &path, depth, &request).await
        }
        ("REPORT", DavPath::Collection(_, slug)) => {
            let c = match calendars.collection(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            match parse_report(body) {
                Ok(r) => report(state, user, &c, r).await,
                Err(e) => plain(StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        ("REPORT", _) => condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
        ("PROPPATCH", DavPath::Collection(_, slug)) => {
            let c = match calendars.collection(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            let patch = match parse_proppatch(body) {
                Ok(p) => p,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            let (props, done, refused) = props::settable(&patch.set, &patch.remove);
            if refused.is_empty()
                && let Err(e) = calendars.update(&c, &props).await
            {
                return dav_error(e);
            }
            let mut m = Multistatus::new();
            let href = path::collection(&user.address, &c.slug);
            if refused.is_empty() {
                m.patched(&href, done, Vec::new());
            } else {
                // RFC 4918 section 9.2: all or nothing.
                m.patched(&href, Vec::new(), vec![(403, refused), (424, done)]);
            }
            multistatus(&m)
        }
        ("MKCALENDAR" | "MKCOL", DavPath::Collection(_, slug)) => {
            let mk = match parse_mkcol(body) {
                Ok(m) => m,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            if method.as_str() == "MKCOL"
                && !mk
                    .resource_types
                    .iter()
                    .any(|n| n.is(ns::CALDAV, "calendar"))
            {
                return plain(StatusCode::FORBIDDEN, "only calendars can be made here");
            }
            let components = props::components_of(&mk.set);
            let (props, _, _) = props::settable(&mk.set, &[]);
            match calendars
                .create(user.account, slug, &components, &props)
                .await
            {
                Ok(_) => StatusCode::CREATED.into_response(),
                Err(e) => dav_error(e),
            }
        }
        ("DELETE", DavPath::Collection(_, slug)) => {
            match calendars.collection(user.account, slug).await {
                Ok(c) => match calendars.delete(&c).await {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => dav_error(e),
                },
                Err(e) => dav_error(e),
            }
        }
        ("GET" | "HEAD", DavPath::Object(_, slug, name)) => {
            let found = match calendars.collection(user.account, slug).await {
                Ok(c) => calendars.object(&c, name).await,
                Err(e) => Err(e),
            };
            match found {
                Ok(o) => {
                    let body = if method == Method::HEAD {
                        String::new()
                    } else {
                        o.data
                    };
                    (
                        StatusCode::OK,
                        [
                            (
                                header::CONTENT_TYPE,
                                "text/calendar; charset=utf-8".to_string(),
                            ),
                            (header::ETAG, quoted(&o.etag)),
                        ],
                        body,
                    )
                        .into_response()
                }
                Err(e) => dav_error(e),
            }
        }
        ("PUT", DavPath::Object(_, slug, name)) => {
            let c = match calendars.collection(user.account, slug).await {
                Ok(c) => c,
                Err(DavError::NotFound) => return plain(StatusCode::CONFLICT, "no such calendar"),
                Err(e) => return dav_error(e),
            };
            let kind = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("text/calendar");
            if !kind
                .trim()
                .to_ascii_lowercase()
                .starts_with("text/calendar")
            {
                return condition(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Name::caldav("supported-calendar-data"),
                );
            }
            match calendars.put(&c, name, body, &conditions(headers)).await {
                Ok((etag, created)) => {
                    let status = if created {
                        StatusCode::CREATED
                    } else {
                        StatusCode::NO_CONTENT
                    };
                    (status, [(header::ETAG, quoted(&etag))]).into_response()
                }
                Err(e) => dav_error(e),
            }
        }
        ("DELETE", DavPath::Object(_, slug, name)) => {
            let done = match calendars.collection(user.account, slug).await {
                Ok(c) => calendars.remove(&c, name, &conditions(headers)).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => dav_error(e),
            }
        }
        ("GET" | "HEAD", _) => plain(StatusCode::OK, "carepost calendars: use a CalDAV client"),
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "not allowed here"),
    }
}

fn conditions(headers: &HeaderMap) -> Conditions {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim);
    Conditions {
        if_match: get(header::IF_MATCH).map(str::to_string),
        if_none_match_any: get(header::IF_NONE_MATCH) == Some("*"),
    }
}

async fn propfind(
    state: &WebState,
    user: &DavUser,
    path: &DavPath,
    depth: Depth,
    request: &PropRequest,
) -> Response {
    let calendars = &state.calendars;
    let mut m = Multistatus::new();
    match path {
        DavPath::Root => props::root(&mut m, user, request),
        DavPath::Principal(_) => props::principal(&mut m, user, request),
        DavPath::Home(_) => {
            props::home(&mut m, user, request);
            if depth != Depth::Zero {
                match calendars.home(user.account).await {
                    Ok(cs) => cs
                        .iter()
                        .for_each(|c| props::collection(&mut m, user, c, request)),
                    Err(e) => return dav_error(e),
                }
            }
        }
        DavPath::Collection(_, slug) => {
            let c = match calendars.collection(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            props::collection(&mut m, user, &c, request);
            if depth != Depth::Zero {
                match calendars.objects(&c).await {
                    Ok(os) => os
                        .iter()
                        .for_each(|o| props::object(&mut m, user, &c, o, request)),
                    Err(e) => return dav_error(e),
                }
            }
        }
        DavPath::Object(_, slug, name) => {
            let found = match calendars.collection(user.account, slug).await {
                Ok(c) => calendars.object(&c, name).await.map(|o| (c, o)),
                Err(e) => Err(e),
            };
            match found {
                Ok((c, o)) => props::object(&mut m, user, &c, &o, request),
                Err(e) => return dav_error(e),
            }
        }
    }
    multistatus(&m)
}

async fn report(state: &WebState, user: &DavUser, c: &Collection, r: Report) -> Response {
    let calendars = &state.calendars;
    let mut m = Multistatus::new();
    match r {
        Report::SyncCollection {
            token,
            props,
            limit,
        } => {
            let seq = if token.is_empty() {
                0
            } else {
                match seq_of_token(c, &token) {
                    Some(s) => s,
                    None => return condition(StatusCode::FORBIDDEN, Name::dav("valid-sync-token")),
                }
            };
            let (changes, now) = match calendars.changes(c, seq).await {
                Ok(x) => x,
                Err(e) => return dav_error(e),
            };
            if limit.is_some_and(|l| changes.len() > l) || changes.len() > MAX_REPORT {
                // RFC 6578 section 3.6: past the limit, the client is told to start over with
                // a smaller set; carepost does not page sync results yet.
                return condition(
                    StatusCode::INSUFFICIENT_STORAGE,
                    Name::dav("number-of-matches-within-limits"),
                );
            }
            for ch in changes {
                match ch {
                    Change::Present(o) => props::object(&mut m, user, c, &o, &props),
                    Change::Deleted(name) => {
                        m.status(&path::object(&user.address, &c.slug, &name), 404)
                    }
                }
            }
            m.sync_token(&carepost_calendar::sync_token(c.id, now));
        }
        Report::Multiget { props, hrefs } => {
            if hrefs.len() > MAX_REPORT {
                return condition(
                    StatusCode::FORBIDDEN,
                    Name::dav("number-of-matches-within-limits"),
                );
            }
            let base = path::collection(&user.address, &c.slug);
            for href in hrefs {
                let found = match path::name_in(&base, &href) {
                    Some(name) => calendars.object(c, &name).await.ok(),
                    None => None,
                };
                match found {
                    Some(o) => props::object(&mut m, user, c, &o, &props),
                    None => m.status(&href, 404),
                }
            }
        }
        Report::CalendarQuery { props, filter, .. } => {
            // VCALENDAR > VEVENT|VTODO [> time-range]: what clients send.
            let inner = filter.comps.first();
            let component = inner.map(|f| f.name.as_str());
            let range = inner.and_then(|f| f.time_range);
            let found = calendars
                .in_range(
                    c,
                    component,
                    range.and_then(|r| r.start),
                    range.and_then(|r| r.end),
                )
                .await;
            match found {
                Ok(os) if os.len() > MAX_REPORT => {
                    return condition(
                        StatusCode::FORBIDDEN,
                        Name::dav("number-of-matches-within-limits"),
                    );
                }
                Ok(os) => os
                    .iter()
                    .for_each(|o| props::object(&mut m, user, c, o, &props)),
                Err(e) => return dav_error(e),
            }
        }
        _ => return condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
    }
    multistatus(&m)
}
