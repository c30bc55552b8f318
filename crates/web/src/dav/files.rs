//! Plain WebDAV (RFC 4918, classes 1 and 3, no locking) over each account's file space at
//! `/dav/files/ADDRESS/...`: GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH
//! with dead properties. Bodies here are bytes of any type, so this has its own route (and
//! body limit, the policy's largest file) beside the calendars'. Requests are authenticated as
//! every DAV request is, and an account reaches only the space under its own address; the
//! files crate keeps the content.

use super::auth::authenticate;
use super::{condition, multistatus, path::seg, plain, props::answer, refusal};
use crate::WebState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carepost_files::{Conditions, CopyDepth, DeadProp, Entry, FilePath, FilesError, Patch, quoted};
use carepost_proto_dav::{
    Depth, Multistatus, Name, PatchOp, Prop, Value, ns, parse_propfind, parse_proppatch,
};
use carepost_types::AccountId;
use percent_encoding::percent_decode_str;

pub const PREFIX: &str = "/dav/files/";
const DAV_HEADER: &str = "1, 3";
const ALLOW: &str = "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, COPY, MOVE, PROPFIND, PROPPATCH";
/// The largest XML body taken (PROPFIND, PROPPATCH).
const MAX_XML: usize = 1 << 20;
/// Sets and removals one PROPPATCH may hold (a resource keeps at most 200 properties).
const MAX_PATCH_STEPS: usize = 200;

/// A request path read: the space's address and the place in it. `Err` with the reason
/// for a path that is not one (400).
fn parse(raw: &str) -> Result<(String, FilePath), String> {
    let rest = raw
        .strip_prefix(PREFIX)
        .or_else(|| raw.strip_prefix("/dav/files"))
        .ok_or("not a file space path")?;
    let mut parts = Vec::new();
    for seg in rest.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| "a path segment is not UTF-8".to_string())?;
        parts.push(decoded.into_owned());
    }
    if parts.is_empty() {
        return Err("name the file space: /dav/files/ADDRESS/".into());
    }
    let address = parts.remove(0).to_lowercase();
    let path = FilePath::new(parts).map_err(|e| e.to_string())?;
    Ok((address, path))
}

/// The href of a place; folders end with a slash.
fn href(address: &str, path: &FilePath, collection: bool) -> String {
    let mut out = format!("{PREFIX}{}/", seg(address));
    let n = path.segments().len();
    for (i, s) in path.segments().iter().enumerate() {
        out.push_str(&seg(s));
        if i + 1 < n || collection {
            out.push('/');
        }
    }
    out
}

fn files_error(e: FilesError) -> Response {
    match e {
        FilesError::Disabled => plain(StatusCode::NOT_FOUND, "file spaces are not enabled here"),
        FilesError::NotFound => plain(StatusCode::NOT_FOUND, "not found"),
        FilesError::Conflict(why) => plain(StatusCode::CONFLICT, why),
        FilesError::Exists => plain(StatusCode::METHOD_NOT_ALLOWED, "something is there already"),
        FilesError::IsCollection => plain(StatusCode::METHOD_NOT_ALLOWED, "that is a folder"),
        FilesError::PreconditionFailed => plain(
            StatusCode::PRECONDITION_FAILED,
            "the resource changed, or the destination exists",
        ),
        FilesError::TooLarge => plain(StatusCode::PAYLOAD_TOO_LARGE, &e.to_string()),
        // RFC 4331 section 6.
        FilesError::QuotaExceeded => condition(
            StatusCode::INSUFFICIENT_STORAGE,
            Name::dav("quota-not-exceeded"),
        ),
        FilesError::Forbidden(why) => plain(StatusCode::FORBIDDEN, &why),
        FilesError::Invalid(why) => plain(StatusCode::BAD_REQUEST, &why),
        FilesError::Corrupt => {
            tracing::error!("a stored file does not open with its key");
            plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
        }
        FilesError::Store(e) => {
            tracing::warn!(error = %e, "the file store failed");
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "the file store is unavailable",
            )
        }
    }
}

pub async fn handle(State(state): State<WebState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let source = parts.extensions.get::<crate::Peer>().map(|p| p.0.ip());
    let mut res = if parts.method == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else {
        match authenticate(&state, &parts.headers, source).await {
            Ok(user) => {
                // Who may ask, and whether the space is on, before any body is read; only a
                // PUT may bring a file's worth.
                let limit = if parts.method == Method::PUT {
                    usize::try_from(state.files.max_file_size()).unwrap_or(usize::MAX)
                } else {
                    MAX_XML
                };
                let admitted = match parse(parts.uri.path()) {
                    Err(why) => Err(plain(StatusCode::BAD_REQUEST, &why)),
                    Ok((owner, _)) if owner != user.address => {
                        Err(plain(StatusCode::FORBIDDEN, "that belongs to someone else"))
                    }
                    Ok(_) if !state.files.enabled() => Err(files_error(FilesError::Disabled)),
                    Ok(_) => Ok(()),
                };
                match admitted {
                    Err(refused) => refused,
                    Ok(()) => match axum::body::to_bytes(body, limit).await {
                        Ok(body) => {
                            serve(
                                &state,
                                user.account,
                                &user.address,
                                &parts.method,
                                parts.uri.path(),
                                &parts.headers,
                                &body,
                            )
                            .await
                        }
                        Err(_) => plain(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "the body is larger than this server takes",
                        ),
                    },
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

fn conditions(headers: &HeaderMap) -> Conditions {
    let get = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok()).map(str::trim);
    Conditions {
        if_match: get(header::IF_MATCH).map(str::to_string),
        if_none_match_any: get(header::IF_NONE_MATCH) == Some("*"),
    }
}

async fn serve(
    state: &WebState,
    account: AccountId,
    address: &str,
    method: &Method,
    raw_path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let (owner, path) = match parse(raw_path) {
        Ok(p) => p,
        Err(why) => return plain(StatusCode::BAD_REQUEST, &why),
    };
    if owner != address {
        return plain(StatusCode::FORBIDDEN, "that belongs to someone else");
    }
    let files = &state.files;
    if !files.enabled() {
        return files_error(FilesError::Disabled);
    }
    let text = || std::str::from_utf8(body).map_err(|_| "the body is not UTF-8");
    match method.as_str() {
        "GET" | "HEAD" => {
            get(
                state,
                account,
                address,
                &path,
                headers,
                method == Method::HEAD,
            )
            .await
        }
        "PUT" => {
            // RFC 9110 section 14.5: a partial PUT is refused rather than taken whole.
            if headers.contains_key(header::CONTENT_RANGE) {
                return plain(StatusCode::BAD_REQUEST, "Content-Range is not taken on PUT");
            }
            let kind = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            match files
                .put(account, &path, body, kind, &conditions(headers))
                .await
            {
                Ok((etag, created)) => super::stored(Some(etag), created),
                Err(e) => files_error(e),
            }
        }
        "DELETE" => match files.delete(account, &path, &conditions(headers)).await {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => files_error(e),
        },
        "MKCOL" => {
            // RFC 4918 section 9.3: a body this server does not understand is 415.
            if !body.is_empty() {
                return plain(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "MKCOL takes no body here",
                );
            }
            match files.mkcol(account, &path).await {
                Ok(()) => StatusCode::CREATED.into_response(),
                Err(e) => files_error(e),
            }
        }
        "COPY" | "MOVE" => transfer(state, account, address, method, &path, headers).await,
        "PROPFIND" => match text() {
            Ok(t) => propfind(state, account, address, &path, headers, t).await,
            Err(why) => plain(StatusCode::BAD_REQUEST, why),
        },
        "PROPPATCH" => match text() {
            Ok(t) => proppatch(state, account, address, &path, t).await,
            Err(why) => plain(StatusCode::BAD_REQUEST, why),
        },
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "not allowed here"),
    }
}

fn http_date(t: carepost_types::UnixMillis) -> String {
    jiff::Timestamp::from_millisecond(t.0)
        .ok()
        .and_then(|ts| {
            jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&ts)
                .ok()
        })
        .unwrap_or_default()
}

async fn get(
    state: &WebState,
    account: AccountId,
    address: &str,
    path: &FilePath,
    headers: &HeaderMap,
    head: bool,
) -> Response {
    match state.files.read(account, path).await {
        Ok((entry, content)) => {
            let tag = quoted(&entry.etag);
            let unchanged = headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
            let mut res = if unchanged {
                StatusCode::NOT_MODIFIED.into_response()
            } else {
                let len = content.len();
                let mut res = if head {
                    StatusCode::OK.into_response()
                } else {
                    (StatusCode::OK, content).into_response()
                };
                if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
                    res.headers_mut().insert(header::CONTENT_LENGTH, v);
                }
                res
            };
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&entry.content_type) {
                h.insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&tag) {
                h.insert(header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&http_date(entry.modified)) {
                h.insert(header::LAST_MODIFIED, v);
            }
            // A file served from the space is never run by the browser as a page of this site.
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment"),
            );
            h.insert(
                "X-Content-Type-Options",
                HeaderValue::from_static("nosniff"),
            );
            res
        }
        // A folder read in a browser: its names, as plain text.
        Err(FilesError::IsCollection) => match state.files.list(account, path, true).await {
            Ok(entries) => {
                let names: Vec<String> = entries
                    .iter()
                    .skip(1)
                    .map(|e| href(address, &e.path, e.collection))
                    .collect();
                plain(StatusCode::OK, &(names.join("\n") + "\n"))
            }
            Err(e) => files_error(e),
        },
        Err(e) => files_error(e),
    }
}

/// The `Destination` of a COPY or MOVE: an absolute URL on this server, or an absolute path,
/// in the caller's own space.
fn destination(headers: &HeaderMap, address: &str) -> Result<FilePath, (StatusCode, String)> {
    let Some(dest) = headers.get("Destination").and_then(|v| v.to_str().ok()) else {
        return Err((
            StatusCode::BAD_REQUEST,
            "a Destination header is needed".to_string(),
        ));
    };
    let path = if dest.starts_with('/') {
        dest.to_string()
    } else {
        let Ok(uri) = dest.parse::<axum::http::Uri>() else {
            return Err((
                StatusCode::BAD_REQUEST,
                "the Destination is not a URL".to_string(),
            ));
        };
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
        let same = match (uri.authority(), host) {
            (Some(a), Some(h)) => a.as_str().eq_ignore_ascii_case(h),
            // HTTP/2 carries no Host header; the path alone decides, as for a path.
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !same {
            // RFC 4918 section 9.8.5: another server is 502.
            return Err((
                StatusCode::BAD_GATEWAY,
                "the Destination is on another server".to_string(),
            ));
        }
        uri.path().to_string()
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match parse(path) {
        Ok((owner, p)) if owner == address => Ok(p),
        Ok(_) => Err((
            StatusCode::FORBIDDEN,
            "files can be copied and moved only within your own space".to_string(),
        )),
        Err(why) => Err((StatusCode::BAD_REQUEST, why)),
    }
}

async fn transfer(
    state: &WebState,
    account: AccountId,
    address: &str,
    method: &Method,
    from: &FilePath,
    headers: &HeaderMap,
) -> Response {
    let to = match destination(headers, address) {
        Ok(p) => p,
        Err((status, why)) => return plain(status, &why),
    };
    let overwrite = match headers
        .get("Overwrite")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        None | Some("T") => true,
        Some("F") => false,
        Some(_) => return plain(StatusCode::BAD_REQUEST, "Overwrite is T or F"),
    };
    let depth = headers.get("Depth").and_then(|v| v.to_str().ok());
    let done = if method.as_str() == "COPY" {
        let depth = match Depth::parse(depth) {
            Ok(Depth::Zero) => CopyDepth::Zero,
            Ok(Depth::Infinity) => CopyDepth::Infinity,
            _ => return plain(StatusCode::BAD_REQUEST, "COPY takes Depth 0 or infinity"),
        };
        state.files.copy(account, from, &to, depth, overwrite).await
    } else {
        // RFC 4918 section 9.9.2: a folder moves whole.
        if !matches!(Depth::parse(depth), Ok(Depth::Infinity)) {
            return plain(StatusCode::BAD_REQUEST, "MOVE takes Depth infinity");
        }
        state.files.rename(account, from, &to, overwrite).await
    };
    match done {
        Ok(true) => StatusCode::CREATED.into_response(),
        Ok(false) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => files_error(e),
    }
}

/// The live properties of an entry, in the order allprop gives them, and those given only
/// when asked for by name (RFC 4331 quota, on folders).
fn live(entry: &Entry, quota: Option<(u64, u64)>) -> (Vec<Prop>, Vec<Prop>) {
    let mut props = vec![Prop::new(
        Name::dav("resourcetype"),
        if entry.collection {
            Value::Elements(vec![Name::dav("collection")])
        } else {
            Value::Empty
        },
    )];
    let created = jiff::Timestamp::from_millisecond(entry.created.0)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    props.push(Prop::new(Name::dav("creationdate"), Value::Text(created)));
    props.push(Prop::new(
        Name::dav("getlastmodified"),
        Value::Text(http_date(entry.modified)),
    ));
    if !entry.collection {
        props.push(Prop::new(
            Name::dav("getcontentlength"),
            Value::Text(entry.size.to_string()),
        ));
        props.push(Prop::new(
            Name::dav("getcontenttype"),
            Value::Text(entry.content_type.clone()),
        ));
        props.push(Prop::new(
            Name::dav("getetag"),
            Value::Text(quoted(&entry.etag)),
        ));
    }
    // No locking: the lock properties say so (RFC 4918 sections 15.8, 15.10).
    props.push(Prop::new(Name::dav("supportedlock"), Value::Empty));
    props.push(Prop::new(Name::dav("lockdiscovery"), Value::Empty));
    let mut extra = Vec::new();
    if let (true, Some((used, available))) = (entry.collection, quota) {
        extra.push(Prop::new(
            Name::dav("quota-used-bytes"),
            Value::Text(used.to_string()),
        ));
        extra.push(Prop::new(
            Name::dav("quota-available-bytes"),
            Value::Text(available.to_string()),
        ));
    }
    for p in &entry.props {
        props.push(Prop::new(
            Name::new(&p.ns, &p.name),
            Value::Xml {
                inner: p.value.clone(),
                lang: p.lang.clone(),
            },
        ));
    }
    (props, extra)
}

/// Whether a property is one the server computes (a PROPPATCH of it is 403).
fn protected(n: &Name) -> bool {
    n.ns == ns::DAV
        && matches!(
            n.local.as_ref(),
            "resourcetype"
                | "creationdate"
                | "getlastmodified"
                | "getcontentlength"
                | "getcontenttype"
                | "getetag"
                | "supportedlock"
                | "lockdiscovery"
                | "quota-used-bytes"
                | "quota-available-bytes"
        )
}

async fn propfind(
    state: &WebState,
    account: AccountId,
    address: &str,
    path: &FilePath,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let depth = match Depth::parse(headers.get("Depth").and_then(|v| v.to_str().ok())) {
        Ok(d) => d,
        Err(_) => return plain(StatusCode::BAD_REQUEST, "Depth must be 0, 1 or infinity"),
    };
    if depth == Depth::Infinity {
        return condition(StatusCode::FORBIDDEN, Name::dav("propfind-finite-depth"));
    }
    let request = match parse_propfind(body) {
        Ok(r) => r,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let entries = match state.files.list(account, path, depth == Depth::One).await {
        Ok(e) => e,
        Err(e) => return files_error(e),
    };
    let quota = match state.files.usage(account).await {
        Ok(u) => Some((u.used, u.available)),
        Err(e) => return files_error(e),
    };
    let mut m = Multistatus::new();
    for e in &entries {
        let (available, extra) = live(e, quota);
        answer(
            &mut m,
            &href(address, &e.path, e.collection),
            &request,
            available,
            extra,
        );
    }
    multistatus(&m)
}

async fn proppatch(
    state: &WebState,
    account: AccountId,
    address: &str,
    path: &FilePath,
    body: &str,
) -> Response {
    let patch = match parse_proppatch(body) {
        Ok(p) => p,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    // More steps than a resource may have properties cannot all be kept.
    if patch.ops.len() > MAX_PATCH_STEPS {
        return plain(
            StatusCode::INSUFFICIENT_STORAGE,
            "too many properties in one PROPPATCH",
        );
    }
    let mut names: Vec<Name> = Vec::new();
    let mut refused: Vec<Name> = Vec::new();
    let mut steps = Vec::new();
    for op in &patch.ops {
        let name = match op {
            PatchOp::Set(e) => e.name.clone(),
            PatchOp::Remove(n) => n.clone(),
        };
        if protected(&name) {
            refused.push(name.clone());
        }
        if !names.contains(&name) {
            names.push(name.clone());
        }
        steps.push(match op {
            PatchOp::Set(e) => Patch::Set(DeadProp {
                ns: name.ns.into_owned(),
                name: name.local.into_owned(),
                lang: e.lang.clone(),
                value: e.inner_xml(),
            }),
            PatchOp::Remove(n) => Patch::Remove {
                ns: n.ns.to_string(),
                name: n.local.to_string(),
            },
        });
    }
    let entry = match state.files.list(account, path, false).await {
        Ok(e) => e,
        Err(e) => return files_error(e),
    };
    let collection = entry.first().is_some_and(|e| e.collection);
    let href = href(address, path, collection);
    let mut m = Multistatus::new();
    if !refused.is_empty() {
        // All or nothing: the others failed because these did (424).
        let others: Vec<Name> = names.into_iter().filter(|n| !refused.contains(n)).collect();
        let mut failed = vec![(403, refused)];
        if !others.is_empty() {
            failed.push((424, others));
        }
        m.patched(&href, Vec::new(), failed);
        return multistatus(&m);
    }
    match state.files.patch(account, path, &steps).await {
        Ok(()) => m.patched(&href, names, Vec::new()),
        // A value too long, or too many properties: no room for them (RFC 4918 section
        // 9.2.1).
        Err(FilesError::TooLarge | FilesError::Invalid(_)) => {
            m.patched(&href, Vec::new(), vec![(507, names)])
        }
        Err(e) => return files_error(e),
    }
    multistatus(&m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_and_hrefs_written() {
        let (a, p) = parse("/dav/files/Ann@x.org/a%20b/res-%e2%82%ac").unwrap();
        assert_eq!(a, "ann@x.org");
        assert_eq!(p.key(), "a b/res-€");
        assert_eq!(
            href(&a, &p, false),
            "/dav/files/ann@x.org/a%20b/res-%E2%82%AC"
        );
        assert_eq!(href(&a, &FilePath::root(), true), "/dav/files/ann@x.org/");
        let (_, root) = parse("/dav/files/ann@x.org").unwrap();
        assert!(root.is_root());
        assert!(parse("/dav/files/ann@x.org/a%2Fb").is_err());
        assert!(parse("/dav/files/ann@x.org/..").is_err());
        assert!(parse("/dav/files/").is_err());
        assert!(parse("/dav/files/ann@x.org/%ff").is_err());
    }
}
