//! Single sign-on applications (OpenID Connect clients), for IT administrators: list,
//! register (the secret of a confidential client is in this answer only), remove.

use super::ApiError;
use super::session::{ApiJson, ApiPath, Caller};
use crate::WebState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use carepost_oidc::ClientInfo;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Apps {
    apps: Vec<ClientInfo>,
    /// The issuer the applications are configured with.
    issuer: String,
}

/// A registered application; its secret (of a confidential client) is shown only here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AppRegistered {
    client_id: String,
    client_secret: Option<String>,
    app: ClientInfo,
    issuer: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewApp {
    name: String,
    redirect_uris: Vec<String>,
    /// A server-side application that keeps a secret; otherwise public (PKCE, no secret).
    confidential: bool,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    /// Scopes beyond openid, profile, email, groups and offline_access.
    #[serde(default)]
    scopes: Vec<String>,
    /// Only people holding one of these roles may use it.
    #[serde(default)]
    roles: Vec<String>,
    /// Only people in one of these departments (or below) may use it.
    #[serde(default)]
    departments: Vec<String>,
    /// Ask each person before their first sign-in.
    #[serde(default)]
    consent: bool,
    #[serde(default)]
    require_mfa: bool,
    /// RS256 (default) or ES256.
    id_token_alg: Option<String>,
}

#[utoipa::path(
    get,
    path = "/apps",
    tag = "single sign-on",
    summary = "Registered single sign-on applications",
    responses(
        (status = 200, description = "done", body = Apps),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn list(
    State(state): State<WebState>,
    Caller(actor): Caller,
) -> Result<Json<Apps>, ApiError> {
    let apps = state.oidc.list_clients(&actor).await?;
    Ok(Json(Apps {
        apps,
        issuer: state.oidc.issuer(),
    }))
}

#[utoipa::path(
    post,
    path = "/apps",
    tag = "single sign-on",
    summary = "Register an application (its secret is shown once)",
    request_body = NewApp,
    responses(
        (status = 201, description = "done", body = AppRegistered),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn create(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiJson(b): ApiJson<NewApp>,
) -> Result<(StatusCode, Json<AppRegistered>), ApiError> {
    let new = carepost_oidc::NewClient {
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        confidential: b.confidential,
        extra_scopes: b.scopes,
        allowed_roles: b.roles,
        allowed_departments: b.departments,
        consent: b.consent,
        require_mfa: b.require_mfa,
        id_token_alg: b.id_token_alg,
    };
    let (app, secret) = state.oidc.register_client(&actor, &new).await?;
    Ok((
        StatusCode::CREATED,
        Json(AppRegistered {
            client_id: app.client_id.clone(),
            client_secret: secret,
            app,
            issuer: state.oidc.issuer(),
        }),
    ))
}

#[utoipa::path(
    delete,
    path = "/apps/{client_id}",
    tag = "single sign-on",
    summary = "Remove an application; its tokens stop working",
    params(("client_id" = String, Path)),
    responses(
        (status = 204, description = "done"),
        (status = "4XX", description = "refused: {error, message}", body = super::error::ErrorBody),
    )
)]
pub async fn remove(
    State(state): State<WebState>,
    Caller(actor): Caller,
    ApiPath(client_id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state.oidc.remove_client(&actor, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
