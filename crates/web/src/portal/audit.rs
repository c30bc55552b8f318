//! The audit viewer for security officers and IT: the newest events by who, about what and
//! when, export of the same search through the JSON API, and verification of the whole chain.
//! What a role may read is the domain's decision (`Permission::ReadAudit`).

use super::admin::staff;
use super::{Csrf, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use carepost_identity::Actor;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct AuditSearch {
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
}

/// Most events the page shows.
const AUDIT_PAGE: i64 = 200;

async fn audit_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    f: AuditSearch,
    verified: Option<String>,
) -> PageResult {
    let time = |t: &str| match t.trim() {
        "" => Ok(None),
        t => carepost_types::UnixMillis::parse(t).map(Some),
    };
    let (filter, error) = match (time(&f.since), time(&f.until)) {
        (Ok(since), Ok(until)) => (
            carepost_store::AuditFilter {
                since,
                until,
                actor: Some(f.actor.trim().to_string()).filter(|a| !a.is_empty()),
                target: Some(f.target.trim().to_string()).filter(|t| !t.is_empty()),
                limit: Some(AUDIT_PAGE),
                newest_first: true,
                ..Default::default()
            },
            None,
        ),
        (Err(e), _) | (_, Err(e)) => (carepost_store::AuditFilter::default(), Some(e)),
    };
    let events = match error {
        None => state.directory.audit_events(actor, &filter).await?,
        Some(_) => Vec::new(),
    };
    let mut export = String::from("/api/v1/audit?limit=1000");
    for (k, v) in [
        ("actor", &f.actor),
        ("target", &f.target),
        ("since", &f.since),
        ("until", &f.until),
    ] {
        if !v.trim().is_empty() {
            let enc: String = v
                .trim()
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            export.push_str(&format!("&{k}={enc}"));
        }
    }
    render(
        &super::pages::AuditPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/audit"),
            filter: f,
            events,
            limit: usize::try_from(AUDIT_PAGE).unwrap_or(usize::MAX),
            export,
            verified,
            error,
        },
        csrf,
    )
}

pub async fn audit(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Query(f): Query<AuditSearch>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    audit_page(&state, &actor, me, &csrf, f, None).await
}

pub async fn verify_audit(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<super::sign_in::CsrfForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(see_other("/admin/audit", &[]));
    }
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let said = match state.directory.verify_audit(&actor).await? {
        Ok(r) => format!(
            "The chain is whole: {} events, each sealed to the one before; the last is {}.",
            r.events, r.head_hash
        ),
        Err(b) => format!(
            "The chain is BROKEN at event {}: {}. Tell IT security now.",
            b.seq.0, b.reason
        ),
    };
    audit_page(
        &state,
        &actor,
        me,
        &csrf,
        AuditSearch::default(),
        Some(said),
    )
    .await
}
