//! The crate's one error type: what stops a whole analysis. A series that cannot be analysed is
//! not an error here; it becomes a `Failure` row with its reason.

use std::path::PathBuf;

/// Why an analysis (or writing its report) could not be done at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The profile name is not `fast_debug`, `production` or `research`.
    #[error("unknown analysis profile {0:?} (expected fast_debug, production or research)")]
    UnknownProfile(String),
    /// The threshold is not a number in 0–1.
    #[error("the pathology threshold must be a number between 0 and 1, got {0}")]
    InvalidThreshold(f64),
    /// The input could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The input is neither a ZIP archive nor a DICOM file.
    #[error("{0} is neither a ZIP archive nor a DICOM file")]
    UnrecognisedInput(PathBuf),
    /// The ZIP archive itself (not one entry) is broken.
    #[error("the ZIP archive is unreadable: {0}")]
    Archive(String),
    /// Not a single entry of the archive is a DICOM file.
    #[error("the archive contains no DICOM files")]
    NoDicom,
    /// A worker thread died; the engine catches decoder panics, so this is a bug.
    #[error("an analysis worker failed: {0}")]
    Worker(String),
    /// The XLSX writer refused the rows.
    #[error(transparent)]
    Report(#[from] triage_report::ReportError),
}

impl EngineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
