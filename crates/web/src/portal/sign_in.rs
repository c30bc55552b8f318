//! Signing in (password, then the second step), signing out, and forgot-password. The steps
//! and their refusals are the authentication service's, as in the JSON API; failures show the
//! same words for an unknown address, a wrong password and a locked account.

use super::pages::{ForgotPage, SignInPage, VerifyPage};
use super::{Csrf, PageResult, org, render, render_with, see_other, session, stale_form};
use crate::WebState;
use crate::api::session::{MFA_COOKIE, Source, pending_account, session_cookies, set_cookie};
use axum::Form;
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use carepost_identity::{IdentityError, Protocol, Refusal, SignIn};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    login: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Where a sign-in made for an application goes afterwards.
#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: String,
    #[serde(default)]
    login_hint: String,
}

/// `next` if it is a way back to the authorization endpoint, and nowhere else (an open
/// redirect would let a link to carepost send people anywhere).
pub(crate) fn safe_next(next: &str) -> Option<&str> {
    (next.starts_with("/oauth2/authorize?")
        && next.len() <= 8192
        && !next.chars().any(|c| c.is_control() || c == '\\'))
    .then_some(next)
}

/// The application's redirect URI an authorization request (`next`) names.
fn app_of(next: &str) -> Option<String> {
    let next = safe_next(next)?;
    let u = url::Url::parse(&format!("https://portal.invalid{next}")).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .map(|(_, v)| v.into_owned())
}

fn with_next(path: &str, next: &str) -> String {
    match safe_next(next) {
        Some(n) => format!("{path}?next={}", crate::oidc::encode(n)),
        None => path.to_string(),
    }
}

pub async fn page(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Next>,
) -> PageResult {
    let next = safe_next(&q.next).unwrap_or("").to_string();
    // An application may ask for a fresh sign-in over an open session.
    if next.is_empty() && session(&state, &headers).await?.is_some() {
        return Ok(see_other("/account", &[]));
    }
    let to_app = app_of(&next);
    render_with(
        &SignInPage {
            org: org(&state),
            signed_in_as: None,
            csrf: csrf.token.clone(),
            login: q.login_hint.chars().take(320).collect(),
            error: None,
            notices: Vec::new(),
            next,
        },
        &csrf,
        to_app.as_deref(),
    )
}

pub async fn submit(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<SignInForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form(&with_next("/sign-in", &f.next)));
    }
    // Signing in over someone's open session (a shared workstation) ends that session.
    if let Some(old) = session(&state, &headers).await? {
        state.directory.sign_out(old.account, old.id).await?;
    }
    let attempt = SignIn {
        login: &f.login,
        secret: &f.password,
        protocol: Protocol::Web,
        source: source.0,
    };
    let refused = |text: &str| SignInPage {
        org: org(&state),
        signed_in_as: None,
        csrf: csrf.token.clone(),
        login: f.login.clone(),
        error: Some(text.to_string()),
        notices: Vec::new(),
        next: safe_next(&f.next).unwrap_or("").to_string(),
    };
    let pending = match state.directory.sign_in(&attempt).await? {
        Ok(s) if s.complete => {
            let token =
                crate::api::auth::open_session(&state, &s, &["pwd"], &headers, source).await?;
            let [session, sso] = session_cookies(Some(&token));
            return Ok(see_other(
                safe_next(&f.next).unwrap_or("/account"),
                &[session, sso, set_cookie(MFA_COOKIE, None, None)],
            ));
        }
        Ok(s) => state.directory.pending_second_factor(&s).await?,
        // A paused network gets a second step for every sign-in, alike (see `Pending`): the
        // page there says that sign-ins are paused and who can go on.
        Err(Refusal::SourcePaused { minutes }) => {
            state.directory.pending_through_pause(&f.login, minutes)?
        }
        Err(Refusal::Invalid) => {
            let page = refused(
                "The email address or password is not right. After several tries the account is locked for a while: then use \"Forgot your password\".",
            );
            return render_with(&page, &csrf, app_of(&f.next).as_deref());
        }
        Err(r) => return render_with(&refused(&r.message()), &csrf, app_of(&f.next).as_deref()),
    };
    let [session, sso] = session_cookies(None);
    Ok(see_other(
        &with_next("/sign-in/verify", &f.next),
        &[
            set_cookie(MFA_COOKIE, Some(&pending), Some(300)),
            session,
            sso,
        ],
    ))
}

async fn verify_form(
    state: &WebState,
    pending: &carepost_identity::Pending,
    csrf: &Csrf,
    error: Option<String>,
    next: &str,
) -> PageResult {
    let step = state.directory.second_step(pending).await?;
    render_with(
        &VerifyPage {
            org: org(state),
            signed_in_as: None,
            csrf: csrf.token.clone(),
            error,
            notice: pending.notice(),
            totp: step.totp,
            passkey: step.passkey,
            next: safe_next(next).unwrap_or("").to_string(),
        },
        csrf,
        app_of(next).as_deref(),
    )
}

pub async fn verify_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Next>,
) -> PageResult {
    match pending_account(&state, &headers).await? {
        Some(p) => verify_form(&state, &p, &csrf, None, &q.next).await,
        None => Ok(see_other("/sign-in", &[])),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    pub(super) csrf: String,
    pub(super) code: String,
    #[serde(default)]
    pub(super) next: String,
}

pub async fn verify(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<CodeForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form(&with_next("/sign-in/verify", &f.next)));
    }
    let Some(pending) = pending_account(&state, &headers).await? else {
        return Ok(see_other("/sign-in", &[set_cookie(MFA_COOKIE, None, None)]));
    };
    let attempt = SignIn {
        login: pending.login(),
        secret: "",
        protocol: Protocol::Web,
        source: source.0,
    };
    let passed = state
        .directory
        .verify_pending_code(&pending, &f.code, &attempt)
        .await?;
    let Some(account) = pending.account().filter(|_| passed) else {
        let error = "That code is not right, or was used already.".to_string();
        return verify_form(&state, &pending, &csrf, Some(error), &f.next).await;
    };
    let me = state.directory.own_account(account).await?;
    let amr = crate::api::auth::code_amr(&f.code);
    let totp = amr.contains(&"otp");
    let s = crate::api::auth::completed_sign_in(&state, account, &me.address).await?;
    let token = crate::api::auth::open_session(&state, &s, amr, &headers, source).await?;
    let to = match (safe_next(&f.next), totp) {
        (Some(next), _) => next,
        (None, true) => "/account",
        (None, false) => "/account?notice=recovery-code",
    };
    let [session, sso] = session_cookies(Some(&token));
    Ok(see_other(
        to,
        &[session, sso, set_cookie(MFA_COOKIE, None, None)],
    ))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub(super) csrf: String,
}

pub async fn sign_out(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<CsrfForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/account"));
    }
    if let Some(s) = session(&state, &headers).await? {
        state.directory.sign_out(s.account, s.id).await?;
    }
    let [session, sso] = session_cookies(None);
    Ok(see_other(
        "/sign-in",
        &[session, sso, set_cookie(MFA_COOKIE, None, None)],
    ))
}

fn forgot_form(
    state: &WebState,
    csrf: &Csrf,
    error: Option<String>,
    done: Vec<String>,
) -> PageResult {
    render(
        &ForgotPage {
            org: org(state),
            signed_in_as: None,
            csrf: csrf.token.clone(),
            error,
            done,
        },
        csrf,
    )
}

pub async fn forgot_page(State(state): State<WebState>, csrf: Csrf) -> PageResult {
    forgot_form(&state, &csrf, None, Vec::new())
}

#[derive(Deserialize)]
pub struct ForgotForm {
    csrf: String,
    login: String,
    code: String,
    #[serde(default)]
    new_password: String,
}

pub async fn forgot(
    State(state): State<WebState>,
    source: Source,
    csrf: Csrf,
    Form(f): Form<ForgotForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/forgot"));
    }
    let new = Some(f.new_password.as_str()).filter(|p| !p.is_empty());
    let r = match state
        .directory
        .recover_account(&f.login, &f.code, new, source.0)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            let e = "That did not work. If you have no recovery code and no authenticator app, call the helpdesk.";
            return forgot_form(&state, &csrf, Some(e.to_string()), Vec::new());
        }
        Err(IdentityError::PasswordRejected(v)) => {
            let list: Vec<String> = v.iter().map(ToString::to_string).collect();
            let e = format!("The new password was refused: {}", list.join("; "));
            return forgot_form(&state, &csrf, Some(e), Vec::new());
        }
        Err(e) => return Err(e.into()),
    };
    forgot_form(&state, &csrf, None, crate::api::auth::recovery_notices(&r))
}
