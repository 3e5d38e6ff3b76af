use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::DomainResult;
use crate::ids::{BlobKey, JobId};

/// One job handed to the analysis (ml-protocol.md §1).
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceRequest {
    pub job_id: JobId,
    pub input_key: BlobKey,
    /// Where the report should be written (always under the results prefix).
    pub output_key: BlobKey,
    pub profile: String,
    pub threshold: f64,
    /// Where a remote service should post its completion.
    pub callback_url: Option<String>,
}

/// How the analysis took the job.
#[derive(Debug, Clone, PartialEq)]
pub enum Submission {
    /// Asynchronous: the result will arrive as a completion later.
    Accepted,
    /// Synchronous: the analysis is already done; handle this like a callback.
    Completed(Completion),
}

/// The normalised `status` of a completion (ml-protocol.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompletionStatus {
    Succeeded,
    Failed,
    /// A progress note: the job stays `processing`.
    Progress,
}

impl CompletionStatus {
    /// Accepts the protocol's synonyms, case-insensitively; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "succeeded" | "success" | "completed" | "done" => Some(Self::Succeeded),
            "failed" | "error" => Some(Self::Failed),
            "processing" | "running" | "in_progress" => Some(Self::Progress),
            _ => None,
        }
    }
}

/// What the analysis reports about a job, by callback or as a synchronous answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub status: CompletionStatus,
    /// The report's key as the service sent it; the use case checks it lies under the
    /// results prefix before touching it.
    pub output_object: Option<String>,
    pub file_size: Option<u64>,
    pub file_name: Option<String>,
    pub error: Option<String>,
    pub duration_seconds: Option<f64>,
}

/// The analysis's own view of its health.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthReport {
    pub healthy: bool,
    pub model_loaded: Option<bool>,
    pub version: Option<String>,
}

/// The analysis: a remote ML service or the in-process engine.
#[async_trait]
pub trait Inference: Send + Sync + 'static {
    /// Hands the job over.
    ///
    /// # Errors
    /// - `Unavailable` (with the service's `Retry-After` if any) for transient failures:
    ///   connection errors, timeouts, 408, 429, 5xx. The job waits and is tried again.
    /// - `Rejected` with the service's message when it refused the job for good (other 4xx).
    async fn submit(&self, request: &InferenceRequest) -> DomainResult<Submission>;

    /// # Errors
    /// `Unavailable` when the service does not answer healthily.
    async fn health(&self) -> DomainResult<HealthReport>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_synonyms() {
        for s in ["succeeded", "Success", "COMPLETED", " done "] {
            assert_eq!(
                CompletionStatus::parse(s),
                Some(CompletionStatus::Succeeded)
            );
        }
        for s in ["failed", "error"] {
            assert_eq!(CompletionStatus::parse(s), Some(CompletionStatus::Failed));
        }
        for s in ["processing", "running", "in_progress"] {
            assert_eq!(CompletionStatus::parse(s), Some(CompletionStatus::Progress));
        }
        assert_eq!(CompletionStatus::parse("cancelled"), None);
    }
}
