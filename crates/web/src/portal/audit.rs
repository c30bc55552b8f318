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
    /// An action, or a family of them ending in a dot (`signin.`).
    #[serde(default)]
    pub action: String,
    /// `success`, `failure` or `denied`.
    #[serde(default)]
    pub outcome: String,
}

/// The kinds of events the viewer filters by: a family of actions and its name.
const FAMILIES: [(&str, &str); 15] = [
    ("signin.", "Sign-ins"),
    ("account.", "Accounts and locks"),
    ("password.", "Passwords"),
    ("mfa.", "Second factors"),
    ("app_password.", "App passwords"),
    ("session.", "Browser sessions"),
    ("role.", "Roles"),
    ("authz.denied", "Refusals"),
    ("invitation.", "Invitations"),
    ("department.", "Departments"),
    ("source.", "Paused networks"),
    ("policy.", "Policies"),
    ("oidc.", "Single sign-on"),
    ("mail.", "Mail"),
    ("api_token.", "API tokens"),
];

/// An event as the viewer shows it: its action in words, its details folded away.
pub(crate) struct EventView {
    pub event: carepost_audit::Event,
    pub words: String,
    /// The details as indented JSON; empty when there are none.
    pub details: String,
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
                actions: Some(f.action.trim().to_string())
                    .filter(|a| !a.is_empty())
                    .into_iter()
                    .collect(),
                outcome: Some(f.outcome.trim().to_string()).filter(|o| !o.is_empty()),
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
    let mut export = url::form_urlencoded::Serializer::new(String::new());
    export.append_pair("limit", "1000");
    for (k, v) in [
        ("actor", &f.actor),
        ("target", &f.target),
        ("since", &f.since),
        ("until", &f.until),
        ("action", &f.action),
        ("outcome", &f.outcome),
    ] {
        if !v.trim().is_empty() {
            export.append_pair(k, v.trim());
        }
    }
    let export = format!("/api/v1/audit?{}", export.finish());
    let events = events
        .into_iter()
        .map(|event| {
            let details = match serde_json::from_str::<serde_json::Value>(&event.details) {
                Ok(serde_json::Value::Object(m)) if m.is_empty() => String::new(),
                Ok(serde_json::Value::Null) => String::new(),
                Ok(v) => serde_json::to_string_pretty(&v).unwrap_or_default(),
                Err(_) => event.details.clone(),
            };
            EventView {
                words: carepost_audit::action::in_words(&event.action).to_string(),
                details,
                event,
            }
        })
        .collect();
    let mut families: Vec<(String, String, bool)> = FAMILIES
        .iter()
        .map(|(a, name)| ((*a).to_string(), (*name).to_string(), *a == f.action.trim()))
        .collect();
    // An exact action asked for (from a link) stays chosen.
    if !f.action.trim().is_empty() && !families.iter().any(|x| x.2) {
        let a = f.action.trim().to_string();
        families.push((
            a.clone(),
            carepost_audit::action::in_words(&a).to_string(),
            true,
        ));
    }
    let outcomes = ["success", "failure", "denied"]
        .map(|o| (o, o == f.outcome.trim()))
        .to_vec();
    render(
        &super::pages::AuditPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/audit"),
            filter: f,
            families,
            outcomes,
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
