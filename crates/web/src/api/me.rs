//! Self-service for the signed-in account: profile, password, sessions, app passwords, TOTP and
//! recovery codes. While the password must be changed (temporary or expired), or a required
//! second factor is overdue, only what resolves it is open (`RestrictedUser`); everything else
//! takes `User`, which refuses such sessions. Creating secrets asks for the password again.

use super::ApiError;
use super::session::{ApiJson, ApiPath, RestrictedUser, User};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use carepost_identity::{
    Account, AppPasswordInfo, MailClientInfo, MfaSummary, PasswordState, Protocol, SessionInfo,
};
use carepost_oidc::GrantInfo;
use carepost_types::UnixMillis;
use serde::{Deserialize, Serialize};

/// This session, as `/me` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThisSession {
    id: i64,
    /// How it was opened (RFC 8176): `pwd`, `otp`, `pop`, `mfa`, ...
    amr: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    account: Account,
    password: PasswordState,
    mfa: MfaSummary,
    session: ThisSession,
}

/// What the policy says of a candidate password.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordCheck {
    ok: bool,
    problems: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Sessions {
    /// This session's id.
    current: i64,
    sessions: Vec<SessionInfo>,
    /// Mail apps seen in the last 30 days.
    mail_clients: Vec<MailClientInfo>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SignedInApps {
    apps: Vec<GrantInfo>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppPasswords {
    app_passwords: Vec<AppPasswordInfo>,
}

/// A new app password, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppPasswordMade {
    id: i64,
    password: String,
    shown_once: bool,
}

/// The authenticator's secret, for the QR code or typing in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpSecret {
    otpauth_url: String,
    secret: String,
}

/// The authenticator is enrolled; with the account's first factor, ten recovery codes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrolled {
    enrolled: bool,
    recovery_codes: Option<Vec<String>>,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    recovery_codes: Vec<String>,
    shown_once: bool,
}

pub(super) async fn confirm(state: &WebState, user: &User, password: &str) -> Result<(), ApiError> {
    if !state
        .directory
        .confirm_password(user.session.account, password, user.source)
        .await?
    {
        return Err(ApiError::unauthorized(
            "invalid_credentials",
            "the password is not right",
        ));
    }
    Ok(())
}

#[utoipa::path(
    get,
    path = "/me",
    tag = "me",
    summary = "The signed-in account",
    responses(
        (status = 200, description = "done", body = Me),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn show(
    State(state): State<WebState>,
    RestrictedUser(user): RestrictedUser,
) -> Result<Json<Me>, ApiError> {
    let id = user.session.account;
    let account = state.directory.own_account(id).await?;
    let password = state.directory.own_password_state(id).await?;
    let mfa = state.directory.own_mfa(id).await?;
    Ok(Json(Me {
        account,
        password,
        mfa,
        session: ThisSession {
            id: user.session.id,
            amr: user.session.amr.clone(),
        },
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current: String,
    new: String,
}

#[utoipa::path(
    post,
    path = "/me/password",
    tag = "me",
    summary = "Change the password",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "done: `app_passwords_revoked` names the app passwords (by label) the change revoked, whose mail apps stop until they get new ones", body = PasswordChanged),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn change_password(
    State(state): State<WebState>,
    RestrictedUser(user): RestrictedUser,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<PasswordChanged>, ApiError> {
    let app_passwords_revoked = state
        .directory
        .change_own_password(
            user.session.account,
            &body.current,
            &body.new,
            user.source,
            Some(user.session.id),
        )
        .await?;
    Ok(Json(PasswordChanged {
        app_passwords_revoked,
    }))
}

/// The answer to a password change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PasswordChanged {
    app_passwords_revoked: Vec<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Candidate {
    new: String,
}

#[utoipa::path(
    post,
    path = "/me/password/check",
    tag = "me",
    summary = "What the policy says of a candidate password (live feedback; history is checked on change)",
    request_body = Candidate,
    responses(
        (status = 200, description = "{ok, problems}", body = PasswordCheck),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn check_password(
    State(state): State<WebState>,
    RestrictedUser(user): RestrictedUser,
    ApiJson(body): ApiJson<Candidate>,
) -> Result<Json<PasswordCheck>, ApiError> {
    let problems: Vec<String> = state
        .directory
        .password_problems(user.session.account, &body.new)
        .await?
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(Json(PasswordCheck {
        ok: problems.is_empty(),
        problems,
    }))
}

#[utoipa::path(
    get,
    path = "/me/sessions",
    tag = "me",
    summary = "Web sessions, and the mail apps seen in the last 30 days",
    responses(
        (status = 200, description = "done", body = Sessions),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn sessions(
    State(state): State<WebState>,
    user: User,
) -> Result<Json<Sessions>, ApiError> {
    let list = state.directory.list_sessions(user.session.account).await?;
    let mail = state.directory.mail_clients(user.session.account).await?;
    Ok(Json(Sessions {
        current: user.session.id,
        sessions: list,
        mail_clients: mail,
    }))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionsEnded {
    ended: u64,
}

#[utoipa::path(
    delete,
    path = "/me/sessions",
    tag = "me",
    summary = "Sign out everywhere else: every other session ends, with the applications signed in through them",
    responses(
        (status = 200, description = "how many sessions ended", body = SessionsEnded),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn end_other_sessions(
    State(state): State<WebState>,
    user: User,
) -> Result<Json<SessionsEnded>, ApiError> {
    let ended = state
        .directory
        .end_other_sessions(user.session.account, user.session.id)
        .await?;
    Ok(Json(SessionsEnded { ended }))
}

#[utoipa::path(
    delete,
    path = "/me/sessions/{id}",
    tag = "me",
    summary = "End one session",
    params(("id" = i64, Path, description = "session id")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn end_session(
    State(state): State<WebState>,
    user: User,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .end_sessions(user.session.account, Some(id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/me/apps",
    tag = "me",
    summary = "Applications signed in with this account (single sign-on)",
    responses(
        (status = 200, description = "done", body = SignedInApps),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn signed_in_apps(
    State(state): State<WebState>,
    user: User,
) -> Result<Json<SignedInApps>, ApiError> {
    let apps = state.oidc.own_grants(user.session.account).await?;
    Ok(Json(SignedInApps { apps }))
}

#[utoipa::path(
    delete,
    path = "/me/apps/{id}",
    tag = "me",
    summary = "Sign an application out: its tokens stop",
    params(("id" = i64, Path, description = "grant id")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn sign_out_app(
    State(state): State<WebState>,
    user: User,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let s = &user.session;
    if !state
        .oidc
        .revoke_own_grant(s.account, &s.address, id)
        .await?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no application signed in with that id",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/me/app-passwords",
    tag = "me",
    summary = "App passwords",
    responses(
        (status = 200, description = "done", body = AppPasswords),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn app_passwords(
    State(state): State<WebState>,
    user: User,
) -> Result<Json<AppPasswords>, ApiError> {
    let list = state
        .directory
        .list_app_passwords(user.session.account)
        .await?;
    Ok(Json(AppPasswords {
        app_passwords: list,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewAppPassword {
    label: String,
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
    password: String,
}

#[utoipa::path(
    post,
    path = "/me/app-passwords",
    tag = "me",
    summary = "Create an app password (shown once)",
    request_body = NewAppPassword,
    responses(
        (status = 201, description = "done", body = AppPasswordMade),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_app_password(
    State(state): State<WebState>,
    user: User,
    ApiJson(body): ApiJson<NewAppPassword>,
) -> Result<(StatusCode, Json<AppPasswordMade>), ApiError> {
    // An app password opens mail without the second factor: a recent proof of it first.
    super::step_up::require_step_up(&state, &user.session).await?;
    confirm(&state, &user, &body.password).await?;
    let mut scopes = Vec::new();
    for s in &body.scopes {
        scopes.push(match s.as_str() {
            "imap" => Protocol::Imap,
            "smtp" => Protocol::Smtp,
            "caldav" => Protocol::CalDav,
            other => {
                return Err(ApiError::bad_request(
                    "invalid",
                    format!("'{other}' is not a scope: use imap, smtp or caldav"),
                ));
            }
        });
    }
    let expires = body.expires_in_days.map(|d| {
        UnixMillis(state.now_millis()).plus(std::time::Duration::from_secs(u64::from(d) * 86_400))
    });
    let (id, secret) = state
        .directory
        .create_app_password(user.session.account, &body.label, &scopes, expires)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AppPasswordMade {
            id,
            password: secret,
            shown_once: true,
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/me/app-passwords/{id}",
    tag = "me",
    summary = "Revoke an app password",
    params(("id" = i64, Path, description = "app password id")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn revoke_app_password(
    State(state): State<WebState>,
    user: User,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let n = state
        .directory
        .revoke_app_passwords(user.session.account, Some(id))
        .await?;
    if n == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such app password",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Confirm {
    password: String,
}

/// Marks `session` as opened with the factor just enrolled in it (and ends the account's other
/// sessions). The factor is enrolled either way: a failure here is logged, so that it cannot
/// hide the recovery codes the enrollment returns.
/// Marks the session as having proven the factor just enrolled; returns the cookies of its
/// new token (none if that failed: the enrollment stands, the session keeps its old token).
pub(crate) async fn note_factor(
    state: &WebState,
    session: &carepost_identity::Session,
    added: &[&str],
) -> Vec<axum::http::HeaderValue> {
    match state
        .directory
        .note_factor_in_session(session.account, session.id, &session.amr, added)
        .await
    {
        Ok(token) => super::session::session_cookies(Some(&token)).to_vec(),
        Err(e) => {
            tracing::error!(error = %e, "could not mark the session as opened with a second factor");
            Vec::new()
        }
    }
}

/// `res` with `cookies` set.
pub(crate) fn with_cookies(
    mut res: axum::response::Response,
    cookies: Vec<axum::http::HeaderValue>,
) -> axum::response::Response {
    for c in cookies {
        res.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    res
}

/// A session that may enroll a second factor: a restricted one only for an overdue enrollment
/// (not while a temporary or expired password waits to be changed: whoever was handed a
/// temporary password must not also choose the account's second factor), and one opened with
/// a second factor if the account already has one.
pub(super) async fn enrolling(state: &WebState, user: RestrictedUser) -> Result<User, ApiError> {
    let RestrictedUser(user) = user;
    let id = user.session.account;
    if state.directory.own_password_state(id).await?.must_change {
        return Err(ApiError::forbidden(
            "password_change_required",
            "change your password first (POST /api/v1/me/password)",
        ));
    }
    super::step_up::require_step_up(state, &user.session).await?;
    state.directory.may_change_factors(&user.session).await?;
    Ok(user)
}

#[utoipa::path(
    post,
    path = "/me/totp",
    tag = "me",
    summary = "Start authenticator enrollment",
    request_body = Confirm,
    responses(
        (status = 200, description = "{otpauth_url, secret}", body = TotpSecret),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn begin_totp(
    State(state): State<WebState>,
    user: RestrictedUser,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<Json<TotpSecret>, ApiError> {
    let user = enrolling(&state, user).await?;
    confirm(&state, &user, &body.password).await?;
    let e = state.directory.begin_totp(user.session.account).await?;
    Ok(Json(TotpSecret {
        otpauth_url: e.otpauth_url,
        secret: e.secret,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Code {
    code: String,
}

#[utoipa::path(
    post,
    path = "/me/totp/confirm",
    tag = "me",
    summary = "Confirm authenticator enrollment",
    request_body = Code,
    responses(
        (status = 200, description = "done", body = TotpEnrolled),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn confirm_totp(
    State(state): State<WebState>,
    user: RestrictedUser,
    ApiJson(body): ApiJson<Code>,
) -> Result<axum::response::Response, ApiError> {
    let user = enrolling(&state, user).await?;
    let codes = state
        .directory
        .confirm_totp(user.session.account, &body.code)
        .await?;
    let cookies = note_factor(&state, &user.session, &["otp", "mfa"]).await;
    let res = Json(TotpEnrolled {
        enrolled: true,
        recovery_codes: codes,
    })
    .into_response();
    Ok(with_cookies(res, cookies))
}

#[utoipa::path(
    post,
    path = "/me/recovery-codes",
    tag = "me",
    summary = "Ten new recovery codes",
    request_body = Confirm,
    responses(
        (status = 200, description = "done", body = RecoveryCodes),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn recovery_codes(
    State(state): State<WebState>,
    user: User,
    ApiJson(body): ApiJson<Confirm>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    // New codes replace the old: the same rule as changing any other factor.
    super::step_up::require_step_up(&state, &user.session).await?;
    state.directory.may_change_factors(&user.session).await?;
    confirm(&state, &user, &body.password).await?;
    let codes = state
        .directory
        .regenerate_recovery_codes(user.session.account)
        .await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
        shown_once: true,
    }))
}
