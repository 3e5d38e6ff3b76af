//! The completion callback body (ml-protocol.md §2). Unknown fields are ignored: services
//! may send more than the protocol names.

use serde::Deserialize;
use triage_app::AppError;
use triage_domain::ports::{Completion, CompletionStatus};
use utoipa::ToSchema;

/// How the analysis of a job ended.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CompletionRequest {
    /// `succeeded|success|completed|done`, `failed|error`, or
    /// `processing|running|in_progress` (a progress note).
    pub status: String,
    /// The report's key; must lie under the results prefix.
    #[serde(default)]
    pub output_object: Option<String>,
    #[serde(default)]
    pub file_size: Option<u64>,
    #[serde(default)]
    pub file_name: Option<String>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub duration_seconds: Option<f64>,
}

impl TryFrom<CompletionRequest> for Completion {
    type Error = AppError;

    fn try_from(body: CompletionRequest) -> Result<Self, AppError> {
        let status = CompletionStatus::parse(&body.status).ok_or_else(|| {
            AppError::field(
                "status",
                "must be succeeded, failed or processing (or a synonym)",
            )
        })?;
        Ok(Self {
            status,
            output_object: body.output_object,
            file_size: body.file_size,
            file_name: body.file_name,
            error: body.error,
            duration_seconds: body.duration_seconds,
        })
    }
}
