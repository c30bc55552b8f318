//! The console's shell: the navigation every administration page carries (only the sections
//! the signed-in role may use, from the same permissions that decide each request), the landing
//! page at `/admin`, and the styled page a refusal answers with, naming the role it needs.

use super::admin::staff;
use super::{Csrf, PageResult, org, render, session};
use crate::WebState;
use crate::api::session::Source;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use carepost_identity::{Actor, Permission, Role};

/// One entry of the console's navigation.
pub(crate) struct NavLink {
    pub path: &'static str,
    pub title: &'static str,
    /// The page being shown (marked `aria-current`).
    pub current: bool,
}

/// The console's sections `actor` may use, with `here` marked.
pub(crate) fn nav(actor: &Actor, here: &str) -> Vec<NavLink> {
    let may = |p: Permission| actor.roles.iter().any(|r| p.granted_to(r));
    let supervises = actor.roles.contains(&Role::Supervisor);
    if actor.roles.is_empty() {
        return Vec::new();
    }
    let mut out = vec![
        ("/admin", "Overview"),
        ("/admin/accounts", "Accounts"),
        ("/admin/departments", "Departments"),
    ];
    if may(Permission::ReadDirectory) {
        out.push(("/admin/roles", "Roles"));
    }
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
    if may(Permission::ManageResources) || supervises {
        out.push(("/admin/resources", "Rooms and equipment"));
    }
    out.push(("/admin/policies", "Policies"));
    if may(Permission::ManageApps) {
        out.push(("/admin/apps", "Single sign-on"));
    }
    if may(Permission::ReadAudit) {
        out.push(("/admin/audit", "Audit trail"));
    }
    out.into_iter()
        .map(|(path, title)| NavLink {
            path,
            title,
            current: path == here,
        })
        .collect()
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
    // The counts are organization-wide, for the roles that read the whole directory; a
    // supervisor's landing page is their sections alone (asking would only record a refusal).
    let overview = match actor
        .roles
        .iter()
        .any(|r| Permission::ReadDirectory.granted_to(r))
    {
        true => Some(state.directory.overview(&actor).await?),
        false => None,
    };
    render(
        &super::pages::AdminHomePage {
            org: org(&state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: nav(&actor, "/admin"),
            overview,
        },
        &csrf,
    )
}

/// The words of a refusal, carried from `PageError` to `styled_refusal` (which has the
/// state to draw a page around them).
#[derive(Clone)]
pub(crate) struct Refused(pub String);

/// Turns a refusal into the portal's own page: the reason (which names the role that would be
/// needed), inside the console's shell with whatever this person may use, so a supervisor who
/// follows a link meant for IT sees where they can go rather than a line of plain text.
pub(crate) async fn styled_refusal(
    State(state): State<WebState>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let Some(Refused(reason)) = (res.status() == StatusCode::FORBIDDEN)
        .then(|| res.extensions().get::<Refused>().cloned())
        .flatten()
    else {
        return res;
    };
    let page = refusal_page(&state, &headers, reason).await;
    match page {
        Ok(mut page) => {
            *page.status_mut() = StatusCode::FORBIDDEN;
            page
        }
        // The plain refusal still says it all.
        Err(_) => res,
    }
}

async fn refusal_page(state: &WebState, headers: &HeaderMap, reason: String) -> PageResult {
    let s = session(state, headers).await?;
    let (signed_in_as, links) = match &s {
        Some(s) => {
            let actor = state
                .directory
                .actor_for(s.account, &s.address, None)
                .await?;
            (Some(s.address.clone()), nav(&actor, ""))
        }
        None => (None, Vec::new()),
    };
    let csrf = Csrf::of(headers, state);
    let mut text = reason;
    if let Some(first) = text.get(..1) {
        text = first.to_uppercase() + &text[1..];
    }
    render(
        &super::pages::RefusedPage {
            org: org(state),
            signed_in_as,
            csrf: csrf.token.clone(),
            nav: links,
            text,
        },
        &csrf,
    )
    .map(IntoResponse::into_response)
}
