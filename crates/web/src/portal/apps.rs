//! The console's single sign-on page (IT administrators): registered applications, a form
//! to register one (its secret is shown once, on the answer page), and removal.

use super::admin::{staff, staff_acting};
use super::{Csrf, PageError, PageResult, org, render, see_other};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use carepost_identity::{Actor, IdentityError};
use carepost_oidc::OidcError;
use serde::Deserialize;

struct Said {
    shown_once: Option<(String, Option<String>)>,
    notices: Vec<String>,
    error: Option<String>,
}

async fn apps_page(
    state: &WebState,
    actor: &Actor,
    me: String,
    csrf: &Csrf,
    said: Said,
) -> PageResult {
    let apps = state.oidc.list_clients(actor).await?;
    render(
        &super::pages::AppsPage {
            org: org(state),
            signed_in_as: Some(me),
            csrf: csrf.token.clone(),
            nav: super::console::nav(actor, "/admin/apps"),
            issuer: state.oidc.issuer(),
            apps,
            shown_once: said.shown_once,
            notices: said.notices,
            error: said.error,
        },
        csrf,
    )
}

pub async fn apps(
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
    let notices = match q.done.as_deref() {
        Some("removed") => vec!["The application is removed; its tokens no longer work.".into()],
        _ => Vec::new(),
    };
    let said = Said {
        shown_once: None,
        notices,
        error: None,
    };
    apps_page(&state, &actor, me, &csrf, said).await
}

#[derive(Deserialize)]
pub struct NewApp {
    csrf: String,
    name: String,
    redirect_uris: String,
    #[serde(default)]
    post_logout_redirect_uris: String,
    kind: String,
    #[serde(default)]
    departments: String,
    #[serde(default)]
    roles: String,
    #[serde(default)]
    require_mfa: Option<String>,
    #[serde(default)]
    consent: Option<String>,
}

fn split(text: &str, sep: char) -> Vec<String> {
    text.split(sep)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A refusal the person can correct, shown on the page; anything else is an error page.
fn correctable(e: OidcError) -> Result<String, PageError> {
    match e {
        OidcError::Request(_, m) => Ok(m),
        OidcError::Identity(IdentityError::Invalid(m) | IdentityError::NotFound(m)) => Ok(m),
        other => Err(PageError::Oidc(other)),
    }
}

pub async fn register(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<NewApp>,
) -> PageResult {
    let (actor, me) =
        match staff_acting(&state, &headers, source, (&csrf, &f.csrf), "/admin/apps").await? {
            Ok(x) => x,
            Err(to) => return Ok(to),
        };
    let new = carepost_oidc::NewClient {
        name: f.name,
        redirect_uris: split(&f.redirect_uris, '\n'),
        post_logout_redirect_uris: split(&f.post_logout_redirect_uris, '\n'),
        confidential: f.kind != "public",
        allowed_departments: split(&f.departments, ','),
        allowed_roles: split(&f.roles, ','),
        require_mfa: f.require_mfa.is_some(),
        consent: f.consent.is_some(),
        ..carepost_oidc::NewClient::default()
    };
    let said = match state.oidc.register_client(&actor, &new).await {
        Ok((app, secret)) => Said {
            notices: vec![format!("{} is registered.", app.name)],
            shown_once: Some((app.client_id, secret)),
            error: None,
        },
        Err(e) => Said {
            shown_once: None,
            notices: Vec::new(),
            error: Some(correctable(e)?),
        },
    };
    apps_page(&state, &actor, me, &csrf, said).await
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn remove(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(client_id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> PageResult {
    let (actor, me) =
        match staff_acting(&state, &headers, source, (&csrf, &f.csrf), "/admin/apps").await? {
            Ok(x) => x,
            Err(to) => return Ok(to),
        };
    let said = match state.oidc.remove_client(&actor, &client_id).await {
        Ok(()) => return Ok(see_other("/admin/apps?done=removed", &[])),
        Err(e) => Said {
            shown_once: None,
            notices: Vec::new(),
            error: Some(correctable(e)?),
        },
    };
    apps_page(&state, &actor, me, &csrf, said).await
}
