//! The step-up page: a person asked for a fresh proof of their second factor (before
//! changing factors, or an administrator's change) gives the authenticator's code, a recovery
//! code or a passkey, and goes back to where they were.

use super::pages::ConfirmPage;
use super::sign_in::CodeForm;
use super::{Csrf, Gate, PageResult, org, render, see_other, session, stale_form};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use carepost_identity::{SecondFactor, Session};
use serde::Deserialize;

/// `next` if it is a page of the portal or the console (never another site).
pub(crate) fn safe_back(next: &str) -> &str {
    let page = next == "/account"
        || next.starts_with("/account/")
        || next.starts_with("/account?")
        || next.starts_with("/admin/");
    let ok = page && next.len() <= 2000 && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if ok { next } else { "/account" }
}

/// Where to send a browser that must confirm first, to come back to `back`.
pub(crate) fn confirm_first(back: &str) -> axum::response::Response {
    let back: String = url::form_urlencoded::byte_serialize(safe_back(back).as_bytes()).collect();
    see_other(&format!("/account/confirm?next={back}"), &[])
}

#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: String,
}

async fn page(
    state: &WebState,
    s: &Session,
    csrf: &Csrf,
    next: &str,
    error: Option<String>,
) -> PageResult {
    let (totp, passkey) = match state.directory.second_factor_state(s.account).await? {
        SecondFactor::Required { totp, passkeys, .. } => (totp, passkeys > 0),
        _ => (false, false),
    };
    render(
        &ConfirmPage {
            org: org(state),
            signed_in_as: Some(s.address.clone()),
            csrf: csrf.token.clone(),
            window: carepost_identity::human_duration(state.directory.config().sessions.step_up),
            error,
            totp,
            passkey,
            next: safe_back(next).to_string(),
        },
        csrf,
    )
}

async fn signed_in(
    state: &WebState,
    headers: &HeaderMap,
) -> Result<Option<Session>, super::PageError> {
    let Some(s) = session(state, headers).await? else {
        return Ok(None);
    };
    Ok(matches!(super::gate(state, &s).await?, Gate::Open).then_some(s))
}

pub async fn confirm_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Next>,
) -> PageResult {
    match signed_in(&state, &headers).await? {
        Some(s) => page(&state, &s, &csrf, &q.next, None).await,
        None => Ok(see_other("/account", &[])),
    }
}

pub async fn confirm(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<CodeForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/account/confirm"));
    }
    let Some(s) = signed_in(&state, &headers).await? else {
        return Ok(see_other("/account", &[]));
    };
    if let Some(token) = state
        .directory
        .step_up_with_code(&s, &f.code, source.0)
        .await?
    {
        // The session goes on under a new token.
        let [session, sso] = crate::api::session::session_cookies(Some(&token));
        return Ok(see_other(safe_back(&f.next), &[session, sso]));
    }
    let error = "That code is not right, or was used already.".to_string();
    page(&state, &s, &csrf, &f.next, Some(error)).await
}
