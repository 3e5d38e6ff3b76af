//! The one place where diesel, pool and data errors become [`DomainError`]s.
//!
//! Outages (pool timeouts, refused or closed connections, a locked SQLite file) are
//! `Unavailable`, never `Internal` or `Invalid`, so callers answer 503 and may retry. Details
//! that reach a `DomainError` are short and fixed; the driver's own message goes to the log
//! only (it never contains SQL text or connection strings, but it is not meant for clients).

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use triage_domain::{ConflictKind, DomainError};

/// Errors of one store call before they are mapped. `pub` only because the sealed
/// [`StoreConnection`](crate::connection::StoreConnection) trait mentions it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error(transparent)]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    /// A stored value the domain cannot read (bad UUID text, unknown status, broken JSON).
    #[error("corrupt {0}")]
    Corrupt(String),
    /// A rule decided inside a transaction (not found, last admin, stale version).
    #[error(transparent)]
    Domain(#[from] DomainError),
}

const SERVICE: &str = "database";

/// Maps `err`. `fk_parent` names the entity whose absence a foreign-key violation reveals
/// (`"user"` when inserting a job, `"job"` when queueing one): SQLite does not say which key
/// failed, and the caller knows.
pub(crate) fn map_error(err: StoreError, fk_parent: Option<&'static str>) -> DomainError {
    use deadpool::managed::PoolError as Pool;
    let unavailable = |detail: &str, err: &dyn std::fmt::Display| {
        tracing::warn!(error = %err, "{SERVICE} unavailable: {detail}");
        DomainError::unavailable(SERVICE, detail)
    };
    let internal = |detail: &str, err: &dyn std::fmt::Display| {
        tracing::error!(error = %err, "{SERVICE} failure: {detail}");
        DomainError::internal(format!("{SERVICE}: {detail}"))
    };
    match err {
        StoreError::Domain(err) => err,
        StoreError::Corrupt(what) => internal("stored data cannot be read", &what),
        StoreError::Pool(Pool::Timeout(kind)) => {
            unavailable("timed out waiting for a connection", &format!("{kind:?}"))
        }
        StoreError::Pool(Pool::Backend(err)) => unavailable("cannot connect", &err),
        StoreError::Pool(Pool::PostCreateHook(err)) => unavailable("cannot connect", &err),
        StoreError::Pool(Pool::Closed) => unavailable("the connection pool is closed", &"closed"),
        StoreError::Pool(err @ Pool::NoRuntimeSpecified) => internal("pool misconfigured", &err),
        StoreError::Query(DieselError::DatabaseError(kind, info)) => {
            let message = info.message();
            match kind {
                DatabaseErrorKind::UniqueViolation => {
                    let on_username = info
                        .constraint_name()
                        .unwrap_or(message)
                        .contains("username_key")
                        || message.contains("username_key");
                    DomainError::Conflict(if on_username {
                        ConflictKind::UsernameTaken
                    } else {
                        ConflictKind::AlreadyExists
                    })
                }
                DatabaseErrorKind::ForeignKeyViolation => match fk_parent {
                    Some(parent) => DomainError::NotFound(parent),
                    None => internal("unexpected foreign key violation", &message),
                },
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    unavailable("connection lost", &message)
                }
                DatabaseErrorKind::SerializationFailure
                | DatabaseErrorKind::ReadOnlyTransaction => {
                    unavailable("the database refused the write, try again", &message)
                }
                _ if is_transient(message) => unavailable("busy or shutting down", &message),
                _ => internal("query failed", &message),
            }
        }
        StoreError::Query(err) => internal("query failed", &err),
    }
}

/// Failures that go away by themselves but reach diesel as `Unknown` (diesel does not expose
/// PostgreSQL's SQLSTATE): SQLite's busy/locked/full errors and PostgreSQL's shutdown,
/// recovery, connection-limit, cancellation and deadlock errors.
fn is_transient(message: &str) -> bool {
    const TRANSIENT: [&str; 12] = [
        "database is locked",
        "database table is locked",
        "disk I/O error",
        "database or disk is full",
        "unable to open database file",
        "terminating connection",
        "the database system is",
        "too many clients",
        "too many connections",
        "canceling statement",
        "deadlock detected",
        "could not serialize access",
    ];
    TRANSIENT.iter().any(|fragment| message.contains(fragment))
}
