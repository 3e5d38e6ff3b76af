//! The server crate's error: start-up and wiring failures, shown to the operator.

use triage_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("storage: {0}")]
    Storage(#[from] DomainError),
    #[error("application: {0}")]
    App(#[from] triage_app::AppError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
