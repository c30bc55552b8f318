//! The browser's side of single sign-on: the authorization endpoint, the consent page, and
//! logout. The session comes from the portal's cookies: the Strict one, or its Lax twin that a
//! browser sends when another site links here (see `session_cookies`).

use super::encode;
use crate::WebState;
use crate::api::session::{SESSION_COOKIE, SSO_COOKIE, cookie_value, session_cookies, set_cookie};
use crate::portal::pages::{ConfirmForm, ConsentPage, MessagePage};
use crate::portal::{Csrf, Gate, PageError, PageResult, gate, org, render_with, see_other};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};

use carepost_identity::Session;
use carepost_oidc::{
    AuthorizationRequest, AuthorizeError, Decision, LogoutRequest, SignedInSession,
};
use serde::Deserialize;

/// The portal session the browser brings, from either cookie; `touch`: it counts as the
/// person's activity.
async fn sso_session(
    state: &WebState,
    headers: &HeaderMap,
    touch: bool,
) -> Result<Option<Session>, PageError> {
    for name in [SESSION_COOKIE, SSO_COOKIE] {
        let Some(token) = cookie_value(headers, name) else {
            continue;
        };
        let found = if touch {
            state.directory.resume_session(&token).await?
        } else {
            state.directory.peek_session(&token).await?
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

fn signed_in(s: &Session) -> SignedInSession {
    // A factor enrolled during a password-only session was not used to sign in: applications
    // are told of the password alone.
    let amr = if s
        .amr
        .iter()
        .any(|m| m == carepost_identity::ENROLLED_IN_SESSION)
    {
        vec!["pwd".to_string()]
    } else {
        s.amr.clone()
    };
    SignedInSession {
        id: s.id,
        account: s.account,
        address: s.address.clone(),
        amr,
        auth_time: s.started_at,
    }
}

fn message(
    state: &WebState,
    csrf: &Csrf,
    status: StatusCode,
    heading: &str,
    text: &str,
    confirm: Option<ConfirmForm>,
) -> PageResult {
    // A confirmed logout may end at the application's registered address.
    let to_app = confirm.as_ref().and_then(|f| {
        f.params
            .iter()
            .find(|(k, _)| k == "post_logout_redirect_uri")
            .map(|(_, v)| v.clone())
    });
    let page = MessagePage {
        org: org(state),
        signed_in_as: None,
        csrf: csrf.token.clone(),
        heading: heading.to_string(),
        text: text.to_string(),
        problem: status != StatusCode::OK,
        confirm,
    };
    let mut res = render_with(&page, csrf, to_app.as_deref())?;
    *res.status_mut() = status;
    Ok(res)
}

/// What a scope lets an application see or do, in the person's words.
fn scope_words(scope: &str) -> String {
    match scope {
        "openid" => "who you are (an identifier that stays the same)".into(),
        "email" => "your email address".into(),
        "profile" => "your name, department and role category".into(),
        "groups" => "your departments and administrative roles".into(),
        "offline_access" => {
            "go on while you are signed out (until you sign it out on your account page)".into()
        }
        "mail" => "your mailbox: read and send mail as you".into(),
        other => format!("“{other}”"),
    }
}

fn owned(params: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    params
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

pub async fn authorize_get(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(req): Query<AuthorizationRequest>,
) -> PageResult {
    authorize(state, headers, csrf, req).await
}

pub async fn authorize_post(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(req): Form<AuthorizationRequest>,
) -> PageResult {
    authorize(state, headers, csrf, req).await
}

/// Answers a failed check: to the person, or back to the client.
fn refused(state: &WebState, csrf: &Csrf, e: AuthorizeError) -> PageResult {
    match e {
        AuthorizeError::Page(text) => message(
            state,
            csrf,
            StatusCode::BAD_REQUEST,
            "This sign-in cannot go on",
            &text,
            None,
        ),
        AuthorizeError::Redirect(to) => Ok(see_other(&to, &[])),
        AuthorizeError::Failed(e) => Err(PageError::Oidc(e)),
    }
}

async fn authorize(
    state: WebState,
    headers: HeaderMap,
    csrf: Csrf,
    req: AuthorizationRequest,
) -> PageResult {
    let v = match state.oidc.validate_authorization(&req).await {
        Ok(v) => v,
        Err(e) => return refused(&state, &csrf, e),
    };
    // A silent request (prompt=none) is not the person's doing.
    let mut session = sso_session(&state, &headers, !v.prompt_none).await?;
    if let Some(s) = &session
        && !matches!(gate(&state, s).await?, Gate::Open)
    {
        if v.prompt_none {
            // Not signed in, as far as an application asking silently can tell.
            session = None;
        } else {
            // A password to change or an overdue enrollment comes before any application.
            return Ok(see_other("/account", &[]));
        }
    }
    let decision = state
        .oidc
        .decide(&v, session.as_ref().map(signed_in).as_ref())
        .await?;
    answer(&state, &csrf, &req, session.as_ref(), &v, decision)
}

/// The page or redirect a decision leads to.
fn answer(
    state: &WebState,
    csrf: &Csrf,
    req: &AuthorizationRequest,
    session: Option<&Session>,
    v: &carepost_oidc::ValidRequest,
    decision: Decision,
) -> PageResult {
    let state = state.clone();
    match decision {
        Decision::SignIn => {
            let params = req.params(true);
            let query: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            let next = format!("/oauth2/authorize?{query}");
            let mut to = format!("/sign-in?next={}", encode(&next));
            if let Some(hint) = &v.login_hint {
                to.push_str(&format!("&login_hint={}", encode(hint)));
            }
            Ok(see_other(&to, &[]))
        }
        Decision::Consent {
            client_name,
            scopes,
        } => render_with(
            &ConsentPage {
                org: org(&state),
                signed_in_as: session.map(|s| s.address.clone()),
                csrf: csrf.token.clone(),
                client_name,
                scopes: scopes.iter().map(|s| scope_words(s)).collect(),
                params: owned(req.params(false)),
            },
            csrf,
            Some(v.redirect_uri.as_str()),
        ),
        Decision::Redirect(to) => Ok(see_other(&to, &[])),
        Decision::Page(text) => message(
            &state,
            csrf,
            StatusCode::FORBIDDEN,
            "This application needs more",
            &text,
            None,
        ),
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    csrf: String,
    decision: String,
    #[serde(flatten)]
    req: AuthorizationRequest,
}

pub async fn consent(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<ConsentForm>,
) -> PageResult {
    // The request is checked again as if new: hidden fields are the browser's to change.
    let v = match state.oidc.validate_authorization(&f.req).await {
        Ok(v) => v,
        Err(e) => return refused(&state, &csrf, e),
    };
    let Some(s) = crate::portal::session(&state, &headers).await? else {
        return authorize(state, headers, csrf, f.req).await;
    };
    if !csrf.accepts(&f.csrf) || !matches!(gate(&state, &s).await?, Gate::Open) {
        return authorize(state, headers, csrf, f.req).await;
    }
    let decision = state
        .oidc
        .consent(&v, &signed_in(&s), f.decision == "allow")
        .await?;
    answer(&state, &csrf, &f.req, Some(&s), &v, decision)
}

pub async fn logout_get(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(req): Query<LogoutRequest>,
) -> PageResult {
    logout(state, headers, csrf, req).await
}

pub async fn logout_post(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(req): Form<LogoutRequest>,
) -> PageResult {
    logout(state, headers, csrf, req).await
}

fn logout_refused(state: &WebState, csrf: &Csrf, e: &carepost_oidc::OidcError) -> PageResult {
    message(
        state,
        csrf,
        StatusCode::BAD_REQUEST,
        "This sign-out cannot go on",
        &e.to_string(),
        None,
    )
}

fn signed_out(state: &WebState, csrf: &Csrf, redirect: Option<String>) -> PageResult {
    let [session, sso] = session_cookies(None);
    match redirect {
        Some(to) => Ok(see_other(&to, &[session, sso])),
        None => {
            let mut res = message(
                state,
                csrf,
                StatusCode::OK,
                "Signed out",
                "You are signed out of carepost. Close this window on a shared computer.",
                None,
            )?;
            for c in [session, sso, set_cookie(crate::api::MFA_COOKIE, None, None)] {
                res.headers_mut().append(axum::http::header::SET_COOKIE, c);
            }
            Ok(res)
        }
    }
}

async fn logout(state: WebState, headers: HeaderMap, csrf: Csrf, req: LogoutRequest) -> PageResult {
    let plan = match state.oidc.check_logout(&req).await {
        Ok(p) => p,
        Err(e) => return logout_refused(&state, &csrf, &e),
    };
    let Some(s) = sso_session(&state, &headers, true).await? else {
        return signed_out(&state, &csrf, plan.redirect);
    };
    // A genuine ID token of this very person, from this very session, is proof enough that
    // they asked; otherwise the person confirms, so that a link elsewhere cannot sign people
    // out at will.
    let same_person = plan.hint_subject.as_deref() == Some(state.oidc.subject(s.account).as_str());
    let same_session = plan.hint_session.as_deref() == Some(s.id.to_string().as_str());
    if same_person && same_session {
        state
            .oidc
            .end_session(&signed_in(&s), plan.client_name.as_deref())
            .await?;
        return signed_out(&state, &csrf, plan.redirect);
    }
    let params: Vec<(String, String)> = [
        ("id_token_hint", &req.id_token_hint),
        ("post_logout_redirect_uri", &req.post_logout_redirect_uri),
        ("state", &req.state),
        ("client_id", &req.client_id),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
    .collect();
    message(
        &state,
        &csrf,
        StatusCode::OK,
        "Sign out?",
        &format!(
            "Sign {} out of carepost and of the applications opened with it?",
            s.address
        ),
        Some(ConfirmForm {
            action: "/oauth2/logout/confirm".into(),
            label: "Sign out".into(),
            params,
        }),
    )
}

#[derive(Deserialize)]
pub struct ConfirmLogout {
    csrf: String,
    #[serde(flatten)]
    req: LogoutRequest,
}

pub async fn logout_confirm(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<ConfirmLogout>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return logout(state, headers, csrf, f.req).await;
    }
    let plan = match state.oidc.check_logout(&f.req).await {
        Ok(p) => p,
        Err(e) => return logout_refused(&state, &csrf, &e),
    };
    if let Some(s) = crate::portal::session(&state, &headers).await? {
        state
            .oidc
            .end_session(&signed_in(&s), plan.client_name.as_deref())
            .await?;
    }
    signed_out(&state, &csrf, plan.redirect)
}
