//! CardDAV over HTTPS (RFC 6352): each account's personal address books under
//! `/dav/addressbooks/ADDRESS/` (read-write vCards kept byte for byte, with ETags, conditional
//! writes and sync-collection), and the organization's directory as the read-only book
//! `directory` beside them, kept current on phones by sync-collection a page at a time and
//! searched with `addressbook-query`. Same sign-in and ownership rule as the calendars: the
//! path names its owner, and the caller is that owner.

use super::auth::DavUser;
use super::path::{self, DavPath};
use super::{condition, conditions, dav_error, multistatus, plain};
use crate::WebState;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carepost_calendar::{
    CardFilter, Change, Collection, DIRECTORY_MAX, DIRECTORY_SLUG, DavError, DirectoryChange, Kind,
    card_matches, directory_position, quoted,
};
use carepost_proto_dav::{
    Depth, Multistatus, Name, PropRequest, Report, ns, parse_mkcol, parse_propfind, parse_report,
};

/// Cards one REPORT answers with at most.
const MAX_REPORT: usize = 5000;
/// Property filters one `addressbook-query` may hold (each may cost a directory search).
const MAX_FILTERS: usize = 16;

fn read_only() -> Response {
    condition(StatusCode::FORBIDDEN, Name::dav("need-privileges"))
}

/// One authenticated request on an address-book path.
pub(super) async fn serve(
    state: &WebState,
    user: &DavUser,
    method: &Method,
    path: &DavPath,
    depth: Depth,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let calendars = &state.calendars;
    let directory = |slug: &str| slug == DIRECTORY_SLUG;
    match (method.as_str(), path) {
        ("PROPFIND", _) => {
            if depth == Depth::Infinity && !matches!(path, DavPath::Card(..)) {
                return condition(StatusCode::FORBIDDEN, Name::dav("propfind-finite-depth"));
            }
            match parse_propfind(body) {
                Ok(request) => propfind(state, user, path, depth, &request).await,
                Err(e) => plain(StatusCode::BAD_REQUEST, &e.to_string()),
            }
        }
        ("REPORT", DavPath::Book(_, slug)) => {
            let report = match parse_report(body) {
                Ok(r) => r,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            if directory(slug) {
                return directory_report(state, user, report).await;
            }
            match calendars.book(user.account, slug).await {
                Ok(c) => book_report(state, user, &c, report).await,
                Err(e) => dav_error(e),
            }
        }
        ("REPORT", _) => condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
        ("PROPPATCH" | "DELETE" | "MKCOL", DavPath::Book(_, slug)) if directory(slug) => {
            read_only()
        }
        ("PROPPATCH", DavPath::Book(_, slug)) => {
            let c = match calendars.book(user.account, slug).await {
                Ok(c) => c,
                Err(e) => return dav_error(e),
            };
            super::proppatch(state, &c, &path::book(&user.address, &c.slug), body).await
        }
        ("MKCOL", DavPath::Book(_, slug)) => {
            let mk = match parse_mkcol(body) {
                Ok(m) => m,
                Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
            };
            if !mk
                .resource_types
                .iter()
                .any(|n| n.is(ns::CARDDAV, "addressbook"))
            {
                return plain(StatusCode::FORBIDDEN, "only address books can be made here");
            }
            let (props, _, _) = super::props::settable(&mk.set, &[]);
            match calendars
                .create(user.account, Kind::AddressBook, slug, &[], &props)
                .await
            {
                Ok(_) => StatusCode::CREATED.into_response(),
                Err(e) => dav_error(e),
            }
        }
        ("DELETE", DavPath::Book(_, slug)) => match calendars.book(user.account, slug).await {
            Ok(c) => match calendars.delete(&c).await {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => dav_error(e),
            },
            Err(e) => dav_error(e),
        },
        ("GET" | "HEAD", DavPath::Card(_, slug, name)) => {
            let found = if directory(slug) {
                calendars
                    .directory_card(name)
                    .await
                    .map(|c| (c.etag, c.data))
            } else {
                match calendars.book(user.account, slug).await {
                    Ok(c) => calendars.object(&c, name).await.map(|o| (o.etag, o.data)),
                    Err(e) => Err(e),
                }
            };
            match found {
                Ok((etag, data)) => {
                    let body = if method == Method::HEAD {
                        String::new()
                    } else {
                        data
                    };
                    (
                        StatusCode::OK,
                        [
                            (
                                header::CONTENT_TYPE,
                                "text/vcard; charset=utf-8".to_string(),
                            ),
                            (header::ETAG, quoted(&etag)),
                        ],
                        body,
                    )
                        .into_response()
                }
                Err(e) => dav_error(e),
            }
        }
        ("PUT" | "DELETE", DavPath::Card(_, slug, _)) if directory(slug) => read_only(),
        ("PUT", DavPath::Card(_, slug, name)) => {
            let c = match calendars.book(user.account, slug).await {
                Ok(c) => c,
                Err(DavError::NotFound) => {
                    return plain(StatusCode::CONFLICT, "no such address book");
                }
                Err(e) => return dav_error(e),
            };
            if !super::body_is(headers, true, &["text/vcard", "text/x-vcard"]) {
                return condition(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Name::carddav("supported-address-data"),
                );
            }
            match calendars.put(&c, name, body, &conditions(headers)).await {
                Ok((etag, created)) => super::stored(etag, created),
                Err(DavError::InvalidData(_)) => {
                    condition(StatusCode::FORBIDDEN, Name::carddav("valid-address-data"))
                }
                Err(DavError::UidConflict(_)) => {
                    condition(StatusCode::FORBIDDEN, Name::carddav("no-uid-conflict"))
                }
                Err(e) => dav_error(e),
            }
        }
        ("DELETE", DavPath::Card(_, slug, name)) => {
            let done = match calendars.book(user.account, slug).await {
                Ok(c) => calendars.remove(&c, name, &conditions(headers)).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(()) => StatusCode::NO_CONTENT.into_response(),
                Err(e) => dav_error(e),
            }
        }
        ("GET" | "HEAD", _) => plain(StatusCode::OK, "carepost contacts: use a CardDAV client"),
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "not allowed here"),
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
    let listing = depth != Depth::Zero;
    let result: Result<(), DavError> = async {
        match path {
            DavPath::BookHome(_) => {
                super::props::book_home(&mut m, user, request);
                if listing {
                    for c in calendars.home(user.account).await? {
                        if c.kind == Kind::AddressBook {
                            super::props::book(&mut m, user, &c, request);
                        }
                    }
                    let token = calendars.directory_token().await?;
                    super::props::directory_book(&mut m, user, &token, request);
                }
            }
            DavPath::Book(_, slug) if slug == DIRECTORY_SLUG => {
                let token = calendars.directory_token().await?;
                super::props::directory_book(&mut m, user, &token, request);
                if listing {
                    let href = |n: &str| path::card(&user.address, DIRECTORY_SLUG, n);
                    for c in calendars.directory_cards(DIRECTORY_MAX).await? {
                        super::props::card(&mut m, &href(&c.name), &c.etag, &c.data, request);
                    }
                }
            }
            DavPath::Book(_, slug) => {
                let c = calendars.book(user.account, slug).await?;
                super::props::book(&mut m, user, &c, request);
                if listing {
                    for o in calendars.objects(&c).await? {
                        let href = path::card(&user.address, &c.slug, &o.name);
                        super::props::card(&mut m, &href, &o.etag, &o.data, request);
                    }
                }
            }
            DavPath::Card(_, slug, name) => {
                let (etag, data) = if slug == DIRECTORY_SLUG {
                    let c = calendars.directory_card(name).await?;
                    (c.etag, c.data)
                } else {
                    let c = calendars.book(user.account, slug).await?;
                    let o = calendars.object(&c, name).await?;
                    (o.etag, o.data)
                };
                let href = path::card(&user.address, slug, name);
                super::props::card(&mut m, &href, &etag, &data, request);
            }
            _ => return Err(DavError::NotFound),
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => multistatus(&m),
        Err(e) => dav_error(e),
    }
}

/// The query's filters; `None` when there are too many.
fn filters_of(filters: Vec<(String, carepost_proto_dav::TextMatch)>) -> Option<Vec<CardFilter>> {
    if filters.len() > MAX_FILTERS {
        return None;
    }
    Some(
        filters
            .into_iter()
            .map(|(property, t)| CardFilter {
                property,
                text: t.text,
                match_type: t.match_type,
                negate: t.negate,
            })
            .collect(),
    )
}

async fn book_report(state: &WebState, user: &DavUser, c: &Collection, r: Report) -> Response {
    let calendars = &state.calendars;
    let href = |n: &str| path::card(&user.address, &c.slug, n);
    let mut m = Multistatus::new();
    match r {
        Report::SyncCollection {
            token,
            props,
            limit,
        } => {
            let Some(seq) = super::seq_from(c, &token) else {
                return condition(StatusCode::FORBIDDEN, Name::dav("valid-sync-token"));
            };
            let page = limit.unwrap_or(super::SYNC_PAGE).clamp(1, super::SYNC_PAGE);
            let (changes, now, more) = match calendars.changes(c, seq, page, true).await {
                Ok(x) => x,
                Err(e) => return dav_error(e),
            };
            if more {
                m.status(&path::book(&user.address, &c.slug), 507);
            }
            for ch in changes {
                match ch {
                    Change::Present(o) => {
                        super::props::card(&mut m, &href(&o.name), &o.etag, &o.data, &props)
                    }
                    Change::Deleted(name) => m.status(&href(&name), 404),
                }
            }
            m.sync_token(&carepost_calendar::sync_token(c.id, now));
        }
        Report::Multiget { props, hrefs } => {
            if hrefs.len() > MAX_REPORT {
                return super::over_limit();
            }
            let base = path::book(&user.address, &c.slug);
            let found = match super::multiget(calendars, c, &base, &hrefs, true).await {
                Ok(f) => f,
                Err(e) => return dav_error(e),
            };
            for (h, o) in hrefs.iter().zip(found) {
                match o {
                    Some(o) => super::props::card(&mut m, h, &o.etag, &o.data, &props),
                    None => m.status(h, 404),
                }
            }
        }
        Report::AddressbookQuery {
            props,
            filters,
            all_of,
            limit,
        } => {
            let Some(filters) = filters_of(filters) else {
                return super::over_limit();
            };
            let limit = limit.unwrap_or(MAX_REPORT).min(MAX_REPORT);
            let objects = match calendars.objects(c).await {
                Ok(os) => os,
                Err(e) => return dav_error(e),
            };
            let hits: Vec<_> = objects
                .iter()
                .filter(|o| card_matches(&o.data, &filters, all_of))
                .collect();
            for o in hits.iter().take(limit) {
                super::props::card(&mut m, &href(&o.name), &o.etag, &o.data, &props);
            }
            if hits.len() > limit {
                // RFC 6352 section 8.6.1: a truncated answer says so for the book itself.
                m.status(&path::book(&user.address, &c.slug), 507);
            }
        }
        _ => return condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
    }
    multistatus(&m)
}

async fn directory_report(state: &WebState, user: &DavUser, r: Report) -> Response {
    let calendars = &state.calendars;
    let href = |n: &str| path::card(&user.address, DIRECTORY_SLUG, n);
    let book = path::book(&user.address, DIRECTORY_SLUG);
    let mut m = Multistatus::new();
    match r {
        Report::SyncCollection { token, props, .. } => {
            let after = if token.is_empty() {
                0
            } else {
                let now = match calendars.directory_token().await {
                    Ok(t) => directory_position(&t).unwrap_or(0),
                    Err(e) => return dav_error(e),
                };
                // A token from the future (a store restored from a backup) would skip what
                // changed since: the client starts over instead.
                match directory_position(&token) {
                    Some(p) if p <= now => p,
                    _ => return condition(StatusCode::FORBIDDEN, Name::dav("valid-sync-token")),
                }
            };
            let (changes, next, more) = match calendars.directory_changes(after).await {
                Ok(x) => x,
                Err(e) => return dav_error(e),
            };
            for ch in changes {
                match ch {
                    DirectoryChange::Present(c) => {
                        super::props::card(&mut m, &href(&c.name), &c.etag, &c.data, &props)
                    }
                    DirectoryChange::Gone(name) => m.status(&href(&name), 404),
                }
            }
            if more {
                // RFC 6578 section 3.6: a page; the token given leads on to the rest.
                m.status(&book, 507);
            }
            m.sync_token(&next);
        }
        Report::Multiget { props, hrefs } => {
            if hrefs.len() > MAX_REPORT {
                return super::over_limit();
            }
            for h in hrefs {
                let found = match path::name_in(&book, &h) {
                    Some(name) => calendars.directory_card(&name).await.ok(),
                    None => None,
                };
                match found {
                    Some(c) => super::props::card(&mut m, &h, &c.etag, &c.data, &props),
                    None => m.status(&h, 404),
                }
            }
        }
        Report::AddressbookQuery {
            props,
            filters,
            all_of,
            limit,
        } => {
            let Some(filters) = filters_of(filters) else {
                return super::over_limit();
            };
            let limit = limit.unwrap_or(MAX_REPORT).min(MAX_REPORT);
            // One more than asked for tells whether the answer was cut.
            let found = match calendars
                .directory_search(&filters, all_of, limit + 1)
                .await
            {
                Ok(cs) => cs,
                Err(e) => return dav_error(e),
            };
            for c in found.iter().take(limit) {
                super::props::card(&mut m, &href(&c.name), &c.etag, &c.data, &props);
            }
            if found.len() > limit {
                m.status(&book, 507);
            }
        }
        _ => return condition(StatusCode::FORBIDDEN, Name::dav("supported-report")),
    }
    multistatus(&m)
}
