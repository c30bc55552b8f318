//! The helpdesk's list of paused source networks (why, since when, until when) with the lift of
//! a pause, answered with a redirect so that a reload does not lift again.

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
            nav: super::console::nav(&actor, "/admin/sources"),
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
