//! Job use cases: listing, reading, editing, cancelling, retrying and deleting jobs, and
//! serving what they hold. Creation from an upload lives in `jobs/upload.rs`.

mod artefacts;
mod download;
mod reuse;
mod upload;

pub use artefacts::{ArtefactResponse, SeriesArtefact, artefact_kind};
pub use download::Download;
pub use upload::{JobForm, UPLOAD_SPOOL_PREFIX, UploadSpool};

use chrono::{DateTime, Utc};
use triage_domain::{
    ArchiveInventory, BlobKey, ChangeKind, ConflictKind, DomainError, FileType, Job, JobChange,
    JobFilter, JobId, JobStatus, ReportPayload,
};

use crate::accounts::check_limit;
use crate::error::{AppError, AppResult};
use crate::range::RangeRequest;
use crate::{App, Caller};

/// PUT /jobs/{id}. `status` may only be `cancelled`.
#[derive(Debug, Clone, Default)]
pub struct JobPatch {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<String>,
}

/// GET /jobs/{id}/results.
#[derive(Debug, Clone)]
pub struct JobResults {
    pub job_id: JobId,
    pub parsed_at: DateTime<Utc>,
    pub results: ReportPayload,
}

/// How often a read-modify-write is retried when another writer got there first.
const WRITE_ATTEMPTS: usize = 8;

pub(crate) const MAX_TITLE: usize = 200;
pub(crate) const MAX_DESCRIPTION: usize = 10_000;

impl App {
    /// The caller's jobs (or everyone's, for an admin asking `all`), newest first.
    ///
    /// # Errors
    /// `Forbidden` (`all` by a non-admin), `Validation` (limit), `Unavailable`.
    pub async fn list_jobs(
        &self,
        caller: &Caller,
        all: bool,
        status: Option<JobStatus>,
        skip: u64,
        limit: u64,
    ) -> AppResult<Vec<Job>> {
        check_limit(limit)?;
        if all && !caller.is_admin() {
            return Err(AppError::Forbidden(
                "only administrators may list every job",
            ));
        }
        let owner = if all { None } else { Some(caller.id) };
        Ok(self
            .inner
            .ports
            .jobs
            .list(&JobFilter {
                owner,
                status,
                skip,
                limit,
            })
            .await?)
    }

    /// # Errors
    /// `NotFound` (also for other users' jobs), `Unavailable`.
    pub async fn job(&self, caller: &Caller, id: JobId) -> AppResult<Job> {
        let job = self.inner.ports.jobs.get(id).await?;
        job.filter(|job| caller.may_access(job.owner_id))
            .ok_or(AppError::NotFound("job"))
    }

    /// Edits title and description, or cancels.
    ///
    /// # Errors
    /// `NotFound`, `Validation`, `InvalidTransition`, `Unavailable`.
    pub async fn update_job(&self, caller: &Caller, id: JobId, patch: JobPatch) -> AppResult<Job> {
        let mut errors = Vec::new();
        let title = patch.title.map(|t| t.trim().to_owned());
        if let Some(title) = &title
            && (title.is_empty() || title.chars().count() > MAX_TITLE)
        {
            errors.push(crate::FieldError {
                field: "title".into(),
                message: format!("must be 1 to {MAX_TITLE} characters"),
            });
        }
        if let Some(Some(description)) = &patch.description
            && description.chars().count() > MAX_DESCRIPTION
        {
            errors.push(crate::FieldError {
                field: "description".into(),
                message: format!("must be at most {MAX_DESCRIPTION} characters"),
            });
        }
        let cancel = match patch.status.as_deref() {
            None => false,
            Some("cancelled") => true,
            Some(_) => {
                errors.push(crate::FieldError {
                    field: "status".into(),
                    message: "may only be 'cancelled'".into(),
                });
                false
            }
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        self.job(caller, id).await?;
        let now = self.now();
        let reason = format!("cancelled by {}", caller.username);
        self.modify_job(id, |job| {
            if let Some(title) = &title {
                job.title.clone_from(title);
            }
            if let Some(description) = &patch.description {
                job.description.clone_from(description);
            }
            job.updated_at = now;
            if cancel {
                job.transition(JobStatus::Cancelled, Some(reason.clone()), now)?;
            }
            Ok(())
        })
        .await
    }

    /// # Errors
    /// `NotFound`, `InvalidTransition` (already terminal), `Unavailable`.
    pub async fn cancel_job(&self, caller: &Caller, id: JobId) -> AppResult<Job> {
        self.job(caller, id).await?;
        let now = self.now();
        let reason = format!("cancelled by {}", caller.username);
        self.modify_job(id, |job| {
            Ok(job.transition(JobStatus::Cancelled, Some(reason.clone()), now)?)
        })
        .await
    }

    /// Puts a failed or cancelled job back in the queue with fresh attempts. The old report,
    /// if any, is deleted.
    ///
    /// # Errors
    /// `NotFound`, `InvalidTransition`, `Unavailable`.
    pub async fn retry_job(&self, caller: &Caller, id: JobId) -> AppResult<Job> {
        self.job(caller, id).await?;
        let now = self.now();
        let reason = format!("retry requested by {}", caller.username);
        let mut old_report = None;
        let job = self
            .modify_job(id, |job| {
                job.transition(JobStatus::Queued, Some(reason.clone()), now)?;
                job.attempts = 0;
                job.results = None;
                job.results_parsed_at = None;
                old_report = job.report_key.take();
                Ok(())
            })
            .await?;
        if let Some(key) = old_report.filter(|key| self.is_own_report(id, key))
            && let Err(err) = self.inner.ports.blobs.delete(&key).await
        {
            tracing::warn!(job.id = %id, error = %err, "old report not deleted");
        }
        if let Err(err) = self.delete_artefacts(id).await {
            tracing::warn!(job.id = %id, error = %err, "old key images and masks not deleted");
        }
        Ok(job)
    }

    /// Deletes the job, its upload, its report and its artefacts (key images, masks). A running analysis is abandoned: its late
    /// completion will find no job.
    ///
    /// # Errors
    /// `NotFound`, `Unavailable` (repeat the call to finish).
    pub async fn delete_job(&self, caller: &Caller, id: JobId) -> AppResult<()> {
        self.job(caller, id).await?;
        self.delete_job_everything(id).await
    }

    /// Whether `key` lies in the job's own report area. Completions naming anything else are
    /// refused, but a row written before that rule may still name another job's report:
    /// deleting this job must never delete that.
    fn is_own_report(&self, id: JobId, key: &BlobKey) -> bool {
        let own = key.is_report_area_of(id, &self.inner.settings.ml.results_prefix);
        if !own {
            tracing::warn!(job.id = %id, key = %key, "report outside the job's area kept");
        }
        own
    }

    /// Objects first, row last: if the store fails half-way, the job still exists and a
    /// repeated delete finishes the work, so no object is ever left without its job.
    pub(crate) async fn delete_job_everything(&self, id: JobId) -> AppResult<()> {
        let ports = &self.inner.ports;
        let Some(job) = ports.jobs.get(id).await? else {
            return Ok(());
        };
        ports.blobs.delete(&job.upload_key).await?;
        if let Some(report) = &job.report_key
            && self.is_own_report(id, report)
        {
            ports.blobs.delete(report).await?;
        }
        self.delete_artefacts(id).await?;
        if let Some(deleted) = ports.jobs.delete(id).await? {
            self.publish(&deleted, ChangeKind::Deleted).await;
        }
        Ok(())
    }

    /// The stored inventory; `NotAZip` when `zip_only` and the upload is a single file.
    ///
    /// # Errors
    /// `NotFound`, `NotAZip`, `Unavailable`.
    pub async fn job_inventory(
        &self,
        caller: &Caller,
        id: JobId,
        zip_only: bool,
    ) -> AppResult<(Job, ArchiveInventory)> {
        let job = self.job(caller, id).await?;
        if zip_only && job.file_type != FileType::Zip {
            return Err(AppError::NotAZip);
        }
        let inventory = self.inner.ports.jobs.inventory(id).await?;
        let inventory = inventory.ok_or(AppError::NotFound("inventory"))?;
        Ok((job, inventory))
    }

    /// The parsed report of a succeeded job. Never parses anything: it was parsed once, when
    /// the analysis completed.
    ///
    /// # Errors
    /// `NotFound`, `ResultsNotReady`, `Unavailable`.
    pub async fn job_results(&self, caller: &Caller, id: JobId) -> AppResult<JobResults> {
        let job = self.job(caller, id).await?;
        match (job.status, job.results, job.results_parsed_at) {
            (JobStatus::Succeeded, Some(results), Some(parsed_at)) => Ok(JobResults {
                job_id: id,
                parsed_at,
                results,
            }),
            _ => Err(AppError::ResultsNotReady),
        }
    }

    /// Re-reads the job and applies `change` until the store accepts it (or `change` fails),
    /// then announces it.
    pub(crate) async fn modify_job(
        &self,
        id: JobId,
        mut change: impl FnMut(&mut Job) -> AppResult<()>,
    ) -> AppResult<Job> {
        let store = &self.inner.ports.jobs;
        for _ in 0..WRITE_ATTEMPTS {
            let mut job = store.get(id).await?.ok_or(AppError::NotFound("job"))?;
            change(&mut job)?;
            match store.update(&job).await {
                Ok(stored) => {
                    self.publish(&stored, ChangeKind::Updated).await;
                    return Ok(stored);
                }
                Err(DomainError::Conflict(ConflictKind::StaleVersion)) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(DomainError::Conflict(ConflictKind::StaleVersion).into())
    }

    pub(crate) async fn publish(&self, job: &Job, kind: ChangeKind) {
        let change = JobChange {
            job_id: job.id,
            owner_id: job.owner_id,
            kind,
            status: job.status,
            version: job.version,
        };
        self.inner.ports.events.publish(change).await;
    }

    /// Streams the original upload (or a range of it).
    ///
    /// # Errors
    /// `NotFound`, `RangeNotSatisfiable`, `Unavailable`.
    pub async fn download_upload(
        &self,
        caller: &Caller,
        id: JobId,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let job = self.job(caller, id).await?;
        self.open_blob(
            &job.upload_key,
            job.file_name.clone(),
            job.content_type.clone(),
            Some(job.file_size),
            range,
        )
        .await
    }

    /// Streams the analysis report of a succeeded job.
    ///
    /// # Errors
    /// `NotFound`, `ResultsNotReady`, `RangeNotSatisfiable`, `Unavailable`.
    pub async fn download_report(
        &self,
        caller: &Caller,
        id: JobId,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let job = self.job(caller, id).await?;
        let key = match (&job.status, &job.report_key) {
            (JobStatus::Succeeded, Some(key)) => key.clone(),
            _ => return Err(AppError::ResultsNotReady),
        };
        let stem = job
            .file_name
            .rsplit_once('.')
            .map_or(job.file_name.as_str(), |(stem, _)| stem);
        let name = format!("{stem}-report.xlsx");
        let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        self.open_blob(&key, name, xlsx.into(), None, range).await
    }
}
