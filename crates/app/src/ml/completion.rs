//! Completions (ml-protocol.md §2): the analysis says how a job ended. The HTTP callback and
//! a synchronous `/infer` answer both end here, so repeating one, or getting both in either
//! order, changes the job once.

use futures_util::StreamExt;
use subtle::ConstantTimeEq;
use triage_domain::ports::{Completion, CompletionStatus};
use triage_domain::{BlobKey, DomainError, Job, JobId, JobStatus, ReportPayload};

use crate::App;
use crate::error::{AppError, AppResult};

/// The token an analysis service presented on a callback: `Bearer <token>` or the raw token
/// (the old service sent it raw).
#[derive(Clone, Copy)]
pub struct CallbackToken<'a>(pub Option<&'a str>);

impl CallbackToken<'_> {
    fn token(&self) -> Option<&str> {
        let raw = self.0?.trim();
        let token = match raw.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => raw,
        };
        (!token.is_empty()).then_some(token)
    }
}

/// Why a report could not be used: the job fails with this.
struct Unusable(String);

impl App {
    /// POST /internal/jobs/{id}/completion.
    ///
    /// # Errors
    /// - `Unauthenticated` for a missing or wrong token (or none configured).
    /// - `Validation` for an `output_object` outside the results prefix.
    /// - `NotFound` for an unknown or deleted job.
    /// - `Conflict` (`completion_conflict`) for a different outcome after a terminal one, or
    ///   any completion of a cancelled job.
    /// - `Unavailable` when the store or the report cannot be reached (the service retries).
    pub async fn complete_job_callback(
        &self,
        token: CallbackToken<'_>,
        id: JobId,
        completion: Completion,
    ) -> AppResult<Job> {
        self.authorize_callback(token)?;
        self.complete(id, completion, false).await
    }

    /// Checks the analysis service's token, in constant time. An unset token refuses all.
    ///
    /// # Errors
    /// `Unauthenticated`.
    pub fn authorize_callback(&self, token: CallbackToken<'_>) -> AppResult<()> {
        let expected = self.inner.settings.ml.token.as_bytes();
        let presented = token.token().unwrap_or_default().as_bytes();
        if expected.is_empty() || !bool::from(presented.ct_eq(expected)) {
            return Err(AppError::Unauthenticated("invalid analysis service token"));
        }
        Ok(())
    }

    /// Applies a completion; `synchronous` when it is the `/infer` answer.
    pub(crate) async fn complete(
        &self,
        id: JobId,
        completion: Completion,
        synchronous: bool,
    ) -> AppResult<Job> {
        let report_key = match completion.status {
            CompletionStatus::Succeeded => {
                Some(self.report_key(id, completion.output_object.as_deref())?)
            }
            _ => None,
        };
        let job = self
            .inner
            .ports
            .jobs
            .get(id)
            .await?
            .ok_or(AppError::NotFound("job"))?;
        let target = match completion.status {
            CompletionStatus::Succeeded => JobStatus::Succeeded,
            CompletionStatus::Failed => JobStatus::Failed,
            CompletionStatus::Progress => JobStatus::Processing,
        };
        if let Some(done) = settled(&job, target)? {
            return Ok(done);
        }
        let source = if synchronous { "answer" } else { "callback" };
        tracing::info!(job.id = %id, status = ?completion.status, source, "completion");
        match (completion.status, report_key) {
            (CompletionStatus::Progress, _) => self.note_progress(id).await,
            (CompletionStatus::Succeeded, Some(key)) => {
                match self.read_report(&key, job.threshold).await? {
                    Ok(results) => self.succeed(id, key, results).await,
                    Err(Unusable(why)) => {
                        self.finish_failed(id, format!("the analysis report is unusable: {why}"))
                            .await
                    }
                }
            }
            _ => {
                let why = completion
                    .error
                    .as_deref()
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .unwrap_or("no reason given");
                let why: String = why.chars().take(1000).collect();
                self.finish_failed(id, format!("the analysis failed: {why}"))
                    .await
            }
        }
    }

    /// The report's key: the one sent, if it lies in the area this job's dispatch gave it
    /// (its proposed key, or under `{results_prefix}{job}/`), else the one triage proposed.
    /// Any other key — another job's report above all — is refused: a job may only adopt
    /// what its own analysis wrote.
    fn report_key(&self, id: JobId, sent: Option<&str>) -> AppResult<BlobKey> {
        let prefix = &self.inner.settings.ml.results_prefix;
        let Some(sent) = sent.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(BlobKey::report(id));
        };
        let refuse = || {
            AppError::field(
                "output_object",
                format!(
                    "must be {} or a key under {prefix}{id}/",
                    BlobKey::report(id)
                ),
            )
        };
        let key = BlobKey::parse(sent).map_err(|_| refuse())?;
        if !key.is_report_area_of(id, prefix) {
            return Err(refuse());
        }
        Ok(key)
    }

    /// Streams the report in, up to the size limit, and parses it.
    async fn read_report(
        &self,
        key: &BlobKey,
        threshold: f64,
    ) -> AppResult<Result<ReportPayload, Unusable>> {
        let limit = self.inner.settings.ml.max_report_bytes;
        let body = match self.inner.ports.blobs.get(key).await {
            Ok(body) => body,
            Err(DomainError::NotFound(_)) => {
                return Ok(Err(Unusable(format!("no report at {key}"))));
            }
            Err(err) => return Err(err.into()),
        };
        if body.meta.size > limit {
            return Ok(Err(Unusable(format!(
                "the report is larger than {limit} bytes"
            ))));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(body.meta.size).unwrap_or(0));
        let mut stream = body.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|err| {
                tracing::warn!(error = %err, "reading the report failed");
                AppError::Unavailable {
                    service: "blobs",
                    retry_after_secs: None,
                }
            })?;
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Ok(Err(Unusable(format!(
                    "the report is larger than {limit} bytes"
                ))));
            }
            bytes.extend_from_slice(&chunk);
        }
        let parsed_at = self.now();
        let parsed = tokio::task::spawn_blocking(move || {
            triage_report::parse(&bytes, Some(threshold), parsed_at)
        })
        .await
        .map_err(AppError::internal)?;
        let rows_limit = self.inner.settings.ml.max_report_rows;
        Ok(match parsed {
            Ok(results) if results.rows.len() as u64 > rows_limit => Err(Unusable(format!(
                "the report has {} rows, more than the limit of {rows_limit}",
                results.rows.len()
            ))),
            Ok(results) => Ok(results),
            Err(err) => Err(Unusable(err.to_string())),
        })
    }

    async fn succeed(&self, id: JobId, key: BlobKey, results: ReportPayload) -> AppResult<Job> {
        let now = self.now();
        let parsed_at = results.parsed_at;
        self.modify_job(id, |job| {
            if let Some(done) = settled(job, JobStatus::Succeeded)? {
                *job = done;
                return Ok(());
            }
            promote_queued(job, now)?;
            job.transition(JobStatus::Succeeded, None, now)?;
            job.results = Some(results.clone());
            job.results_parsed_at = Some(parsed_at);
            job.report_key = Some(key.clone());
            Ok(())
        })
        .await
    }

    async fn finish_failed(&self, id: JobId, reason: String) -> AppResult<Job> {
        let now = self.now();
        self.modify_job(id, |job| {
            if let Some(done) = settled(job, JobStatus::Failed)? {
                *job = done;
                return Ok(());
            }
            promote_queued(job, now)?;
            job.transition(JobStatus::Failed, Some(reason.clone()), now)?;
            Ok(())
        })
        .await
    }

    async fn note_progress(&self, id: JobId) -> AppResult<Job> {
        let now = self.now();
        self.modify_job(id, |job| {
            if let Some(done) = settled(job, JobStatus::Processing)? {
                *job = done;
                return Ok(());
            }
            promote_queued(job, now)?;
            job.status_reason = Some("being analysed".into());
            job.updated_at = now;
            Ok(())
        })
        .await
    }
}

/// A completion for a job that may already be settled: `Some(job)` when it already is in
/// `target` (a repeat: nothing changes), `Conflict` when it is cancelled or ended otherwise.
fn settled(job: &Job, target: JobStatus) -> AppResult<Option<Job>> {
    if job.status == JobStatus::Cancelled {
        return Err(AppError::Conflict {
            code: "completion_conflict",
            message: "the job was cancelled".into(),
        });
    }
    if job.status.is_terminal() {
        if job.status == target {
            return Ok(Some(job.clone()));
        }
        return Err(AppError::Conflict {
            code: "completion_conflict",
            message: format!("the job already {}", job.status),
        });
    }
    Ok(None)
}

/// A completion may reach a job still `queued` (a retry raced an old attempt's late
/// result): it passes through `processing` on its way, as the state machine wants.
fn promote_queued(job: &mut Job, now: chrono::DateTime<chrono::Utc>) -> AppResult<()> {
    if job.status == JobStatus::Queued {
        job.transition(JobStatus::Processing, None, now)?;
    }
    Ok(())
}
