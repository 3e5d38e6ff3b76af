//! The one error type of the domain and of every port.

use std::fmt;

use crate::job::JobStatus;

/// Result alias used by every port.
pub type DomainResult<T> = Result<T, DomainError>;

/// What went wrong, in terms the use cases can act on. Adapters translate their library errors
/// into these variants at the port boundary; nothing above the ports sees a driver error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    /// The entity does not exist (or, for ownership checks, is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change collides with the current state (a taken name, a concurrent writer).
    #[error("{0}")]
    Conflict(ConflictKind),
    /// The job state machine refuses this change.
    #[error("a job cannot go from {from} to {to}")]
    InvalidTransition { from: JobStatus, to: JobStatus },
    /// A value broke a rule (a key with `..`, an inverted byte range, a username too short).
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// A remote service refused the request for good (e.g. the ML service answered 4xx).
    #[error("{service} refused the request: {message}")]
    Rejected {
        service: &'static str,
        message: String,
    },
    /// Infrastructure is down or too slow (database, object store, ML service). Retrying later
    /// may succeed; `retry_after_secs` carries the service's hint when it gave one.
    #[error("{service} is unavailable: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
        retry_after_secs: Option<u64>,
    },
    /// A broken invariant or unexpected data. Never caused by the caller's input.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    /// Shorthand for [`DomainError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Shorthand for [`DomainError::Unavailable`] without a retry hint.
    pub fn unavailable(service: &'static str, detail: impl fmt::Display) -> Self {
        Self::Unavailable {
            service,
            detail: detail.to_string(),
            retry_after_secs: None,
        }
    }

    /// Shorthand for [`DomainError::Internal`].
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }

    /// True for failures that may go away by themselves (outages, timeouts).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// The kinds of [`DomainError::Conflict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// Another user already has this username (compared case-insensitively).
    UsernameTaken,
    /// An object with this key or name already exists.
    AlreadyExists,
    /// The row changed since it was read (optimistic concurrency); re-read and try again.
    StaleVersion,
    /// The change would leave the system without an administrator.
    LastAdmin,
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UsernameTaken => "this username is already taken",
            Self::AlreadyExists => "it already exists",
            Self::StaleVersion => "it was changed concurrently",
            Self::LastAdmin => "the last administrator cannot be removed or demoted",
        })
    }
}
