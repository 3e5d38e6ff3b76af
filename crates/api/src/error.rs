//! The one mapping from use-case errors to HTTP: status code, `code`, headers and the error
//! body `{"detail", "message", "code", "fields"?}` that every failing route answers with.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::{Deserialize, Serialize};
use triage_app::{AppError, FieldError};
use utoipa::ToSchema;

/// `Retry-After` when the failing service gave no hint.
const DEFAULT_RETRY_AFTER_SECS: u64 = 5;

/// Why a request failed: a use-case error, or a refusal of the HTTP layer itself (malformed
/// JSON, an unknown route, a wrong method) that happens before any use case runs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{message}")]
    Http {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl ApiError {
    pub fn http(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Http {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        AppError::bad_request(code, message).into()
    }

    /// A 422 naming one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::field(field, message).into()
    }

    /// The `code` of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::App(err) => status_and_code(err).1,
            Self::Http { code, .. } => code,
        }
    }

    /// The body sent to the client. 5xx messages are generic: details go to the log only.
    pub fn body(&self) -> ErrorBody {
        let (message, fields) = match self {
            Self::App(AppError::Internal(_)) => ("internal server error".to_owned(), None),
            Self::App(AppError::Validation(fields)) => {
                (validation_message(fields), Some(fields_body(fields)))
            }
            Self::App(err) => (err.to_string(), None),
            Self::Http { message, .. } => (message.clone(), None),
        };
        ErrorBody {
            detail: message.clone(),
            message,
            code: self.code().to_owned(),
            fields,
        }
    }
}

/// The error body of every failing request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable message (read by the old clients).
    pub detail: String,
    /// The same text (shown by the frontend's login page).
    pub message: String,
    /// Stable machine-readable code, e.g. `not_found`, `validation_failed`.
    pub code: String,
    /// For `validation_failed`: every field that broke a rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<FieldErrorBody>>,
}

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

fn fields_body(fields: &[FieldError]) -> Vec<FieldErrorBody> {
    fields
        .iter()
        .map(|f| FieldErrorBody {
            field: f.field.clone(),
            message: f.message.clone(),
        })
        .collect()
}

fn validation_message(fields: &[FieldError]) -> String {
    if fields.is_empty() {
        return "validation failed".into();
    }
    let list: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect();
    format!("validation failed: {}", list.join("; "))
}

fn status_and_code(err: &AppError) -> (StatusCode, &'static str) {
    match err {
        AppError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        AppError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        AppError::TooManyOpen { code, .. } => (StatusCode::TOO_MANY_REQUESTS, *code),
        AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
        AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AppError::ResultsNotReady => (StatusCode::NOT_FOUND, "results_not_ready"),
        AppError::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        AppError::UsernameTaken => (StatusCode::CONFLICT, "username_taken"),
        AppError::InvalidTransition { .. } => (StatusCode::CONFLICT, "invalid_transition"),
        AppError::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
        AppError::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        AppError::UnsupportedFile => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file"),
        AppError::InvalidArchive(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_archive"),
        AppError::NoDicom => (StatusCode::UNPROCESSABLE_ENTITY, "no_dicom"),
        AppError::NotAZip => (StatusCode::BAD_REQUEST, "not_a_zip"),
        AppError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, *code),
        AppError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *code),
        AppError::RangeNotSatisfiable { .. } => {
            (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
        }
        AppError::Unavailable { .. } => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::App(err) => status_and_code(err).0,
            Self::Http { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::App(AppError::Internal(detail)) => tracing::error!(%detail, "request failed"),
            Self::App(AppError::Unavailable { service, .. }) => {
                tracing::warn!(service, "answered 503")
            }
            _ => {}
        }
        match self {
            Self::App(AppError::Unauthenticated(_) | AppError::InvalidCredentials) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            Self::App(AppError::RangeNotSatisfiable { size }) => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            Self::App(AppError::Unavailable {
                retry_after_secs, ..
            }) => {
                let secs = retry_after_secs.unwrap_or(DEFAULT_RETRY_AFTER_SECS);
                response.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            Self::App(AppError::RateLimited { retry_after_secs }) => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            // The rest of the body may still be on its way: do not wait for it.
            Self::App(AppError::PayloadTooLarge { .. }) => {
                response.force_close();
            }
            Self::Http { status, .. } if *status == StatusCode::PAYLOAD_TOO_LARGE => {
                response.force_close();
            }
            _ => {}
        }
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests;
