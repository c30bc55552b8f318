//! Signing in and out: the password step, the second-factor step, and sign-out. A sign-in
//! that needs a second factor gets a short-lived signed cookie instead of a session.

use super::ApiError;
use super::session::{
    ApiJson, MFA_COOKIE, RestrictedUser, Source, pending_account, session_cookies, set_cookie,
};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use carepost_identity::{
    IdentityError, Protocol, PublicKeyCredential, Recovered, Refusal, SecondFactor, SignIn,
    SignedIn,
};
use carepost_types::AccountId;
use serde::{Deserialize, Serialize};

/// Whether the account must still enroll a second factor, and by when.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Enrollment {
    required: bool,
    /// The grace has passed: only enrollment is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grace_until: Option<String>,
}

/// A session is open (its cookie comes with this answer).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedInBody {
    /// `signed_in`.
    status: String,
    address: String,
    must_change_password: bool,
    password_expires_soon: bool,
    mfa_enrollment: Enrollment,
    notices: Vec<String>,
}

/// The second factors the account can answer with.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Factors {
    totp: bool,
    passkey: bool,
    recovery_code: bool,
}

/// The password was right; the second step comes next (a 5-minute cookie comes with this).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SecondFactorBody {
    /// `second_factor_required`.
    status: String,
    factors: Factors,
    /// Why the second step is asked for, when it is not the account's own rule: sign-ins
    /// from this network are paused (then every sign-in from it gets this same answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    notice: Option<String>,
}

/// The answer to the password step.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SignInAnswer {
    SignedIn(SignedInBody),
    SecondFactor(SecondFactorBody),
}

/// What a person proven by `/auth/recover` is told.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveredBody {
    /// `recovered`.
    status: String,
    #[serde(flatten)]
    recovered: Recovered,
    notices: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordStep {
    login: String,
    password: String,
}

/// The second step: a code (the authenticator's or a recovery code), or a passkey's answer
/// to the challenge of `/auth/passkey-challenge`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SecondStep {
    pub(crate) code: Option<String>,
    pub(crate) passkey: Option<PasskeyAnswer>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasskeyAnswer {
    pub(crate) ceremony: String,
    /// The browser's `PublicKeyCredential` as WebAuthn JSON (base64url fields).
    #[schema(value_type = Object)]
    pub(crate) credential: PublicKeyCredential,
}

fn device(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unknown browser")
        .to_string()
}

/// How a second step by code is named (RFC 8176): `otp` for the authenticator's six digits; a
/// recovery code is a second factor but no one-time-password device, so it is `mfa` alone.
const TOTP_AMR: &[&str] = &["pwd", "otp", "mfa"];
const RECOVERY_CODE_AMR: &[&str] = &["pwd", "mfa"];

pub(crate) fn code_amr(code: &str) -> &'static [&'static str] {
    if code.trim().chars().all(|c| c.is_ascii_digit() || c == ' ') {
        TOTP_AMR
    } else {
        RECOVERY_CODE_AMR
    }
}

/// Opens a web session for a completed sign-in; returns the token for the cookie.
pub(crate) async fn open_session(
    state: &WebState,
    s: &SignedIn,
    amr: &[&str],
    headers: &HeaderMap,
    source: Source,
) -> Result<String, IdentityError> {
    let (token, _) = state
        .directory
        .start_session(s, amr, &device(headers), source.0)
        .await?;
    Ok(token)
}

/// The sign-in that a passed second step completes.
pub(crate) async fn completed_sign_in(
    state: &WebState,
    account: AccountId,
    address: &str,
) -> Result<SignedIn, IdentityError> {
    let password = state.directory.own_password_state(account).await?;
    Ok(SignedIn::after_second_step(account, address, &password))
}

/// Opens the session and answers with what the account must still do.
async fn signed_in(
    state: &WebState,
    s: &SignedIn,
    amr: &[&str],
    headers: &HeaderMap,
    source: Source,
    notices: Vec<String>,
) -> Result<Response, ApiError> {
    let token = open_session(state, s, amr, headers, source).await?;
    let mfa_enrollment = match &s.second_factor {
        SecondFactor::EnrollmentRequired {
            grace_until,
            overdue,
        } => Enrollment {
            required: true,
            overdue: Some(*overdue),
            grace_until: Some(grace_until.to_rfc3339()),
        },
        _ => Enrollment {
            required: false,
            overdue: None,
            grace_until: None,
        },
    };
    let body = SignInAnswer::SignedIn(SignedInBody {
        status: "signed_in".into(),
        address: s.address.clone(),
        must_change_password: s.must_change_password,
        password_expires_soon: s.password_expires_soon,
        mfa_enrollment,
        notices,
    });
    let mut res = Json(body).into_response();
    let h = res.headers_mut();
    for c in session_cookies(Some(&token)) {
        h.append(header::SET_COOKIE, c);
    }
    h.append(header::SET_COOKIE, set_cookie(MFA_COOKIE, None, None));
    Ok(res)
}

#[utoipa::path(
    post,
    path = "/auth/sign-in",
    tag = "auth",
    summary = "Password step of a sign-in",
    request_body = PasswordStep,
    responses(
        (status = 200, description = "signed in, or second_factor_required with a 5-minute cookie", body = SignInAnswer),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn sign_in(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    ApiJson(step): ApiJson<PasswordStep>,
) -> Result<Response, ApiError> {
    let attempt = SignIn {
        login: &step.login,
        secret: &step.password,
        protocol: Protocol::Web,
        source: source.0,
    };
    let pending = match state.directory.sign_in(&attempt).await? {
        Ok(s) if s.complete => {
            return signed_in(&state, &s, &["pwd"], &headers, source, Vec::new()).await;
        }
        Ok(s) => state.directory.pending_second_factor(&s).await?,
        // A paused network gets a second step for every sign-in, alike (see `Pending`).
        Err(Refusal::SourcePaused { minutes }) => state
            .directory
            .pending_through_pause(&step.login, minutes)?,
        Err(Refusal::Invalid) => {
            return Err(ApiError::unauthorized(
                "invalid_credentials",
                Refusal::Invalid.message(),
            ));
        }
        Err(r) => return Err(ApiError::unauthorized("refused", r.message())),
    };
    let p = state
        .directory
        .check_pending_second_factor(&pending)
        .await?
        .ok_or_else(|| ApiError::unauthorized("sign_in_expired", "sign in again"))?;
    let step = state.directory.second_step(&p).await?;
    let mut res = Json(SignInAnswer::SecondFactor(SecondFactorBody {
        status: "second_factor_required".into(),
        factors: Factors {
            totp: step.totp,
            passkey: step.passkey,
            recovery_code: step.recovery_code,
        },
        notice: p.notice(),
    }))
    .into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(MFA_COOKIE, Some(&pending), Some(300)),
    );
    Ok(res)
}

#[utoipa::path(
    post,
    path = "/auth/second-factor",
    tag = "auth",
    summary = "Second step: a code or a passkey's answer",
    request_body = SecondStep,
    responses(
        (status = 200, description = "signed in", body = SignedInBody),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn second_factor(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    ApiJson(step): ApiJson<SecondStep>,
) -> Result<Response, ApiError> {
    let expired = || ApiError::unauthorized("sign_in_expired", "sign in with your password again");
    let Some(pending) = pending_account(&state, &headers).await? else {
        let mut res = expired().into_response();
        res.headers_mut()
            .append(header::SET_COOKIE, set_cookie(MFA_COOKIE, None, None));
        return Ok(res);
    };
    let attempt = SignIn {
        login: pending.login(),
        secret: "",
        protocol: Protocol::Web,
        source: source.0,
    };
    // RFC 8176: see `code_amr`; `pop` for a passkey (proof of possession of a key, with the
    // device's user verification).
    let (ok, amr): (bool, &[&str]) = match (&step.code, &step.passkey) {
        (Some(code), None) => {
            let ok = state
                .directory
                .verify_pending_code(&pending, code, &attempt)
                .await?;
            (ok, code_amr(code))
        }
        (None, Some(p)) => {
            let ok = state
                .directory
                .verify_pending_passkey(&pending, &p.ceremony, &p.credential, &attempt)
                .await?;
            (ok, &["pwd", "pop", "mfa"])
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid",
                "send either \"code\" or \"passkey\"",
            ));
        }
    };
    if !ok {
        return Err(ApiError::unauthorized(
            "invalid_code",
            "that code or passkey is not right, or was used already",
        ));
    }
    let Some(account) = pending.account() else {
        return Err(expired());
    };
    let me = state.directory.own_account(account).await?;
    let s = completed_sign_in(&state, account, &me.address).await?;
    let mut notices = Vec::new();
    if amr == RECOVERY_CODE_AMR {
        let left = state.directory.own_mfa(account).await?.recovery_codes_left;
        notices.push(recovery_code_notice(left));
    }
    signed_in(&state, &s, amr, &headers, source, notices).await
}

#[utoipa::path(
    post,
    path = "/auth/sign-out",
    tag = "auth",
    summary = "Ends this session",
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn sign_out(
    State(state): State<WebState>,
    user: Option<RestrictedUser>,
) -> Result<Response, ApiError> {
    if let Some(RestrictedUser(u)) = user {
        state
            .directory
            .sign_out(u.session.account, u.session.id)
            .await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    for c in session_cookies(None) {
        h.append(header::SET_COOKIE, c);
    }
    h.append(header::SET_COOKIE, set_cookie(MFA_COOKIE, None, None));
    Ok(res)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Recover {
    login: String,
    /// A recovery code, or the authenticator's code while the account is not locked.
    code: String,
    /// Omitted: unlock only.
    new_password: Option<String>,
}

/// Forgot password and self-unlock. Every failure to prove gets the same answer; a proven
/// person is told why they could not sign in (a lock, and how many failures led to it) and
/// how many recovery codes are left.
#[utoipa::path(
    post,
    path = "/auth/recover",
    tag = "auth",
    summary = "Forgot password and self-unlock",
    request_body = Recover,
    responses(
        (status = 200, description = "recovered, with notices", body = RecoveredBody),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn recover(
    State(state): State<WebState>,
    source: Source,
    ApiJson(b): ApiJson<Recover>,
) -> Result<Json<RecoveredBody>, ApiError> {
    let Some(r) = state
        .directory
        .recover_account(&b.login, &b.code, b.new_password.as_deref(), source.0)
        .await?
    else {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "that did not work; if you have no recovery code or authenticator, call the helpdesk",
        ));
    };
    let notices = recovery_notices(&r);
    Ok(Json(RecoveredBody {
        status: "recovered".into(),
        recovered: r,
        notices,
    }))
}

/// What a person proven by `/auth/recover` is told.
pub(crate) fn recovery_notices(r: &Recovered) -> Vec<String> {
    let mut notices = Vec::new();
    if let Some(until) = &r.was_locked_until {
        notices.push(format!(
            "Your account was locked until {until} after {} failed sign-ins; it is unlocked now. \
             If those sign-ins were not yours, change your password and tell IT security.",
            r.failed_sign_ins
        ));
    }
    if r.password_changed {
        notices.push("Your new password is set: sign in with it.".to_string());
    }
    if let Some(n) = revoked_apps_notice(&r.app_passwords_revoked) {
        notices.push(n);
    }
    if let Some(left) = r.recovery_codes_left {
        notices.push(recovery_code_notice(left));
    }
    notices
}

/// What a password change did to the mail apps: their app passwords, by label, are revoked
/// and the apps stop until they get new ones. `None` when there were none.
pub(crate) fn revoked_apps_notice(labels: &[String]) -> Option<String> {
    (!labels.is_empty()).then(|| {
        format!(
            "The new password revoked the app password{} of {}: {} stop{} syncing until you make {} in your account's Mail apps section.",
            if labels.len() == 1 { "" } else { "s" },
            labels.join(", "),
            if labels.len() == 1 { "that mail app" } else { "those mail apps" },
            if labels.len() == 1 { "s" } else { "" },
            if labels.len() == 1 { "it a new one" } else { "them new ones" },
        )
    })
}

/// The warning after a recovery code was spent.
pub(crate) fn recovery_code_notice(left: i64) -> String {
    format!(
        "You used a recovery code: {left} left. If that was not you, change your password now; \
         when few are left, make new ones in your security settings."
    )
}
