//! The OpenID Connect and OAuth endpoints: discovery, JWKS, authorization (through the portal's
//! sign-in), token, revocation, introspection, userinfo and logout, and the autoconfig
//! document that lets a mail app set itself up from an address. What they decide is
//! `carepost_oidc`'s; here are only HTTP's shapes: forms in, JSON or redirects out, client
//! authentication by HTTP Basic or form fields (RFC 6749 §2.3.1).

mod authorize;
mod autoconfig;

use crate::WebState;
use crate::api::session::{Source, bearer};
use axum::Router;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use carepost_oidc::{
    ACR_MFA, ACR_PWD, ClientCredentials, OidcError, SCOPES_SUPPORTED, TokenRequest,
};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route(
            "/oauth2/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/oauth2/authorize/consent", post(authorize::consent))
        .route(
            "/oauth2/logout",
            get(authorize::logout_get).post(authorize::logout_post),
        )
        .route("/oauth2/logout/confirm", post(authorize::logout_confirm))
        .route("/oauth2/token", post(token))
        .route("/oauth2/revoke", post(revoke))
        .route("/oauth2/introspect", post(introspect))
        .route("/oauth2/userinfo", get(userinfo).post(userinfo))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(autoconfig::document),
        )
        .route("/mail/config-v1.1.xml", get(autoconfig::document))
        .layer(axum::extract::DefaultBodyLimit::max(16 * 1024))
}

/// Percent-encodes a query value.
pub(crate) fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// An OAuth error answer (RFC 6749 §5.2), never cached.
pub(crate) fn oauth_error(e: &OidcError) -> Response {
    let status = match e {
        OidcError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OidcError::Identity(carepost_identity::IdentityError::Forbidden(_)) => {
            StatusCode::FORBIDDEN
        }
        OidcError::Identity(carepost_identity::IdentityError::Busy) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        OidcError::Identity(
            carepost_identity::IdentityError::Store(_)
            | carepost_identity::IdentityError::ImportStopped { .. },
        )
        | OidcError::Crypto(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let description = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e, "oidc: server fault");
        "something went wrong on the server; it has been logged".to_string()
    } else {
        e.to_string()
    };
    let mut res = (
        status,
        Json(json!({ "error": e.code(), "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"carepost\""),
        );
    }
    no_store(res)
}

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn form_error(e: FormRejection) -> Response {
    oauth_error(&OidcError::Request("invalid_request", e.body_text()))
}

async fn discovery(State(state): State<WebState>) -> Response {
    let iss = state.oidc.issuer();
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    let doc = json!({
        "issuer": iss,
        "authorization_endpoint": format!("{iss}/oauth2/authorize"),
        "token_endpoint": format!("{iss}/oauth2/token"),
        "userinfo_endpoint": format!("{iss}/oauth2/userinfo"),
        "jwks_uri": format!("{iss}/oauth2/jwks"),
        "revocation_endpoint": format!("{iss}/oauth2/revoke"),
        "introspection_endpoint": format!("{iss}/oauth2/introspect"),
        "end_session_endpoint": format!("{iss}/oauth2/logout"),
        "scopes_supported": SCOPES_SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [ACR_PWD, ACR_MFA],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
            "name", "given_name", "family_name", "middle_name", "preferred_username", "email",
            "email_verified", "groups", "roles", "department", "role_category"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    });
    Json(doc).into_response()
}

async fn jwks(State(state): State<WebState>) -> Response {
    match state.oidc.jwks().await {
        Ok(set) => {
            let mut res = Json(set).into_response();
            // Relying parties may cache it briefly; a rotation keeps old keys published.
            res.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            res
        }
        Err(e) => oauth_error(&e),
    }
}

/// The client's credentials: HTTP Basic (each part form-encoded, RFC 6749 §2.3.1), or
/// `client_id` and `client_secret` form fields; never both.
fn client_credentials(
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<ClientCredentials, OidcError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    match basic {
        Some(b64) => {
            if form_secret.is_some() {
                return Err(OidcError::Request(
                    "invalid_request",
                    "use one way of client authentication, not two".into(),
                ));
            }
            use base64::Engine;
            let bad = || OidcError::InvalidClient("malformed HTTP Basic credentials".into());
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| bad())?;
            let text = String::from_utf8(raw).map_err(|_| bad())?;
            let (id, secret) = text.split_once(':').ok_or_else(bad)?;
            // Each part is form-encoded: '+' is a space, then percent-escapes.
            let decode = |s: &str| -> Result<String, OidcError> {
                let plus = s.replace('+', " ");
                percent_encoding::percent_decode_str(&plus)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| bad())
            };
            let id = decode(id)?;
            if form_id.is_some_and(|f| f != id) {
                return Err(OidcError::InvalidClient(
                    "client_id differs from the authenticated client".into(),
                ));
            }
            Ok(ClientCredentials {
                client_id: id,
                secret: Some(decode(secret)?),
            })
        }
        None => Ok(ClientCredentials {
            client_id: form_id.unwrap_or("").to_string(),
            secret: form_secret.map(str::to_string),
        }),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    client_id: Option<String>,
    client_secret: Option<String>,
    #[serde(flatten)]
    req: TokenRequest,
}

async fn token(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => return form_error(e),
    };
    let creds =
        match client_credentials(&headers, f.client_id.as_deref(), f.client_secret.as_deref()) {
            Ok(c) => c,
            Err(e) => return oauth_error(&e),
        };
    // Refusals are audited up to a rate per network (5 a second, bursts of 50).
    let network = carepost_identity::network_of(source.0);
    let limiter = state.token_refusals.clone();
    if limiter.len() > 100_000 {
        limiter.retain_recent();
    }
    let may_audit = move || limiter.check_key(&network).is_ok();
    match state.oidc.token(&creds, &f.req, source.0, may_audit).await {
        Ok(t) => no_store(Json(t).into_response()),
        Err(e) => oauth_error(&e),
    }
}

#[derive(Deserialize)]
struct TokenOnlyForm {
    token: Option<String>,
    #[allow(dead_code)] // Accepted as RFC 7009 and 7662 allow; every kind is tried anyway.
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl TokenOnlyForm {
    /// The client's credentials and the token the request is about.
    fn parts(&self, headers: &HeaderMap) -> Result<(ClientCredentials, &str), OidcError> {
        let creds = client_credentials(
            headers,
            self.client_id.as_deref(),
            self.client_secret.as_deref(),
        )?;
        let token = self
            .token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OidcError::Request("invalid_request", "token is required".into()))?;
        Ok((creds, token))
    }
}

async fn revoke(
    State(state): State<WebState>,
    source: Source,
    headers: HeaderMap,
    form: Result<Form<TokenOnlyForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => return form_error(e),
    };
    let result = match f.parts(&headers) {
        Ok((creds, token)) => state.oidc.revoke(&creds, token, source.0).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => oauth_error(&e),
    }
}

async fn introspect(
    State(state): State<WebState>,
    headers: HeaderMap,
    form: Result<Form<TokenOnlyForm>, FormRejection>,
) -> Response {
    let Form(f) = match form {
        Ok(f) => f,
        Err(e) => return form_error(e),
    };
    let result = match f.parts(&headers) {
        Ok((creds, token)) => state.oidc.introspect(&creds, token).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(i) => no_store(Json(i).into_response()),
        Err(e) => oauth_error(&e),
    }
}

/// Userinfo (OpenID Connect Core §5.3), with the access token as a Bearer header.
async fn userinfo(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let invalid = |error: &str, description: &str| {
        let mut res = (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response();
        let challenge = format!("Bearer realm=\"carepost\", error=\"{error}\"");
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        no_store(res)
    };
    let Some(token) = bearer(&headers) else {
        return invalid(
            "invalid_request",
            "send the access token as Authorization: Bearer",
        );
    };
    match state.oidc.userinfo(token).await {
        Ok(Some(claims)) => no_store(Json(claims).into_response()),
        Ok(None) => invalid(
            "invalid_token",
            "the access token is invalid, expired or revoked, or lacks the openid scope",
        ),
        Err(e) => oauth_error(&e),
    }
}
