//! Signing in (password, then the second step), signing out, and forgot-password. The steps
//! and their refusals are the authentication service's, as in the JSON API; failures show the
//! same words for an unknown address, a wrong password and a locked account.

use super::pages::{ForgotPage, SignInPage, VerifyPage};
use super::{Csrf, PageResult, org, render, see_other, session, stale_form};
use crate::WebState;
use crate::api::session::{MFA_COOKIE, SESSION_COOKIE, Source, pending_account, set_cookie};
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use carepost_identity::{IdentityError, Protocol, Refusal, SecondFactor, SignIn};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    login: String,
    password: String,
}

pub async fn page(State(state): State<WebState>, headers: HeaderMap, csrf: Csrf) -> PageResult {
    if session(&state, &headers).await?.is_some() {
        return Ok(see_other("/account", &[]));
    }
    render(
        &SignInPage {
            org: org(&state),
            signed_in_as: None,
            csrf: csrf.token.clone(),
            login: String::new(),
            error: None,
            notices: Vec::new(),
        },
        &csrf,
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
        return Ok(stale_form("/sign-in"));
    }
    // Signing in over someone's open session (a shared workstation) ends that session.
    if let Some(old) = session(&state, &headers).await? {
        state
            .directory
            .end_sessions(old.account, Some(old.id))
            .await?;
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
    };
    let s = match state.directory.sign_in(&attempt).await? {
        Ok(s) => s,
        Err(Refusal::Invalid) => {
            let page = refused(
                "The email address or password is not right. After several tries the account is locked for a while: then use \"Forgot your password\".",
            );
            return render(&page, &csrf);
        }
        Err(r) => return render(&refused(r.message()), &csrf),
    };
    if s.complete {
        let token = crate::api::auth::open_session(&state, &s, &["pwd"], &headers, source).await?;
        return Ok(see_other(
            "/account",
            &[
                set_cookie(SESSION_COOKIE, Some(&token), None),
                set_cookie(MFA_COOKIE, None, None),
            ],
        ));
    }
    let pending = state.directory.pending_second_factor(s.account).await?;
    Ok(see_other(
        "/sign-in/verify",
        &[
            set_cookie(MFA_COOKIE, Some(&pending), Some(300)),
            set_cookie(SESSION_COOKIE, None, None),
        ],
    ))
}

async fn verify_form(
    state: &WebState,
    account: carepost_types::AccountId,
    csrf: &Csrf,
    error: Option<String>,
) -> PageResult {
    let (totp, passkey) = match state.directory.second_factor_state(account).await? {
        SecondFactor::Required { totp, passkeys, .. } => (totp, passkeys > 0),
        _ => (false, false),
    };
    render(
        &VerifyPage {
            org: org(state),
            signed_in_as: None,
            csrf: csrf.token.clone(),
            error,
            totp,
            passkey,
        },
        csrf,
    )
}

pub async fn verify_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    match pending_account(&state, &headers).await? {
        Some(account) => verify_form(&state, account, &csrf, None).await,
        None => Ok(see_other("/sign-in", &[])),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

pub async fn verify(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<CodeForm>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/sign-in/verify"));
    }
    let Some(account) = pending_account(&state, &headers).await? else {
        return Ok(see_other("/sign-in", &[set_cookie(MFA_COOKIE, None, None)]));
    };
    let me = state.directory.own_account(account).await?;
    let attempt = SignIn {
        login: &me.address,
        secret: "",
        protocol: Protocol::Web,
        source: source.0,
    };
    if !state
        .directory
        .verify_second_factor(account, &f.code, &attempt)
        .await?
    {
        let error = "That code is not right, or was used already.".to_string();
        return verify_form(&state, account, &csrf, Some(error)).await;
    }
    let amr = crate::api::auth::code_amr(&f.code);
    let totp = amr.contains(&"otp");
    let s = crate::api::auth::completed_sign_in(&state, account, &me.address).await?;
    let token = crate::api::auth::open_session(&state, &s, amr, &headers, source).await?;
    let to = if totp {
        "/account"
    } else {
        "/account?notice=recovery-code"
    };
    Ok(see_other(
        to,
        &[
            set_cookie(SESSION_COOKIE, Some(&token), None),
            set_cookie(MFA_COOKIE, None, None),
        ],
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
        state.directory.end_sessions(s.account, Some(s.id)).await?;
    }
    Ok(see_other(
        "/sign-in",
        &[
            set_cookie(SESSION_COOKIE, None, None),
            set_cookie(MFA_COOKIE, None, None),
        ],
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
