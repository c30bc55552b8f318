//! The console's change requests: IT approves or declines what supervisors asked; a
//! supervisor follows their own requests.

use super::admin::{staff, staff_acting};
use super::pages::ChangeRequestsPage;
use super::{Csrf, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use carepost_identity::{Actor, IdentityError, Permission};
use serde::Deserialize;

async fn requests_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    notices: Vec<String>,
    error: Option<String>,
) -> PageResult {
    render(
        &ChangeRequestsPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/change-requests"),
            deciding: actor
                .roles
                .iter()
                .any(|r| Permission::ManageAccounts.granted_to(r)),
            requests: state.directory.change_requests(actor).await?,
            notices,
            error,
        },
        csrf,
    )
}

pub async fn list(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<super::Done>,
) -> PageResult {
    let (actor, me) = match staff(&state, &headers, source).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let said = match q.done.as_deref() {
        Some("approved") => vec!["Approved: the change is made, in your name.".to_string()],
        Some("declined") => vec!["Declined: your note goes back to the supervisor.".to_string()],
        _ => Vec::new(),
    };
    requests_page(&state, &actor, me, &csrf, said, None).await
}

#[derive(Deserialize)]
pub struct Decision {
    csrf: String,
    #[serde(default)]
    note: String,
}

pub async fn decide(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path((id, what)): Path<(i64, String)>,
    Form(f): Form<Decision>,
) -> PageResult {
    let back = "/admin/change-requests";
    let (actor, me) = match staff_acting(&state, &headers, source, (&csrf, &f.csrf), back).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let d = &state.directory;
    let done = match what.as_str() {
        "approve" => d.approve_change(&actor, id).await,
        "decline" => d.decline_change(&actor, id, &f.note).await,
        _ => Err(IdentityError::NotFound("no such decision".into())),
    };
    match done {
        Ok(_) => Ok(see_other(
            match what.as_str() {
                "approve" => "/admin/change-requests?done=approved",
                _ => "/admin/change-requests?done=declined",
            },
            &[],
        )),
        Err(IdentityError::Invalid(m) | IdentityError::NotFound(m)) => {
            requests_page(&state, &actor, me, &csrf, Vec::new(), Some(m)).await
        }
        Err(e) => Err(e.into()),
    }
}
