//! The crate's one error type.

/// Why an artefact could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VisualError {
    #[error("encoding the PNG failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("writing the compressed stream failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("building the DICOM object failed: {0}")]
    Dicom(String),
    #[error("the series has no masks to draw: {0}")]
    Empty(&'static str),
}
