//! CalDAV over HTTPS (RFC 4791 on WebDAV, RFC 4918): discovery (RFC 6764 well-known URLs,
//! `current-user-principal`, `calendar-home-set`), each account's calendars and task lists,
//! objects with ETags and conditional writes, `sync-collection` (RFC 6578), `calendar-multiget`
//! and `calendar-query` (`query`); address books (`contacts`, RFC 6352); scheduling (RFC 6638): a scheduling inbox per
//! account, an outbox taking free/busy requests, `free-busy-query`, and meetings scheduled by
//! the calendar crate as they are written. Requests are parsed with proto-dav, answered by the
//! calendar crate, and every one is authenticated (`auth`); a path names its owner, and an
//! account reaches only its own (403 for another's, whatever exists there).

mod auth;
mod contacts;
mod feed;
mod files;
mod path;
mod props;
mod query;
mod sharing;

pub use auth::DavAuthCache;

use crate::WebState;
use auth::{AuthRefusal, DavUser, authenticate};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use carepost_calendar::{
    Change, Collection, Conditions, DavError, FreeBusyParties, Kind, MAX_OBJECT_SIZE, OUTBOX_SLUG,
    quoted, seq_of_token,
};
use carepost_proto_dav::{
    Depth, Multistatus, Name, PropRequest, Report, ScheduleAnswer, error_body, ns, parse_mkcol,
    parse_propfind, parse_proppatch, parse_report, schedule_response,
};
use path::DavPath;

/// The DAV compliance classes and CalDAV features advertised (RFC 4918 section 10.1).
const DAV_HEADER: &str =
    "1, 3, addressbook, calendar-access, calendar-auto-schedule, extended-mkcol";
const ALLOW: &str =
    "OPTIONS, GET, HEAD, PUT, DELETE, POST, PROPFIND, PROPPATCH, REPORT, MKCALENDAR, MKCOL";
/// Recipients one free/busy request may name.
const MAX_FREEBUSY_RECIPIENTS: usize = 100;
/// The longest range a free/busy answer covers, in seconds (a year and a day).
const MAX_FREEBUSY_RANGE: i64 = 366 * 86_400;
/// Objects one REPORT answers with at most (a multiget asks for this many at most).
const MAX_REPORT: usize = 5000;
/// Changes one sync-collection answer gives at most; past them it is truncated (507 for the
/// collection) with a token that leads on.
pub(super) const SYNC_PAGE: usize = 1000;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/.well-known/caldav", any(well_known))
        .route("/.well-known/carddav", any(well_known))
        .route("/dav", any(handle))
        .route("/dav/", any(handle))
        .route("/dav/{*rest}", any(handle))
        .route("/calendar-feeds/{file}", axum::routing::get(feed::feed))
        // An object up to the limit, with room for the XML of a REPORT or PROPPATCH.
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_OBJECT_SIZE + 64 * 1024,
        ))
        // The file space reads its bodies itself, up to the policy's largest file.
        .merge(
            Router::new()
                .route("/dav/files", any(files::handle))
                .route("/dav/files/{*rest}", any(files::handle))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
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

pub(super) fn multistatus(m: &Multistatus) -> Response {
    xml(StatusCode::MULTI_STATUS, m.to_xml())
}

/// A refusal with a precondition element (RFC 4918 section 16).
pub(super) fn condition(status: StatusCode, name: Name) -> Response {
    xml(status, error_body(&name))
}

pub(super) fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

/// The answer to a stored PUT: 201 or 204, with the ETag unless the server changed the object
/// as it stored it (a room's answer; the client must read it again, RFC 6638 section 3.2.2).
pub(super) fn stored(etag: Option<String>, created: bool) -> Response {
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    match etag {
        Some(etag) => (status, [(header::ETAG, quoted(&etag))]).into_response(),
        None => status.into_response(),
    }
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
        DavError::TooManyAttendees => condition(
            StatusCode::FORBIDDEN,
            Name::caldav("max-attendees-per-instance"),
        ),
        DavError::Forbidden(why) => plain(StatusCode::FORBIDDEN, &why),
        DavError::Store(e) => {
            tracing::warn!(error = %e, "the calendar store failed");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the calendar store is unavailable",
            )
        }
    }
}

pub(super) fn unauthorized() -> Response {
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
            Err(refused) => refusal(refused),
        }
    };
    let h = res.headers_mut();
    h.insert("DAV", HeaderValue::from_static(DAV_HEADER));
    h.insert(header::ALLOW, HeaderValue::from_static(ALLOW));
    metrics::counter!("carepost_dav_requests_total", "status" => res.status().as_u16().to_string())
        .increment(1);
    res
}

/// The answer to a sign-in that did not pass, the same for every DAV route.
fn refusal(refused: AuthRefusal) -> Response {
    match refused {
        AuthRefusal::Unauthorized => unauthorized(),
        AuthRefusal::Throttled => plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-ins from your network; wait a moment",
        ),
        AuthRefusal::Unavailable => {
            plain(StatusCode::SERVICE_UNAVAILABLE, "sign-in is unavailable")
        }
    }
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
    // The outbox holds nothing: it answers PROPFIND and takes free/busy requests.
    match &path {
        DavPath::Collection(_, slug) if slug == OUTBOX_SLUG => {
            return match method.as_str() {
                "PROPFIND" => match parse_propfind(body) {
                    Ok(request) => {
                        let mut m = Multistatus::new();
                        props::outbox(&mut m, user, &request);
                        multistatus(&m)
                    }
                    Err(e) => plain(StatusCode::BAD_REQUEST, &e.to_string()),
                },
                "POST" => outbox_post(state, user, headers, body).await,
                _ => plain(StatusCode::METHOD_NOT_ALLOWED, "the outbox takes POST only"),
            };
        }
        DavPath::Object(_, slug, _) if slug == OUTBOX_SLUG => {
            return plain(StatusCode::NOT_FOUND, "the outbox holds nothing");
        }
        DavPath::BookHome(_) | DavPath::Book(..) | DavPath::Card(..) => {
            return contacts::serve(state, user, method, &path, depth, headers, body).await;
        }
        _ => {}
    }
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
            let c = match calendars.calendar(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            match parse_report(body) {
                Ok(r) => report(state, user, &c, r).await,
                Err(e) => plain(StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        ("REPORT", _) => condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
        // An XML body only: a form on another site cannot send one (and so cannot borrow
        // credentials a browser remembered to share a calendar).
        ("POST", DavPath::Collection(_, slug)) => {
            if !body_is(headers, false, &["application/xml", "text/xml"]) {
                return plain(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "a share request is application/xml",
                );
            }
            sharing::share_post(state, user, slug, body).await
        }
        ("PROPPATCH", DavPath::Collection(_, slug)) => {
            let c = match calendars.calendar(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            proppatch(state, &c, &path::collection(&user.address, &c.slug), body).await
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
                .create(user.account, Kind::Calendar, slug, &components, &props)
                .await
            {
                Ok(_) => StatusCode::CREATED.into_response(),
                Err(e) => dav_error(e),
            }
        }
        ("DELETE", DavPath::Collection(_, slug)) => {
            match calendars.calendar(user.account, slug).await {
                Ok(c) => match calendars.delete(&c).await {
                    Ok(()) => StatusCode::NO_CONTENT.into_response(),
                    Err(e) => dav_error(e),
                },
                Err(e) => dav_error(e),
            }
        }
        ("GET" | "HEAD", DavPath::Object(_, slug, name)) => {
            let found = match calendars.calendar(user.account, slug).await {
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
            let c = match calendars.calendar(user.account, slug).await {
                Ok(c) => c,
                Err(DavError::NotFound) => return plain(StatusCode::CONFLICT, "no such calendar"),
                Err(e) => return dav_error(e),
            };
            if !body_is(headers, true, &["text/calendar"]) {
                return condition(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Name::caldav("supported-calendar-data"),
                );
            }
            match calendars.put(&c, name, body, &conditions(headers)).await {
                Ok((etag, created)) => stored(etag, created),
                Err(e) => dav_error(e),
            }
        }
        ("DELETE", DavPath::Object(_, slug, name)) => {
            let done = match calendars.calendar(user.account, slug).await {
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

/// PROPPATCH of a calendar or address book at `href`: the name, description and colour, all
/// or nothing (RFC 4918 section 9.2).
async fn proppatch(state: &WebState, c: &Collection, href: &str, body: &str) -> Response {
    let patch = match parse_proppatch(body) {
        Ok(p) => p,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let (props, done, refused) = props::settable(&patch.set, &patch.remove);
    if refused.is_empty()
        && let Err(e) = state.calendars.update(c, &props).await
    {
        return dav_error(e);
    }
    let mut m = Multistatus::new();
    if refused.is_empty() {
        m.patched(href, done, Vec::new());
    } else {
        m.patched(href, Vec::new(), vec![(403, refused), (424, done)]);
    }
    multistatus(&m)
}

/// Whether the request's Content-Type is one of `kinds` (parameters aside); a request
/// without one passes when `missing_ok`.
fn body_is(headers: &HeaderMap, missing_ok: bool, kinds: &[&str]) -> bool {
    match headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => missing_ok,
        Some(k) => {
            let k = k.trim().to_ascii_lowercase();
            kinds.iter().any(|want| k.starts_with(want))
        }
    }
}

/// The objects a multiget names, read in one go, in the order of `hrefs` (`None`: not there,
/// or not in this collection).
pub(super) async fn multiget(
    calendars: &carepost_calendar::Calendars,
    c: &Collection,
    base: &str,
    hrefs: &[String],
    with_data: bool,
) -> Result<Vec<Option<carepost_calendar::DavObject>>, DavError> {
    let names: Vec<Option<String>> = hrefs.iter().map(|h| path::name_in(base, h)).collect();
    let wanted: Vec<String> = names.iter().flatten().cloned().collect();
    let mut by_name: std::collections::HashMap<String, carepost_calendar::DavObject> = calendars
        .objects_named(c, &wanted, with_data)
        .await?
        .into_iter()
        .map(|o| (o.name.clone(), o))
        .collect();
    // Each object is moved into the answer at the last href that names it and copied for
    // any before (a client rarely names one twice).
    let mut left: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for n in &wanted {
        *left.entry(n.as_str()).or_default() += 1;
    }
    Ok(names
        .iter()
        .map(|n| {
            let n = n.as_deref()?;
            let count = left.get_mut(n)?;
            *count -= 1;
            match count {
                0 => by_name.remove(n),
                _ => by_name.get(n).cloned(),
            }
        })
        .collect())
}

/// The refusal of a report that would answer with too much (RFC 5842/6578 precondition).
fn over_limit() -> Response {
    condition(
        StatusCode::FORBIDDEN,
        Name::dav("number-of-matches-within-limits"),
    )
}

/// The change number a sync-collection's token names (0 for none: everything); `None` for a
/// token this collection did not issue.
fn seq_from(c: &Collection, token: &str) -> Option<i64> {
    if token.is_empty() {
        Some(0)
    } else {
        seq_of_token(c, token)
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
                // Its own calendars, then those shared with it (as `shared-ID`).
                let listed = match calendars.home(user.account).await {
                    Ok(own) => match calendars.shared_with(user.account).await {
                        Ok(shared) => own.into_iter().chain(shared).collect::<Vec<_>>(),
                        Err(e) => return dav_error(e),
                    },
                    Err(e) => return dav_error(e),
                };
                let invites = match sharing::invites_of(state, user).await {
                    Ok(i) => i,
                    Err(e) => return dav_error(e),
                };
                for c in listed.iter().filter(|c| c.kind != Kind::AddressBook) {
                    let mine = sharing::invites_for(&invites, &c.slug, c.shared.is_none());
                    props::collection(&mut m, user, c, &mine, request);
                }
                props::outbox(&mut m, user, request);
            }
        }
        DavPath::Collection(_, slug) => {
            let c = match calendars.calendar(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            let invites = match sharing::invites_of(state, user).await {
                Ok(i) => i,
                Err(e) => return dav_error(e),
            };
            let mine = sharing::invites_for(&invites, &c.slug, c.shared.is_none());
            props::collection(&mut m, user, &c, &mine, request);
            if depth != Depth::Zero {
                let base = path::collection(&user.address, &c.slug);
                match calendars.objects(&c).await {
                    Ok(os) => os
                        .into_iter()
                        .for_each(|o| props::object(&mut m, &base, o, request)),
                    Err(e) => return dav_error(e),
                }
            }
        }
        DavPath::Object(_, slug, name) => {
            let found = match calendars.calendar(user.account, slug).await {
                Ok(c) => calendars.object(&c, name).await.map(|o| (c, o)),
                Err(e) => Err(e),
            };
            match found {
                Ok((c, o)) => props::object(
                    &mut m,
                    &path::collection(&user.address, &c.slug),
                    o,
                    request,
                ),
                Err(e) => return dav_error(e),
            }
        }
        // Served by `contacts`.
        DavPath::BookHome(_) | DavPath::Book(..) | DavPath::Card(..) => {
            return plain(StatusCode::NOT_FOUND, "not found");
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
            let Some(seq) = seq_from(c, &token) else {
                return condition(StatusCode::FORBIDDEN, Name::dav("valid-sync-token"));
            };
            // RFC 6578 section 3.6: a page at a time (the client's limit, or ours), the rest
            // from the token the page ends at.
            let page = limit.unwrap_or(SYNC_PAGE).clamp(1, SYNC_PAGE);
            let with_data = props::asks_for(&props, ns::CALDAV, "calendar-data");
            let (changes, now, more) = match calendars.changes(c, seq, page, with_data).await {
                Ok(x) => x,
                Err(e) => return dav_error(e),
            };
            let base = path::collection(&user.address, &c.slug);
            if more {
                m.status(&base, 507);
            }
            for ch in changes {
                match ch {
                    Change::Present(o) => props::object(&mut m, &base, o, &props),
                    Change::Deleted(name) => m.status(&format!("{base}{}", path::seg(&name)), 404),
                }
            }
            m.sync_token(&carepost_calendar::sync_token(c.id, now));
        }
        Report::Multiget { props, hrefs } => {
            if hrefs.len() > MAX_REPORT {
                return over_limit();
            }
            let base = path::collection(&user.address, &c.slug);
            let with_data = props::asks_for(&props, ns::CALDAV, "calendar-data");
            let found = match multiget(calendars, c, &base, &hrefs, with_data).await {
                Ok(f) => f,
                Err(e) => return dav_error(e),
            };
            for (href, o) in hrefs.iter().zip(found) {
                match o {
                    Some(o) => props::object(&mut m, &base, o, &props),
                    None => m.status(href, 404),
                }
            }
        }
        Report::CalendarQuery {
            props,
            filter,
            shape,
            timezone,
        } => {
            // A query's own time zone stands in for the calendar's (RFC 4791 section 9.8).
            let c = match timezone.map(|tz| c.read_in(&tz)).transpose() {
                Ok(zoned) => zoned.unwrap_or_else(|| c.clone()),
                Err(_) => {
                    return condition(StatusCode::FORBIDDEN, Name::caldav("valid-calendar-data"));
                }
            };
            return query::calendar_query(state, user, &c, props, filter, shape).await;
        }
        Report::FreeBusy(range) => {
            let (Some(start), Some(end)) = (range.start, range.end) else {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "free-busy-query needs a start and an end",
                );
            };
            if end <= start || end - start > MAX_FREEBUSY_RANGE {
                return plain(StatusCode::BAD_REQUEST, "the range must be a year or less");
            }
            // The owner's answers decide what is busy, also in a calendar shared with the user.
            let owner = c.shared.as_ref().map_or(&user.address, |s| &s.owner);
            return match calendars.busy_in_collection(c, owner, start, end).await {
                Ok(busy) => {
                    let now = state.clock.now().0 / 1000;
                    let text = carepost_calendar::vfreebusy(
                        &busy,
                        start,
                        end,
                        now,
                        &FreeBusyParties::default(),
                    );
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
                        text,
                    )
                        .into_response()
                }
                Err(e) => dav_error(e),
            };
        }
        _ => return condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
    }
    multistatus(&m)
}

/// A free/busy request posted to the outbox (RFC 6638 section 5): the busy periods of each
/// recipient, as a VFREEBUSY REPLY each, in a `schedule-response`. Only the signed-in
/// person may be its organizer. Meetings need no POST: the server schedules them as they
/// are written (`calendar-auto-schedule`).
async fn outbox_post(
    state: &WebState,
    user: &DavUser,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    if !body_is(headers, false, &["text/calendar"]) {
        return condition(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Name::caldav("supported-calendar-data"),
        );
    }
    let Some(mut request) = carepost_calendar::read_request(body) else {
        return condition(
            StatusCode::FORBIDDEN,
            Name::caldav("valid-scheduling-message"),
        );
    };
    // Each person once, however often the request names them.
    let mut seen = std::collections::HashSet::new();
    request.attendees.retain(|a| seen.insert(a.clone()));
    if request.organizer.as_deref() != Some(user.address.as_str()) {
        return condition(StatusCode::FORBIDDEN, Name::caldav("organizer-allowed"));
    }
    if request.attendees.is_empty() || request.attendees.len() > MAX_FREEBUSY_RECIPIENTS {
        return condition(StatusCode::FORBIDDEN, Name::caldav("recipient-specified"));
    }
    if request.end <= request.start || request.end - request.start > MAX_FREEBUSY_RANGE {
        return plain(StatusCode::BAD_REQUEST, "the range must be a year or less");
    }
    // The same allowance as free/busy asked through the API.
    if crate::api::over_limit(state, &format!("account:{}", user.account.0)) {
        return plain(
            StatusCode::TOO_MANY_REQUESTS,
            "too many calendar requests; wait a moment",
        );
    }
    let now = state.clock.now().0 / 1000;
    let found = match state
        .calendars
        .busy_of_many(&request.attendees, request.start, request.end)
        .await
    {
        Ok(found) => found,
        Err(e) => return dav_error(e),
    };
    let answers: Vec<ScheduleAnswer> = request
        .attendees
        .iter()
        .zip(found)
        .map(|(attendee, busy)| {
            let recipient = format!("mailto:{attendee}");
            match busy {
                Some(busy) => ScheduleAnswer {
                    recipient,
                    request_status: "2.0;Success".into(),
                    calendar_data: Some(carepost_calendar::vfreebusy(
                        &busy,
                        request.start,
                        request.end,
                        now,
                        &FreeBusyParties {
                            uid: request.uid.as_deref(),
                            organizer: Some(&user.address),
                            attendee: Some(attendee),
                        },
                    )),
                },
                None => ScheduleAnswer {
                    recipient,
                    request_status: "3.7;Invalid calendar user".into(),
                    calendar_data: None,
                },
            }
        })
        .collect();
    metrics::counter!("carepost_dav_freebusy_requests_total").increment(1);
    xml(StatusCode::OK, schedule_response(&answers))
}
