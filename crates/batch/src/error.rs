//! The crate's one error type: what stops a batch command as a whole. A study that cannot be
//! analysed is not an error; it becomes `Failure` rows.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The output (or another local file the command must write) failed.
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The rows could not be turned into the output format.
    #[error("cannot write the report: {0}")]
    Output(String),
    /// `--resume` was asked but the existing output cannot be read.
    #[error("cannot resume from the existing output {0}")]
    Resume(String),
    /// The report writer or parser refused.
    #[error(transparent)]
    Report(#[from] triage_report::ReportError),
    /// Wrong options (a threshold outside 0–1, …).
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached or answered something unexpected (`triage submit`).
    #[error("server: {0}")]
    Server(String),
    /// The server refused the credentials.
    #[error("login refused: {0}")]
    Login(String),
}

impl BatchError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
