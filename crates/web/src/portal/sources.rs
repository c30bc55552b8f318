//! The console's landing page (`/admin`: counts, and the sections this role may use) and the
//! helpdesk's list of paused source networks (why, since when, until when) with the lift of a
//! pause, answered with a redirect so that a reload does not lift again.

use super::admin::{staff, staff_acting};
use super::{Csrf, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use carepost_identity::Permission;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

pub async fn list(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Done>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let sources = state.directory.paused_sources(&actor).await?;
    // Fixed words for a redirect's key: no text travels in the URL.
    let notices = match q.done.as_deref() {
        Some("cleared") => {
            vec!["The pause is lifted: sign-ins from that network work again.".into()]
        }
        Some("nothing") => vec!["That network was not paused any more.".into()],
        _ => Vec::new(),
    };
    render(
        &super::pages::SourcesPage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            can_clear: actor
                .roles
                .iter()
                .any(|r| Permission::UnlockAccounts.granted_to(r)),
            sources,
            notices,
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct Clear {
    csrf: String,
    network: String,
}

pub async fn clear(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<Clear>,
) -> PageResult {
    let (actor, _) =
        match staff_acting(&state, &headers, source, (&csrf, &f.csrf), "/admin/sources").await? {
            Ok(x) => x,
            Err(to) => return Ok(to),
        };
    let done = match state.directory.clear_source(&actor, &f.network).await? {
        0 => "nothing",
        _ => "cleared",
    };
    Ok(see_other(&format!("/admin/sources?done={done}"), &[]))
}

/// The console's sections a role may use, as (path, title): the navigation shows only these.
pub(super) fn sections(actor: &carepost_identity::Actor) -> Vec<(&'static str, &'static str)> {
    use carepost_identity::Role;
    let may = |p: Permission| actor.roles.iter().any(|r| p.granted_to(r));
    let supervises = actor.roles.contains(&Role::Supervisor);
    let mut out = vec![
        ("/admin/accounts", "Accounts"),
        ("/admin/departments", "Departments"),
    ];
    if may(Permission::UnlockAccounts) {
        out.push(("/admin/sources", "Paused networks"));
    }
    if may(Permission::StartReset) || supervises {
        out.push(("/admin/reset-requests", "Reset requests"));
    }
    if may(Permission::ManageAccounts) || supervises {
        out.push(("/admin/change-requests", "Change requests"));
        out.push(("/admin/invitations", "Invitations"));
    }
    out.push(("/admin/policies", "Policies"));
    if may(Permission::ManageApps) {
        out.push(("/admin/apps", "Single sign-on"));
    }
    if may(Permission::ReadAudit) {
        out.push(("/admin/audit", "Audit trail"));
    }
    out
}

/// `/admin`: the console's landing page, with the counts staff look at first.
pub async fn home(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let overview = state.directory.overview(&actor).await?;
    render(
        &super::pages::AdminHomePage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: sections(&actor),
            overview,
        },
        &csrf,
    )
}
