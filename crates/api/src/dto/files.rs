//! Bodies and queries of the Files section (a per-user object area).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use triage_app::StoredFile;
use utoipa::{IntoParams, ToSchema};

/// `?bucket_name=`: accepted only for the configured bucket.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct BucketQuery {
    /// Must name the configured bucket (default `uploads`) if given.
    pub bucket_name: Option<String>,
}

/// POST /upload query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// Replace an existing file of the same name instead of answering 409.
    #[serde(default)]
    pub overwrite: bool,
    pub bucket_name: Option<String>,
}

/// GET /files query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only names starting with this.
    pub prefix: Option<String>,
    pub bucket_name: Option<String>,
}

/// GET /files/{filename}/url query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UrlQuery {
    /// Seconds the URL stays valid: 1–604800, default 3600.
    #[param(minimum = 1, maximum = 604800)]
    pub expires: Option<u64>,
    pub bucket_name: Option<String>,
}

/// The signed-download query.
#[derive(Debug, Deserialize)]
pub(crate) struct SignedQuery {
    pub expires: i64,
    pub signature: String,
}

/// The multipart body of POST /upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct FileUploadForm {
    /// The file; its name comes from the part's `filename`.
    #[schema(value_type = String, format = Binary)]
    pub file: Vec<u8>,
}

/// POST /upload answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UploadedFile {
    pub message: String,
    pub filename: String,
    pub bucket: String,
    pub size: u64,
}

/// One file of the caller.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FileEntry {
    pub name: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

impl From<StoredFile> for FileEntry {
    fn from(file: StoredFile) -> Self {
        Self {
            name: file.name,
            size: file.size,
            last_modified: file.last_modified,
        }
    }
}

/// GET /files answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FileList {
    pub bucket: String,
    pub files: Vec<FileEntry>,
    pub count: usize,
}

/// DELETE /files/{filename} answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Message {
    pub message: String,
}

/// GET /files/{filename}/url answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FileUrlResponse {
    pub filename: String,
    pub url: String,
    pub expires_in_seconds: u64,
}
