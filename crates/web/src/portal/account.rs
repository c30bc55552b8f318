//! The signed-in account's own pages: overview (profile, password, second factors, mail apps,
//! sessions), password change, authenticator enrollment with its QR code, recovery codes,
//! passkey removal, app passwords and sessions. A session that must change its password sees
//! only the password page; one whose required second factor is overdue, only enrollment.

use super::pages::{AccountPage, ActivityView, PasswordPage, ShownOncePage, TotpPage};
use super::{Csrf, Gate, PageError, PageResult, gate, org, render, see_other, session, stale_form};
use crate::WebState;
use crate::api::session::Source;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use carepost_identity::{IdentityError, Protocol, Session};
use serde::Deserialize;

/// The session, or where the browser must go instead.
pub(super) async fn signed_in(
    state: &WebState,
    headers: &HeaderMap,
    allow: &[Gate],
) -> Result<Result<(Session, Gate), axum::response::Response>, PageError> {
    let Some(s) = session(state, headers).await? else {
        return Ok(Err(see_other("/sign-in", &[])));
    };
    let g = gate(state, &s).await?;
    let allowed = allow
        .iter()
        .any(|a| std::mem::discriminant(a) == std::mem::discriminant(&g));
    if allowed {
        return Ok(Ok((s, g)));
    }
    Ok(Err(match g {
        Gate::ChangePassword => see_other("/account/password", &[]),
        _ => see_other("/account", &[]),
    }))
}

/// Fixed notices named in a redirect (`?notice=`): no text travels in the URL.
fn notice_text(key: &str, recovery_left: i64) -> Option<String> {
    Some(match key {
        "password-changed" => {
            "Your password is changed. Your other sessions were signed out.".into()
        }
        "totp" => "Your authenticator app is set up.".into(),
        "passkey-removed" => "The passkey is removed.".into(),
        "revoked" => "The app password is revoked: the app using it can no longer sign in.".into(),
        "session-ended" => "That session is signed out.".into(),
        "others-ended" => {
            "Every other browser is signed out, with the applications signed in through them."
                .into()
        }
        "app-signed-out" => {
            "That application is signed out; it must ask you to sign in again.".into()
        }
        "recovery-code" => crate::api::auth::recovery_code_notice(recovery_left),
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
pub struct Notice {
    notice: Option<String>,
    error: Option<String>,
}

pub async fn overview(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Query(q): Query<Notice>,
) -> PageResult {
    let (s, g) = match signed_in(&state, &headers, &[Gate::Open, Gate::EnrollOnly]).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let d = &state.directory;
    let account = d.own_account(s.account).await?;
    let password = d.own_password_state(s.account).await?;
    let mfa = d.own_mfa(s.account).await?;
    let sessions = d.list_sessions(s.account).await?;
    let mail_clients = d.mail_clients(s.account).await?;
    let (ended_apps, apps): (Vec<_>, Vec<_>) = state
        .oidc
        .own_grants(s.account)
        .await?
        .into_iter()
        .partition(|g| g.ended.is_some());
    let mut notices: Vec<String> = q
        .notice
        .as_deref()
        .and_then(|k| notice_text(k, mfa.recovery_codes_left))
        .into_iter()
        .collect();
    if q.notice.as_deref() == Some("password-changed") {
        // The apps the change just stopped, read from the store (no text travels in the URL):
        // revoked for a password change in the last minutes.
        let since = state.clock.now().0 - 10 * 60_000;
        let labels: Vec<String> = mfa
            .app_passwords
            .iter()
            .filter(|a| {
                a.revoke_reason.as_deref() == Some(carepost_identity::REVOKED_BY_PASSWORD_CHANGE)
            })
            .filter(|a| {
                a.revoked_at
                    .as_deref()
                    .and_then(|t| carepost_types::UnixMillis::parse(t).ok())
                    .is_some_and(|t| t.0 >= since)
            })
            .map(|a| a.label.clone())
            .collect();
        notices.extend(crate::api::auth::revoked_apps_notice(&labels));
    }
    if let carepost_identity::SecondFactor::EnrollmentRequired {
        grace_until,
        overdue: false,
    } = d.second_factor_state(s.account).await?
    {
        notices.push(format!(
            "{}: add a passkey or an authenticator app before {}. After that, you can sign in only to set one up.",
            rule_words(&state, s.account).await?,
            grace_until.to_words_utc()
        ));
    }
    if matches!(g, Gate::EnrollOnly) {
        notices.push(format!(
            "{}, and the time to set one up has passed. Add a passkey or an authenticator app to go on.",
            rule_words(&state, s.account).await?
        ));
    } else if password.expires_soon {
        notices.push("Your password expires soon: change it now to avoid being locked out of your mail apps.".into());
    }
    let error = q.error.as_deref().map(|e| match e {
        "totp" => {
            "That code does not match. Check the time on your phone, then set up the app again."
                .to_string()
        }
        "stale" => "That form was out of date; try again.".to_string(),
        _ => "That did not work; try again.".to_string(),
    });
    let page = AccountPage {
        org: org(&state),
        signed_in_as: Some(account.address.clone()),
        csrf: csrf.token.clone(),
        account,
        password,
        mfa,
        sessions,
        current_session: s.id,
        apps,
        ended_apps,
        mail_clients,
        notices,
        error,
        enrollment_only: matches!(g, Gate::EnrollOnly),
        dav_url: format!(
            "{}/dav/",
            state
                .directory
                .config()
                .web
                .public_url
                .as_str()
                .trim_end_matches('/')
        ),
        // A role waiting for a second factor still shows the way to the console, whose
        // answer says what opens it.
        administers: {
            let actor = d.actor_for(s.account, &s.address, None).await?;
            !actor.roles.is_empty() || !actor.waiting_for_factor.is_empty()
        },
        activity: d
            .own_activity(s.account, 25)
            .await?
            .iter()
            .map(ActivityView::from_event)
            .collect(),
    };
    render(&page, &csrf)
}

async fn password_form(
    state: &WebState,
    s: &Session,
    csrf: &Csrf,
    forced: bool,
    errors: Vec<String>,
) -> PageResult {
    render(
        &PasswordPage {
            org: org(state),
            signed_in_as: Some(s.address.clone()),
            csrf: csrf.token.clone(),
            forced,
            errors,
            min_length: state.directory.config().password.min_length,
        },
        csrf,
    )
}

pub async fn password_page(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
) -> PageResult {
    let all = [Gate::Open, Gate::EnrollOnly, Gate::ChangePassword];
    let (s, g) = match signed_in(&state, &headers, &all).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    password_form(
        &state,
        &s,
        &csrf,
        matches!(g, Gate::ChangePassword),
        Vec::new(),
    )
    .await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
}

pub async fn change_password(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    let all = [Gate::Open, Gate::EnrollOnly, Gate::ChangePassword];
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/account/password"));
    }
    let (s, g) = match signed_in(&state, &headers, &all).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    let done = state
        .directory
        .change_own_password(s.account, &f.current, &f.new, source.0, Some(s.id))
        .await;
    let errors = match done {
        Ok(_) => return Ok(see_other("/account?notice=password-changed", &[])),
        Err(IdentityError::PasswordRejected(v)) => v.iter().map(ToString::to_string).collect(),
        Err(IdentityError::Store(e)) => return Err(IdentityError::Store(e).into()),
        Err(IdentityError::Busy) => return Err(IdentityError::Busy.into()),
        Err(other) => vec![other.to_string()],
    };
    password_form(&state, &s, &csrf, matches!(g, Gate::ChangePassword), errors).await
}

#[derive(Deserialize)]
pub struct Confirm {
    csrf: String,
    password: String,
}

/// A session that may change second factors (see `api::me::enrolling`), after the password
/// was given again. `Err`: where to send the browser.
async fn may_change_factors(
    state: &WebState,
    headers: &HeaderMap,
    source: Source,
    csrf: &Csrf,
    form_csrf: &str,
    password: Option<&str>,
) -> Result<Result<Session, axum::response::Response>, PageError> {
    if !csrf.accepts(form_csrf) {
        return Ok(Err(see_other("/account?error=stale", &[])));
    }
    let (s, _) = match signed_in(state, headers, &[Gate::Open, Gate::EnrollOnly]).await? {
        Ok(x) => x,
        Err(to) => return Ok(Err(to)),
    };
    if state.directory.step_up_needed(&s).await? {
        return Ok(Err(super::confirm::confirm_first("/account")));
    }
    state.directory.may_change_factors(&s).await?;
    if let Some(p) = password
        && !state
            .directory
            .confirm_password(s.account, p, source.0)
            .await?
    {
        return Ok(Err(see_other("/account?error=password", &[])));
    }
    Ok(Ok(s))
}

pub async fn begin_totp(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<Confirm>,
) -> PageResult {
    let s = match may_change_factors(&state, &headers, source, &csrf, &f.csrf, Some(&f.password))
        .await?
    {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let e = state.directory.begin_totp(s.account).await?;
    let qr = qrcode::QrCode::new(e.otpauth_url.as_bytes())
        .map_err(|e| PageError::from(IdentityError::Invalid(format!("QR code: {e}"))))?;
    let svg = qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    render(
        &TotpPage {
            org: org(&state),
            signed_in_as: Some(s.address.clone()),
            csrf: csrf.token.clone(),
            qr_svg: svg,
            secret: e.secret.clone(),
            error: None,
        },
        &csrf,
    )
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

pub async fn confirm_totp(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<CodeForm>,
) -> PageResult {
    let s = match may_change_factors(&state, &headers, source, &csrf, &f.csrf, None).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let codes = match state.directory.confirm_totp(s.account, &f.code).await {
        Ok(c) => c,
        Err(IdentityError::Invalid(_)) => return Ok(see_other("/account?error=totp", &[])),
        Err(e) => return Err(e.into()),
    };
    let cookies = crate::api::me::note_factor(&state, &s, &["otp", "mfa"]).await;
    let res = match codes {
        Some(codes) => shown_once(
            &state,
            &s,
            &csrf,
            "Your recovery codes",
            "Your authenticator app is set up. These ten codes let you in if you lose your phone; each works once. App passwords made before it no longer work: make new ones for your mail apps.",
            codes,
        )?,
        None => see_other("/account?notice=totp", &[]),
    };
    Ok(crate::api::me::with_cookies(res, cookies))
}

pub(super) fn shown_once(
    state: &WebState,
    s: &Session,
    csrf: &Csrf,
    heading: &str,
    explanation: &str,
    secrets: Vec<String>,
) -> PageResult {
    render(
        &ShownOncePage {
            org: org(state),
            signed_in_as: Some(s.address.clone()),
            csrf: csrf.token.clone(),
            nav: Vec::new(),
            heading: heading.to_string(),
            explanation: explanation.to_string(),
            secrets,
        },
        csrf,
    )
}

pub async fn recovery_codes(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<Confirm>,
) -> PageResult {
    let s = match may_change_factors(&state, &headers, source, &csrf, &f.csrf, Some(&f.password))
        .await?
    {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let codes = state.directory.regenerate_recovery_codes(s.account).await?;
    shown_once(
        &state,
        &s,
        &csrf,
        "New recovery codes",
        "Your earlier recovery codes no longer work. Each of these works once.",
        codes,
    )
}

pub async fn remove_passkey(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Path(id): Path<i64>,
    Form(f): Form<Confirm>,
) -> PageResult {
    let s = match may_change_factors(&state, &headers, source, &csrf, &f.csrf, Some(&f.password))
        .await?
    {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    match state.directory.remove_passkey(s.account, id).await {
        Ok(()) => Ok(see_other("/account?notice=passkey-removed", &[])),
        Err(IdentityError::Conflict(_)) => Ok(see_other("/account?error=last-factor", &[])),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct NewAppPassword {
    csrf: String,
    label: String,
    imap: Option<String>,
    smtp: Option<String>,
    /// Calendars and contacts (CalDAV and CardDAV).
    caldav: Option<String>,
    password: String,
}

pub async fn create_app_password(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<NewAppPassword>,
) -> PageResult {
    if !csrf.accepts(&f.csrf) {
        return Ok(stale_form("/account?error=stale"));
    }
    let (s, _) = match signed_in(&state, &headers, &[Gate::Open]).await? {
        Ok(x) => x,
        Err(to) => return Ok(to),
    };
    // An app password opens mail without the second factor: a recent proof of it first.
    if state.directory.step_up_needed(&s).await? {
        return Ok(super::confirm::confirm_first("/account"));
    }
    if !state
        .directory
        .confirm_password(s.account, &f.password, source.0)
        .await?
    {
        return Ok(see_other("/account?error=password", &[]));
    }
    let mut scopes = Vec::new();
    if f.imap.is_some() {
        scopes.push(Protocol::Imap);
    }
    if f.smtp.is_some() {
        scopes.push(Protocol::Smtp);
    }
    if f.caldav.is_some() {
        scopes.push(Protocol::CalDav);
    }
    let (_, secret) = state
        .directory
        .create_app_password(s.account, &f.label, &scopes, None)
        .await?;
    shown_once(
        &state,
        &s,
        &csrf,
        "Your new app password",
        "Type it into your mail or calendar app as the password, with your email address as the user name.",
        vec![secret],
    )
}

/// The session of a form that acts on one of the account's own items (an app password, a
/// session, an application), after its CSRF token is checked. `Err`: where the browser goes.
pub(super) async fn own_item(
    state: &WebState,
    headers: &HeaderMap,
    csrf: &Csrf,
    form_csrf: &str,
) -> Result<Result<Session, axum::response::Response>, PageError> {
    if !csrf.accepts(form_csrf) {
        return Ok(Err(stale_form("/account?error=stale")));
    }
    Ok(signed_in(state, headers, &[Gate::Open])
        .await?
        .map(|(s, _)| s))
}

pub async fn revoke_app_password(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Path(id): Path<i64>,
    Form(f): Form<super::sign_in::CsrfForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    state
        .directory
        .revoke_app_passwords(s.account, Some(id))
        .await?;
    Ok(see_other("/account?notice=revoked", &[]))
}

pub async fn end_session(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Path(id): Path<i64>,
    Form(f): Form<super::sign_in::CsrfForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    state.directory.end_sessions(s.account, Some(id)).await?;
    Ok(see_other("/account?notice=session-ended", &[]))
}

pub async fn end_other_sessions(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Form(f): Form<super::sign_in::CsrfForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    state.directory.end_other_sessions(s.account, s.id).await?;
    Ok(see_other("/account?notice=others-ended", &[]))
}

pub async fn sign_out_app(
    State(state): State<WebState>,
    headers: HeaderMap,
    csrf: Csrf,
    Path(id): Path<i64>,
    Form(f): Form<super::sign_in::CsrfForm>,
) -> PageResult {
    let s = match own_item(&state, &headers, &csrf, &f.csrf).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    state
        .oidc
        .revoke_own_grant(s.account, &s.address, id)
        .await?;
    Ok(see_other("/account?notice=app-signed-out", &[]))
}

/// The rule that asks this account for a second factor, in words.
async fn rule_words(
    state: &WebState,
    account: carepost_types::AccountId,
) -> Result<String, PageError> {
    Ok(state
        .directory
        .second_factor_rule(account)
        .await?
        .unwrap_or_else(|| "The security policy asks you for a second factor".into()))
}
