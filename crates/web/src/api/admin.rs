//! Administration through the API, for signed-in staff with a role: IT administrators,
//! helpdesk agents (account status and unlock), security officers (the audit trail). Every
//! check is the domain's one authorization module, and every refusal is audited there.

use super::ApiError;
use super::session::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_identity::{
    Account, AccountEdit, AccountStatus, ApiTokenInfo, Department, ImportSummary, ListFilter,
    MfaSummary, NewAccount, OpenResetRequest, PersonName,
};
use carepost_store::AuditFilter;
use carepost_types::UnixMillis;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    accounts: Vec<Account>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddressPreview {
    address: String,
}

/// One kind of source's lockout state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LockState {
    /// `familiar` or `unfamiliar` sources.
    sources: String,
    locked_until: Option<String>,
    failures: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountDetail {
    account: Account,
    lockout: Vec<LockState>,
    /// The second factors (absent for a caller who may not see them).
    mfa: Option<MfaSummary>,
}

/// A one-time temporary password, shown once; the person must change it at sign-in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TemporaryPassword {
    temporary_password: String,
    must_change: bool,
    shown_once: bool,
}

impl TemporaryPassword {
    fn of(temporary_password: String) -> Json<TemporaryPassword> {
        Json(TemporaryPassword {
            temporary_password,
            must_change: true,
            shown_once: true,
        })
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Ended {
    ended: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditEvents {
    events: Vec<carepost_audit::Event>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestMade {
    request: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Departments {
    departments: Vec<Department>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenMade {
    id: i64,
    /// `cpt_...`, shown once.
    token: String,
    shown_once: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Tokens {
    tokens: Vec<ApiTokenInfo>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// A department and those below it.
    department: Option<String>,
    status: Option<String>,
    category: Option<String>,
    /// Holders of this role (`it-admin`, `helpdesk`, `supervisor`, ...).
    role: Option<String>,
    query: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/accounts",
    tag = "accounts",
    summary = "Find accounts",
    params(ListQuery),
    responses(
        (status = 200, description = "done", body = AccountList),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list_accounts(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<AccountList>, ApiError> {
    let filter = ListFilter {
        department: q.department,
        status: q.status.as_deref().map(AccountStatus::parse).transpose()?,
        category: q.category,
        role: q
            .role
            .as_deref()
            .map(carepost_identity::Role::named)
            .transpose()?,
        query: q.query,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
    };
    let accounts = state.directory.list_accounts(&actor, &filter).await?;
    Ok(Json(AccountList { accounts }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NameQuery {
    first: String,
    middle: Option<String>,
    last: String,
    preferred: Option<String>,
}

#[utoipa::path(
    get,
    path = "/address-preview",
    tag = "accounts",
    summary = "The address the policy would give this name now",
    params(NameQuery),
    responses(
        (status = 200, description = "{address}", body = AddressPreview),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn address_preview(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<NameQuery>,
) -> Result<Json<AddressPreview>, ApiError> {
    let name = PersonName::new(
        &q.first,
        q.middle.as_deref().filter(|m| !m.is_empty()),
        &q.last,
        q.preferred.as_deref().filter(|p| !p.is_empty()),
    )?;
    let address = state.directory.preview_address_as(&actor, &name).await?;
    Ok(Json(AddressPreview {
        address: address.to_string(),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateAccount {
    first: String,
    middle: Option<String>,
    /// Required unless `single_name`.
    last: Option<String>,
    preferred: Option<String>,
    /// A person with one legal name, given as `first` (the address follows
    /// `address.mononym_template`).
    #[serde(default)]
    single_name: bool,
    employee_id: String,
    category: String,
    department: String,
    supervisor: Option<String>,
}

#[utoipa::path(
    post,
    path = "/accounts",
    tag = "accounts",
    summary = "Create an account",
    request_body = CreateAccount,
    responses(
        (status = 201, description = "done", body = Account),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_account(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    let new = NewAccount {
        name: PersonName::from_form(
            &b.first,
            b.middle.as_deref(),
            b.last.as_deref(),
            b.preferred.as_deref(),
            b.single_name,
        )?,
        employee_id: b.employee_id,
        category: b.category,
        department: b.department,
        supervisor: b.supervisor,
    };
    let account = state.directory.create_account(&actor, &new).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

#[utoipa::path(
    get,
    path = "/accounts/{address}",
    tag = "accounts",
    summary = "An account and its lockout state",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = AccountDetail),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn show_account(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<AccountDetail>, ApiError> {
    let account = state.directory.find_account(&actor, &address).await?;
    let locks = state.directory.lock_state(&actor, &address).await?;
    let lockout = locks
        .into_iter()
        .map(|(sources, locked_until, failures)| LockState {
            sources,
            locked_until,
            failures,
        })
        .collect();
    let mfa = match state.directory.mfa_summary(&actor, &address).await {
        Ok(m) => Some(m),
        Err(carepost_identity::IdentityError::Forbidden(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Json(AccountDetail {
        account,
        lockout,
        mfa,
    }))
}

#[utoipa::path(
    patch,
    path = "/accounts/{address}",
    tag = "accounts",
    summary = "Edit an account's department, role category, supervisor (\"\" for none) or employee id (IT)",
    params(("address" = String, Path, description = "primary address")),
    request_body = AccountEdit,
    responses(
        (status = 200, description = "the account as now", body = Account),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn edit_account(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<AccountEdit>,
) -> Result<Json<Account>, ApiError> {
    Ok(Json(
        state.directory.edit_account(&actor, &address, &b).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusChange {
    status: String,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/status",
    tag = "accounts",
    summary = "Disable, enable or deprovision",
    request_body = StatusChange,
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = Account),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn set_status(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<StatusChange>,
) -> Result<Json<Account>, ApiError> {
    let to = AccountStatus::parse(&b.status)?;
    let account = state.directory.set_status(&actor, &address, to).await?;
    Ok(Json(account))
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/reset-password",
    tag = "accounts",
    summary = "Reset to a temporary password (shown once)",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = TemporaryPassword),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn reset_password(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<TemporaryPassword>, ApiError> {
    let temporary = state.directory.reset_password(&actor, &address).await?;
    Ok(TemporaryPassword::of(temporary))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Reason {
    reason: String,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/reset-mfa",
    tag = "accounts",
    summary = "Reset second factors",
    request_body = Reason,
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn reset_mfa(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<StatusCode, ApiError> {
    state
        .directory
        .mfa_reset(&actor, &address, &b.reason)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/end-sessions",
    tag = "accounts",
    summary = "End every web session",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = Ended),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn end_sessions(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Ended>, ApiError> {
    let n = state.directory.end_all_sessions(&actor, &address).await?;
    Ok(Json(Ended { ended: n }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    /// An action (`signin.failure`) or a family of them (`signin.`).
    action: Option<String>,
    /// `success`, `failure` or `denied`.
    outcome: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    summary = "The audit trail",
    params(AuditQuery),
    responses(
        (status = 200, description = "done", body = AuditEvents),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn audit(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditEvents>, ApiError> {
    let time = |t: &Option<String>| -> Result<Option<UnixMillis>, ApiError> {
        t.as_deref()
            .map(UnixMillis::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid", e))
    };
    let filter = AuditFilter {
        since: time(&q.since)?,
        until: time(&q.until)?,
        actor: q.actor,
        target: q.target,
        actions: q.action.into_iter().collect(),
        outcome: q.outcome,
        after_seq: None,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
        newest_first: false,
    };
    let events = state.directory.audit_events(&actor, &filter).await?;
    Ok(Json(AuditEvents { events }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct HelpdeskReset {
    /// The code the person reads from their authenticator, when the account has one.
    user_code: Option<String>,
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/helpdesk-reset",
    tag = "helpdesk",
    summary = "Verified helpdesk reset",
    request_body = HelpdeskReset,
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = TemporaryPassword),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn helpdesk_reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<HelpdeskReset>,
) -> Result<Json<TemporaryPassword>, ApiError> {
    let temporary = state
        .directory
        .helpdesk_reset(&actor, &address, b.user_code.as_deref())
        .await?;
    Ok(TemporaryPassword::of(temporary))
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/reset-requests",
    tag = "helpdesk",
    summary = "Ask a supervisor to approve a reset",
    request_body = Reason,
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 201, description = "done", body = RequestMade),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn request_reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<(StatusCode, Json<RequestMade>), ApiError> {
    let id = state
        .directory
        .request_reset(&actor, &address, &b.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(RequestMade { request: id })))
}

#[utoipa::path(
    post,
    path = "/reset-requests/{id}/approve",
    tag = "helpdesk",
    summary = "Approve a reset request",
    params(("id" = i64, Path, description = "request id")),
    responses(
        (status = 200, description = "done", body = TemporaryPassword),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn approve_reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TemporaryPassword>, ApiError> {
    let temporary = state.directory.approve_reset(&actor, id).await?;
    Ok(TemporaryPassword::of(temporary))
}

#[utoipa::path(
    get,
    path = "/departments",
    tag = "directory",
    summary = "The department tree",
    responses(
        (status = 200, description = "done", body = Departments),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn departments(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Departments>, ApiError> {
    let all = state.directory.list_departments(&actor).await?;
    Ok(Json(Departments { departments: all }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewDepartment {
    name: String,
    parent: Option<String>,
}

#[utoipa::path(
    post,
    path = "/departments",
    tag = "directory",
    summary = "Create a department",
    request_body = NewDepartment,
    responses(
        (status = 201, description = "done", body = Department),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_department(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<NewDepartment>,
) -> Result<(StatusCode, Json<Department>), ApiError> {
    let d = state
        .directory
        .create_department(&actor, &b.name, b.parent.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(d)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DepartmentRename {
    name: String,
}

#[utoipa::path(
    post,
    path = "/departments/{name}/rename",
    tag = "directory",
    summary = "Rename a department (IT)",
    params(("name" = String, Path, description = "the department's current name")),
    request_body = DepartmentRename,
    responses(
        (status = 200, description = "done", body = Department),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn rename_department(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<DepartmentRename>,
) -> Result<Json<Department>, ApiError> {
    let d = state
        .directory
        .rename_department(&actor, &name, &b.name)
        .await?;
    Ok(Json(d))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DepartmentMove {
    /// The department to go below; `null` for the top level.
    parent: Option<String>,
}

#[utoipa::path(
    post,
    path = "/departments/{name}/move",
    tag = "directory",
    summary = "Move a department in the tree (IT; never below itself)",
    params(("name" = String, Path, description = "the department")),
    request_body = DepartmentMove,
    responses(
        (status = 200, description = "done", body = Department),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn move_department(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(b): ApiJson<DepartmentMove>,
) -> Result<Json<Department>, ApiError> {
    let d = state
        .directory
        .move_department(&actor, &name, b.parent.as_deref())
        .await?;
    Ok(Json(d))
}

#[utoipa::path(
    delete,
    path = "/departments/{name}",
    tag = "directory",
    summary = "Remove an empty department (IT)",
    params(("name" = String, Path, description = "the department")),
    responses(
        (status = 204, description = "removed"),
        (status = "4XX", description = "refused (409 names what still refers to it): {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn remove_department(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.directory.remove_department(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/import` with the HR export as the body (`text/csv`): the summary with the
/// per-row report.
#[utoipa::path(
    post,
    path = "/import",
    tag = "directory",
    summary = "HR import (CSV body)",
    request_body(content = String, content_type = "text/csv"),
    responses(
        (status = 200, description = "the per-row report", body = ImportSummary),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn import(
    State(state): State<WebState>,
    Caller(actor): Caller,
    body: axum::body::Bytes,
) -> Result<Json<ImportSummary>, ApiError> {
    let summary = state.directory.import_csv(&actor, &body[..]).await?;
    Ok(Json(summary))
}

/// The policies in force, for anyone signed in (the portal shows the password rules).
#[utoipa::path(
    get,
    path = "/policy",
    tag = "directory",
    summary = "The security policies",
    responses(
        (status = 200, description = "the password, lockout, mfa, sessions and oidc sections, keys as the config file names them", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn policy(
    State(state): State<WebState>,
    _user: super::session::RestrictedUser,
) -> Json<Value> {
    Json(carepost_identity::policy_document(
        &state.directory.config(),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    name: String,
    roles: Vec<String>,
    days: u32,
}

#[utoipa::path(
    post,
    path = "/tokens",
    tag = "tokens",
    summary = "Create an API token (shown once)",
    request_body = NewToken,
    responses(
        (status = 201, description = "done", body = TokenMade),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_token(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<TokenMade>), ApiError> {
    let mut roles = Vec::new();
    for r in &b.roles {
        roles.push(carepost_identity::Role::named(r)?);
    }
    let lifetime = std::time::Duration::from_secs(u64::from(b.days) * 86_400);
    let (id, token) = state
        .directory
        .create_api_token(&actor, &b.name, &roles, lifetime)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenMade {
            id,
            token,
            shown_once: true,
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/tokens",
    tag = "tokens",
    summary = "API tokens",
    responses(
        (status = 200, description = "done", body = Tokens),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn tokens(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Tokens>, ApiError> {
    let list = state.directory.list_api_tokens(&actor).await?;
    Ok(Json(Tokens { tokens: list }))
}

#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "tokens",
    summary = "Revoke an API token",
    params(("id" = i64, Path, description = "token id")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn revoke_token(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.directory.revoke_api_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResetRequests {
    requests: Vec<OpenResetRequest>,
}

#[utoipa::path(
    get,
    path = "/reset-requests",
    tag = "accounts",
    summary = "The open reset requests this caller could approve (a supervisor's people; IT: all), never their own",
    responses(
        (status = 200, description = "done", body = ResetRequests),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn reset_requests(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<ResetRequests>, ApiError> {
    let requests = state.directory.open_reset_requests(&actor).await?;
    Ok(Json(ResetRequests { requests }))
}

/// The whole audit chain checked: whole, or where it breaks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainCheck {
    whole: bool,
    /// Events checked (when whole).
    events: Option<u64>,
    /// The last event's hash (when whole): write it down to compare later.
    head_hash: Option<String>,
    /// The first broken event, and why (when not).
    broken_at: Option<i64>,
    reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/audit/verify",
    tag = "audit",
    summary = "Check the whole audit chain: each event sealed to the one before (IT, security officers)",
    responses(
        (status = 200, description = "done", body = ChainCheck),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn verify_audit(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<ChainCheck>, ApiError> {
    Ok(Json(match state.directory.verify_audit(&actor).await? {
        Ok(r) => ChainCheck {
            whole: true,
            events: Some(r.events),
            head_hash: Some(r.head_hash),
            broken_at: None,
            reason: None,
        },
        Err(b) => ChainCheck {
            whole: false,
            events: None,
            head_hash: None,
            broken_at: Some(b.seq.0),
            reason: Some(b.reason),
        },
    }))
}
