//! Administration through the API, for signed-in staff with a role: IT administrators,
//! helpdesk agents (account status and unlock), security officers (the audit trail). Every
//! check is the domain's one authorization module, and every refusal is audited there.

use super::ApiError;
use super::session::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_identity::{AccountStatus, ListFilter, NewAccount, PersonName};
use carepost_store::AuditFilter;
use carepost_types::UnixMillis;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    department: Option<String>,
    status: Option<String>,
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
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list_accounts(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = ListFilter {
        department: q.department,
        status: q.status.as_deref().map(AccountStatus::parse).transpose()?,
        query: q.query,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
    };
    let accounts = state.directory.list_accounts(&actor, &filter).await?;
    Ok(Json(json!({ "accounts": accounts })))
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
        (status = 200, description = "{address}", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn address_preview(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<NameQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = PersonName::new(
        &q.first,
        q.middle.as_deref().filter(|m| !m.is_empty()),
        &q.last,
        q.preferred.as_deref().filter(|p| !p.is_empty()),
    )?;
    let address = state.directory.preview_address_as(&actor, &name).await?;
    Ok(Json(json!({ "address": address.to_string() })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct CreateAccount {
    first: String,
    middle: Option<String>,
    last: String,
    preferred: Option<String>,
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
        (status = 201, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_account(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<CreateAccount>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let new = NewAccount {
        name: PersonName::new(
            &b.first,
            b.middle.as_deref(),
            &b.last,
            b.preferred.as_deref(),
        )?,
        employee_id: b.employee_id,
        category: b.category,
        department: b.department,
        supervisor: b.supervisor,
    };
    let account = state.directory.create_account(&actor, &new).await?;
    Ok((StatusCode::CREATED, Json(json!(account))))
}

#[utoipa::path(
    get,
    path = "/accounts/{address}",
    tag = "accounts",
    summary = "An account and its lockout state",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn show_account(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let account = state.directory.find_account(&actor, &address).await?;
    let locks = state.directory.lock_state(&actor, &address).await?;
    let locks: Vec<Value> = locks
        .into_iter()
        .map(|(kind, until, failures)| json!({ "sources": kind, "locked_until": until, "failures": failures }))
        .collect();
    Ok(Json(json!({ "account": account, "lockout": locks })))
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/unlock",
    tag = "accounts",
    summary = "Clear a lockout",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn unlock(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.directory.unlock(&actor, &address).await?;
    Ok(StatusCode::NO_CONTENT)
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
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn set_status(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<StatusChange>,
) -> Result<Json<Value>, ApiError> {
    let to = AccountStatus::parse(&b.status)?;
    let account = state.directory.set_status(&actor, &address, to).await?;
    Ok(Json(json!(account)))
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/reset-password",
    tag = "accounts",
    summary = "Reset to a temporary password (shown once)",
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn reset_password(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let temporary = state.directory.reset_password(&actor, &address).await?;
    Ok(Json(
        json!({ "temporary_password": temporary, "must_change": true, "shown_once": true }),
    ))
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
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn end_sessions(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
) -> Result<Json<Value>, ApiError> {
    let n = state.directory.end_all_sessions(&actor, &address).await?;
    Ok(Json(json!({ "ended": n })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    target: Option<String>,
    limit: Option<i64>,
}

#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    summary = "The audit trail",
    params(AuditQuery),
    responses(
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn audit(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
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
        after_seq: None,
        limit: Some(q.limit.unwrap_or(100).clamp(1, 1000)),
        newest_first: false,
    };
    let events = state.directory.audit_events(&actor, &filter).await?;
    Ok(Json(json!({ "events": events })))
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
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn helpdesk_reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<HelpdeskReset>,
) -> Result<Json<Value>, ApiError> {
    let temporary = state
        .directory
        .helpdesk_reset(&actor, &address, b.user_code.as_deref())
        .await?;
    Ok(Json(
        json!({ "temporary_password": temporary, "must_change": true, "shown_once": true }),
    ))
}

#[utoipa::path(
    post,
    path = "/accounts/{address}/reset-requests",
    tag = "helpdesk",
    summary = "Ask a supervisor to approve a reset",
    request_body = Reason,
    params(("address" = String, Path, description = "primary address")),
    responses(
        (status = 201, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn request_reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(address): ApiPath<String>,
    ApiJson(b): ApiJson<Reason>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = state
        .directory
        .request_reset(&actor, &address, &b.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "request": id }))))
}

#[utoipa::path(
    post,
    path = "/reset-requests/{id}/approve",
    tag = "helpdesk",
    summary = "Approve a reset request",
    params(("id" = i64, Path, description = "request id")),
    responses(
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn approve_reset(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Value>, ApiError> {
    let temporary = state.directory.approve_reset(&actor, id).await?;
    Ok(Json(
        json!({ "temporary_password": temporary, "must_change": true, "shown_once": true }),
    ))
}

#[utoipa::path(
    get,
    path = "/departments",
    tag = "directory",
    summary = "The department tree",
    responses(
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn departments(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, ApiError> {
    let all = state.directory.list_departments(&actor).await?;
    Ok(Json(json!({ "departments": all })))
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
        (status = 201, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_department(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<NewDepartment>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let d = state
        .directory
        .create_department(&actor, &b.name, b.parent.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(json!(d))))
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
        (status = 200, description = "the per-row report", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn import(
    State(state): State<WebState>,
    Caller(actor): Caller,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let summary = state.directory.import_csv(&actor, &body[..]).await?;
    Ok(Json(json!(summary)))
}

/// The policies in force, for anyone signed in (the portal shows the password rules).
#[utoipa::path(
    get,
    path = "/policy",
    tag = "directory",
    summary = "The security policies",
    responses(
        (status = 200, description = "done", body = Object),
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
        (status = 201, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create_token(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut roles = Vec::new();
    for r in &b.roles {
        roles.push(
            carepost_identity::Role::parse(r)
                .ok_or_else(|| ApiError::bad_request("invalid", format!("'{r}' is not a role")))?,
        );
    }
    let lifetime = std::time::Duration::from_secs(u64::from(b.days) * 86_400);
    let (id, token) = state
        .directory
        .create_api_token(&actor, &b.name, &roles, lifetime)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": token, "shown_once": true })),
    ))
}

#[utoipa::path(
    get,
    path = "/tokens",
    tag = "tokens",
    summary = "API tokens",
    responses(
        (status = 200, description = "done", body = Object),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn tokens(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, ApiError> {
    let list = state.directory.list_api_tokens(&actor).await?;
    Ok(Json(json!({ "tokens": list })))
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
