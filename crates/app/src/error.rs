//! The one error type of the use cases. It says what went wrong in terms a client can act on;
//! the api crate alone turns it into HTTP status codes.

use triage_domain::{ConflictKind, DomainError, JobStatus};

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Why a use case refused or failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppError {
    /// No token, a malformed one, a bad signature, an expired one, or a deleted user.
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// Login failed. Deliberately the same for an unknown user and a wrong password.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Too many failed logins for this username or from this client; try again later.
    #[error("too many failed login attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    /// The client holds as many uploads or sockets open as it may (or the server does);
    /// `code` says which cap.
    #[error("{message}")]
    TooManyOpen { code: &'static str, message: String },
    /// Authenticated, but the action needs another role.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The thing does not exist or the caller may not see it (never an existence oracle).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The job has no results yet.
    #[error("the results of this job are not ready")]
    ResultsNotReady,
    /// Request fields broke the rules.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("this username is already taken")]
    UsernameTaken,
    #[error("a job cannot go from {from} to {to}")]
    InvalidTransition { from: JobStatus, to: JobStatus },
    /// Another state conflict (last admin, an existing object, a concurrent change).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The upload passed `limit` bytes.
    #[error("the upload is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    /// Neither a ZIP nor a DICOM file, and only DICOM is accepted.
    #[error("only ZIP archives and DICOM files are accepted")]
    UnsupportedFile,
    /// The ZIP broke a validation rule; the reason is for humans.
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    #[error("the archive contains no DICOM file")]
    NoDicom,
    /// The request asked a ZIP-only question about a single file.
    #[error("this job's upload is not a ZIP archive")]
    NotAZip,
    /// Well-formed input the use case cannot work with (labels of one class only, a source
    /// that does not exist yet); `code` says which.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// A malformed request that is not a field validation (broken multipart, missing part).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// A byte range outside the object.
    #[error("the requested range is not satisfiable (size {size})")]
    RangeNotSatisfiable { size: u64 },
    /// Infrastructure is down; try again later.
    #[error("{service} is unavailable")]
    Unavailable {
        service: &'static str,
        retry_after_secs: Option<u64>,
    },
    /// A bug or corrupt data. The detail goes to logs, never to clients.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// A single-field validation error.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

impl From<DomainError> for AppError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::NotFound(what) => Self::NotFound(what),
            DomainError::Conflict(ConflictKind::UsernameTaken) => Self::UsernameTaken,
            DomainError::Conflict(ConflictKind::LastAdmin) => Self::Conflict {
                code: "last_admin",
                message: ConflictKind::LastAdmin.to_string(),
            },
            DomainError::Conflict(ConflictKind::AlreadyExists) => Self::Conflict {
                code: "already_exists",
                message: "it already exists".into(),
            },
            DomainError::Conflict(ConflictKind::StaleVersion) => Self::Conflict {
                code: "concurrent_change",
                message: "the job changed concurrently; try again".into(),
            },
            DomainError::InvalidTransition { from, to } => Self::InvalidTransition { from, to },
            DomainError::Invalid { field, reason } => Self::field(field, reason),
            DomainError::Unavailable {
                service,
                detail,
                retry_after_secs,
            } => {
                tracing::warn!(service, %detail, "dependency unavailable");
                Self::Unavailable {
                    service,
                    retry_after_secs,
                }
            }
            // A remote refusal reaching a client request means our request was wrong.
            DomainError::Rejected { service, message } => {
                Self::internal(format!("{service} rejected a request: {message}"))
            }
            DomainError::Internal(detail) => Self::Internal(detail),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
