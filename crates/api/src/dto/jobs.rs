//! Job JSON, the job edit body, list filters, the results envelope and the upload form.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use triage_app::{JobPatch, JobResults};
use triage_domain::{FileType, Job, JobStatus, ReportPayload};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::report::ReportSchema;
use super::{QueryChecks, nullable};

/// The only statuses a job ever has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobStatus)]
pub(crate) enum JobStatusDto {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Cancelled,
}

impl From<JobStatus> for JobStatusDto {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => Self::Queued,
            JobStatus::Processing => Self::Processing,
            JobStatus::Succeeded => Self::Succeeded,
            JobStatus::Failed => Self::Failed,
            JobStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// What the upload is, by content: a ZIP archive, a single DICOM file, or anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = FileType)]
pub(crate) enum FileTypeDto {
    Zip,
    Dicom,
    Other,
}

impl From<FileType> for FileTypeDto {
    fn from(file_type: FileType) -> Self {
        match file_type {
            FileType::Zip => Self::Zip,
            FileType::Dicom => Self::Dicom,
            FileType::Other => Self::Other,
        }
    }
}

/// Job JSON. The field order is the old system's (the frontend's), then the additions.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Job)]
pub(crate) struct JobResponse {
    pub id: Uuid,
    #[schema(example = "study.zip")]
    pub title: String,
    pub description: Option<String>,
    pub status: JobStatusDto,
    #[schema(example = "study.zip")]
    pub file_name: String,
    #[schema(example = 11203)]
    pub file_size: u64,
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The parsed report, once the job succeeded.
    #[schema(value_type = Option<ReportSchema>)]
    pub results_payload: Option<ReportPayload>,
    pub results_parsed_at: Option<DateTime<Utc>>,
    pub file_type: FileTypeDto,
    #[schema(example = "fast_debug")]
    pub profile: String,
    #[schema(example = 0.25)]
    pub threshold: f64,
    pub attempts: u32,
    /// Why the job failed or was cancelled, or why it is still waiting.
    pub status_reason: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Hex SHA-256 of the upload.
    pub sha256: String,
}

impl From<Job> for JobResponse {
    fn from(job: Job) -> Self {
        Self {
            id: job.id.0,
            title: job.title,
            description: job.description,
            status: job.status.into(),
            file_name: job.file_name,
            file_size: job.file_size,
            owner_id: job.owner_id.0,
            created_at: job.created_at,
            updated_at: job.updated_at,
            results_payload: job.results,
            results_parsed_at: job.results_parsed_at,
            file_type: job.file_type.into(),
            profile: job.profile,
            threshold: job.threshold,
            attempts: job.attempts,
            status_reason: job.status_reason,
            completed_at: job.completed_at,
            sha256: job.sha256,
        }
    }
}

/// PUT /jobs/{id}: only the fields present change; `"description": null` clears it;
/// `status` may only be `cancelled`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = JobUpdate)]
pub(crate) struct UpdateJobRequest {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    #[serde(default)]
    #[schema(example = "cancelled")]
    pub status: Option<String>,
}

impl From<UpdateJobRequest> for JobPatch {
    fn from(body: UpdateJobRequest) -> Self {
        Self {
            title: body.title,
            description: body.description,
            status: body.status,
        }
    }
}

/// `?skip&limit&status&all&include` of GET /jobs.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobListQuery {
    /// Jobs to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000)]
    pub skip: Option<String>,
    /// Page size, 1–500 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Only jobs in this status.
    #[param(value_type = Option<JobStatusDto>)]
    pub status: Option<String>,
    /// Administrators: everyone's jobs instead of their own.
    #[param(value_type = Option<bool>)]
    pub all: Option<String>,
    /// `results`: inline each job's `results_payload`. Without it lists carry `null` there
    /// (reports can be large); `GET /jobs/{id}` and `GET /jobs/{id}/results` always carry it.
    #[param(value_type = Option<JobListIncludeDto>)]
    pub include: Option<String>,
}

/// What `GET /jobs?include=` may add to each job.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobListInclude)]
#[expect(
    dead_code,
    reason = "documents the query value; the handler reads text"
)]
pub(crate) enum JobListIncludeDto {
    Results,
}

/// A checked [`JobListQuery`].
pub(crate) struct JobList {
    pub skip: u64,
    pub limit: u64,
    pub status: Option<JobStatus>,
    pub all: bool,
    /// Inline `results_payload` (`?include=results`).
    pub include_results: bool,
}

impl JobListQuery {
    pub(crate) fn check(&self) -> Result<JobList, triage_app::AppError> {
        let mut checks = QueryChecks::default();
        let skip = checks.number("skip", self.skip.as_deref(), 0, 0, super::MAX_SKIP);
        let limit = checks.number("limit", self.limit.as_deref(), 100, 1, 500);
        let all = checks.flag("all", self.all.as_deref());
        let status = match self
            .status
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(raw) => match raw.parse::<JobStatus>() {
                Ok(status) => Some(status),
                Err(_) => {
                    checks.fail(
                        "status",
                        "must be one of: queued, processing, succeeded, failed, cancelled".into(),
                    );
                    None
                }
            },
        };
        let include_results = match self.include.as_deref().map(str::trim) {
            None | Some("") => false,
            Some("results") => true,
            Some(_) => {
                checks.fail("include", "must be results".into());
                false
            }
        };
        checks.finish()?;
        Ok(JobList {
            skip,
            limit,
            status,
            all,
            include_results,
        })
    }
}

/// GET /jobs/{id}/results. Compat: the frontend reads `results`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = JobResults)]
pub(crate) struct ResultsResponse {
    pub job_id: Uuid,
    pub parsed_at: DateTime<Utc>,
    #[schema(value_type = ReportSchema)]
    pub results: ReportPayload,
    /// Always `cached`: results are parsed once, when the analysis completes.
    #[schema(example = "cached")]
    pub source: &'static str,
}

impl From<JobResults> for ResultsResponse {
    fn from(results: JobResults) -> Self {
        Self {
            job_id: results.job_id.0,
            parsed_at: results.parsed_at,
            results: results.results,
            source: "cached",
        }
    }
}

/// POST /jobs (`multipart/form-data`). Only `file` is required.
#[derive(ToSchema)]
#[schema(as = JobUpload)]
#[expect(
    dead_code,
    reason = "documents the multipart form; the handler streams the parts"
)]
pub(crate) struct UploadForm {
    /// A ZIP of DICOM files or a single DICOM file; streamed, up to the configured limit.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Defaults to the file name.
    title: Option<String>,
    description: Option<String>,
    /// Analysis profile (default from config).
    #[schema(example = "fast_debug")]
    profile: Option<String>,
    /// Decision threshold, 0–1 (default from config).
    #[schema(value_type = Option<f64>, minimum = 0, maximum = 1)]
    threshold: Option<String>,
    /// `true`: analyse again even if a succeeded job of the caller already analysed the same
    /// content with the same profile and threshold (by default that job's results are reused
    /// and the new job succeeds at once, its `status_reason` naming the reused job).
    #[schema(value_type = Option<bool>)]
    reanalyse: Option<String>,
}

#[cfg(test)]
mod tests;
