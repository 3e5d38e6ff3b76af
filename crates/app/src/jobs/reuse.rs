//! Deduplication: an upload whose content (sha256) a succeeded job of the same owner already
//! analysed with the same profile and threshold is not analysed again. The new job takes a
//! copy of that job's report and results and succeeds at once; `reanalyse=true` on the
//! upload form skips this.

use futures_util::TryStreamExt;
use triage_domain::{BlobKey, ChangeKind, ConflictKind, DomainError, Job, JobId, JobStatus};

use crate::App;
use crate::error::AppResult;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl App {
    /// Finishes the freshly created `job` with the results of an earlier identical analysis,
    /// if there is one; otherwise (or when anything goes wrong) returns it unchanged, queued
    /// for a normal analysis.
    pub(crate) async fn reuse_analysis(&self, job: Job) -> Job {
        match self.try_reuse(&job).await {
            Ok(Some(done)) => done,
            Ok(None) => job,
            Err(err) => {
                tracing::warn!(job.id = %job.id, error = %err, "deduplication skipped; the upload is analysed");
                job
            }
        }
    }

    async fn try_reuse(&self, job: &Job) -> AppResult<Option<Job>> {
        let ports = &self.inner.ports;
        let Some(source_id) = ports
            .studies
            .reusable_job(job.owner_id, &job.sha256, &job.profile, job.threshold)
            .await?
        else {
            return Ok(None);
        };
        let Some(source) = ports.jobs.get(source_id).await? else {
            return Ok(None);
        };
        let (Some(results), Some(report)) = (source.results.clone(), source.report_key.clone())
        else {
            return Ok(None);
        };
        // The report object is copied (streamed): each job owns its objects, so deleting or
        // retrying one never takes the other's report away. Not to `BlobKey::report`: if a
        // dispatcher takes the job meanwhile, the analysis writes there, and removing this
        // copy after losing that race must not remove its report.
        let key = BlobKey::parse(format!("results/{}.reused.xlsx", job.id))?;
        let body = ports.blobs.get(&report).await?;
        let reader = body.stream.map_err(std::io::Error::other).into_async_read();
        ports.blobs.put(&key, Box::pin(reader), XLSX).await?;

        let now = self.now();
        let mut next = job.clone();
        next.transition(JobStatus::Processing, Some(reused(source_id)), now)?;
        let next = match ports.jobs.update(&next).await {
            Ok(next) => next,
            // The dispatcher took the job first: it is analysed after all.
            Err(DomainError::Conflict(ConflictKind::StaleVersion)) => {
                let _ = ports.blobs.delete(&key).await;
                return Ok(None);
            }
            Err(err) => {
                let _ = ports.blobs.delete(&key).await;
                return Err(err.into());
            }
        };
        let mut done = next;
        done.transition(JobStatus::Succeeded, Some(reused(source_id)), now)?;
        done.results = Some(results);
        done.results_parsed_at = source.results_parsed_at;
        done.report_key = Some(key);
        let done = ports.jobs.update(&done).await?;
        self.publish(&done, ChangeKind::Updated).await;
        Ok(Some(done))
    }
}

fn reused(source: JobId) -> String {
    format!("same upload, profile and threshold as job {source}: its analysis was reused")
}
