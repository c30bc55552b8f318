//! API errors: the status, a stable code for programs and a sentence for people. Store and
//! internal failures are logged in full and answered with a generic message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use carepost_identity::IdentityError;
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.code, "message": self.message });
        (self.status, Json(body)).into_response()
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match &e {
            IdentityError::Invalid(m) => ApiError::bad_request("invalid", m.clone()),
            IdentityError::PasswordRejected(v) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "password_rejected",
                e.to_string(),
            )
            .with_rules(v),
            IdentityError::NotFound(m) => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", m.clone())
            }
            IdentityError::Conflict(m) => {
                ApiError::new(StatusCode::CONFLICT, "conflict", m.clone())
            }
            IdentityError::Forbidden(m) => ApiError::forbidden("forbidden", m.clone()),
            IdentityError::Busy => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string())
            }
            IdentityError::Store(_) | IdentityError::ImportStopped { .. } => {
                tracing::error!(error = %e, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on the server; it has been logged",
                )
            }
        }
    }
}

impl From<carepost_calendar::DavError> for ApiError {
    fn from(e: carepost_calendar::DavError) -> Self {
        use carepost_calendar::DavError;
        match e {
            DavError::NotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", "not found"),
            DavError::PreconditionFailed => ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "changed",
                "it changed meanwhile: read it again",
            ),
            DavError::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            DavError::Forbidden(m) => ApiError::forbidden("forbidden", m),
            DavError::Store(e) => {
                tracing::error!(error = %e, "calendar request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on the server; it has been logged",
                )
            }
            other => ApiError::bad_request("invalid", other.to_string()),
        }
    }
}

impl From<carepost_oidc::OidcError> for ApiError {
    fn from(e: carepost_oidc::OidcError) -> Self {
        use carepost_oidc::OidcError;
        match e {
            OidcError::Identity(e) => e.into(),
            OidcError::Crypto(m) => {
                tracing::error!(error = %m, "request failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "something went wrong on the server; it has been logged",
                )
            }
            other => ApiError::bad_request("invalid", other.to_string()),
        }
    }
}

impl ApiError {
    /// Adds the failed password rules to the message, one per line.
    fn with_rules(mut self, rules: &[carepost_identity::PolicyViolation]) -> Self {
        let names: Vec<&str> = rules.iter().map(|r| r.rule()).collect();
        self.message = format!("{} [rules: {}]", self.message, names.join(", "));
        self
    }
}

pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API endpoint")
}

/// What every refusal answers, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Only its schema is used; `ApiError` writes the same two fields.
pub struct ErrorBody {
    /// A stable code, such as `invalid_credentials` or `forbidden`.
    error: String,
    /// A sentence for the person.
    message: String,
}
