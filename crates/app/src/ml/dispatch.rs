//! The dispatcher: hands queued jobs to the analysis and watches the ones it holds.
//!
//! A job is marked `processing` when it is claimed, before `/infer` is called, so that
//! `processing` counts every job that takes one of the `max_in_flight` slots, across
//! replicas, while its handover is under way. A transient failure (the service unreachable or
//! busy) puts it back to `queued` with the reason and the next attempt time: the analysis
//! does not have it, so it holds no slot. Transient failures never use up attempts, which
//! count only handovers the analysis accepted. A `processing` job keeps its queue entry, due
//! when the processing timeout passes: that is the watchdog.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use rand::Rng;
use triage_domain::ports::{InferenceRequest, Submission};
use triage_domain::{BlobKey, DomainError, Job, JobStatus, QueueEntry};

use crate::App;
use crate::error::{AppError, AppResult};

/// What one dispatch step did: for logs, metrics and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    /// Jobs taken from the queue (new ones and overdue `processing` ones).
    pub claimed: usize,
    /// Handed over; the result comes later.
    pub accepted: usize,
    /// Answered synchronously (the job is now terminal).
    pub completed: usize,
    /// Transient failure; tried again later.
    pub retrying: usize,
    /// The job failed: refused, out of attempts, or past the dispatch deadline.
    pub failed: usize,
    /// Nothing to do: the job changed (cancelled, completed, deleted) since it was claimed.
    pub skipped: usize,
}

enum Outcome {
    Accepted,
    Completed,
    Retrying,
    Failed,
    Skipped,
}

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Completed => "completed",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }
}

impl DispatchReport {
    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Accepted => self.accepted += 1,
            Outcome::Completed => self.completed += 1,
            Outcome::Retrying => self.retrying += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Skipped => self.skipped += 1,
        }
    }
}

/// Jobs claimed by one step, already marked `processing`, not yet handed over.
pub struct DispatchBatch {
    worker: String,
    jobs: Vec<(Job, QueueEntry)>,
    skipped: usize,
}

impl DispatchBatch {
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }
}

impl App {
    /// One whole dispatch step: [`App::claim_dispatch_batch`], then
    /// [`App::run_dispatch_batch`]. Tests call this; the loop splits the two so that a slow
    /// `/infer` never holds up the next claim.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    pub async fn dispatch_step(&self, worker: &str) -> AppResult<DispatchReport> {
        let batch = self.claim_dispatch_batch(worker).await?;
        Ok(self.run_dispatch_batch(batch).await)
    }

    /// Claims overdue `processing` jobs (the watchdog) and as many queued jobs as free
    /// `max_in_flight` slots allow, and marks the queued ones `processing`.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    pub async fn claim_dispatch_batch(&self, worker: &str) -> AppResult<DispatchBatch> {
        let ml = &self.inner.settings.ml;
        let store = &self.inner.ports.jobs;
        let now = self.now();
        let lease_until = now + ml.lease;
        let overdue = store
            .claim(
                worker,
                JobStatus::Processing,
                now,
                lease_until,
                ml.max_in_flight.max(1),
            )
            .await?;
        let processing = store
            .count_by_status()
            .await?
            .into_iter()
            .find(|(status, _)| *status == JobStatus::Processing)
            .map_or(0, |(_, count)| count);
        let free = u64::from(ml.max_in_flight).saturating_sub(processing);
        let fresh = if free > 0 {
            let free = u32::try_from(free).unwrap_or(u32::MAX);
            store
                .claim(worker, JobStatus::Queued, now, lease_until, free)
                .await?
        } else {
            Vec::new()
        };
        let mut batch = DispatchBatch {
            worker: worker.to_owned(),
            jobs: overdue,
            skipped: 0,
        };
        for (job, entry) in fresh {
            let reason = "handing over to the analysis".to_owned();
            let marked = self
                .modify_job(job.id, |job| {
                    job.transition(JobStatus::Processing, Some(reason.clone()), now)?;
                    Ok(())
                })
                .await;
            match marked {
                Ok(job) => batch.jobs.push((job, entry)),
                // Cancelled or deleted since the claim: its entry went with the change.
                Err(AppError::InvalidTransition { .. } | AppError::NotFound(_)) => {
                    batch.skipped += 1;
                    store.release(job.id, worker).await?;
                }
                Err(err) => {
                    // Still queued: give the entry back (never delete it) so the job is tried
                    // again after the backoff.
                    let retry_at = now + self.backoff(&entry, None);
                    store.reschedule(job.id, worker, retry_at).await?;
                    return Err(err);
                }
            }
        }
        Ok(batch)
    }

    /// Hands every job of `batch` to the analysis, concurrently, and records the outcomes.
    pub async fn run_dispatch_batch(&self, batch: DispatchBatch) -> DispatchReport {
        let mut report = DispatchReport {
            claimed: batch.jobs.len() + batch.skipped,
            skipped: batch.skipped,
            ..DispatchReport::default()
        };
        let worker = batch.worker.as_str();
        let runs = batch
            .jobs
            .into_iter()
            .map(|(job, entry)| self.dispatch_one(worker, job, entry));
        for outcome in join_all(runs).await {
            self.metrics().dispatch_outcome(outcome.name());
            report.count(&outcome);
        }
        report
    }

    async fn dispatch_one(&self, worker: &str, job: Job, entry: QueueEntry) -> Outcome {
        let id = job.id;
        match self.try_dispatch(worker, job, &entry).await {
            Ok(outcome) => outcome,
            Err(err) => {
                // The store itself failed: try again after the backoff (if even that write
                // fails, the lease expires and another claim picks the job up).
                tracing::warn!(job.id = %id, error = %err, "dispatch step failed");
                let retry_at = self.now() + self.backoff(&entry, None);
                let _ = self.inner.ports.jobs.reschedule(id, worker, retry_at).await;
                Outcome::Retrying
            }
        }
    }

    async fn try_dispatch(&self, worker: &str, job: Job, entry: &QueueEntry) -> AppResult<Outcome> {
        let ml = &self.inner.settings.ml;
        let (id, now) = (job.id, self.now());
        // Attempts count accepted handovers only: reaching the limit here means the last
        // accepted one timed out.
        if job.attempts >= ml.max_attempts {
            let reason = format!(
                "no result from the analysis after {} attempts of {} each",
                job.attempts,
                humanize(ml.processing_timeout)
            );
            return self.fail(id, reason).await;
        }
        let request = self.inference_request(&job);
        tracing::info!(job.id = %id, attempt = job.attempts + 1, "handing the job to the analysis");
        let started = std::time::Instant::now();
        let answer = self.inner.ports.inference.submit(&request).await;
        self.metrics().dispatch_attempt(started.elapsed());
        match answer {
            Ok(Submission::Accepted) => {
                let reason = "being analysed".to_owned();
                let accepted = self
                    .modify_job(id, |job| {
                        if job.status != JobStatus::Processing {
                            return Err(AppError::InvalidTransition {
                                from: job.status,
                                to: JobStatus::Processing,
                            });
                        }
                        job.attempts += 1;
                        job.status_reason = Some(reason.clone());
                        job.updated_at = now;
                        Ok(())
                    })
                    .await;
                match accepted {
                    Ok(_) => {
                        let due = now + ml.processing_timeout;
                        self.inner.ports.jobs.reschedule(id, worker, due).await?;
                        Ok(Outcome::Accepted)
                    }
                    // A callback overtook the answer, or the job was cancelled or deleted.
                    Err(AppError::InvalidTransition { .. } | AppError::NotFound(_)) => {
                        self.inner.ports.jobs.release(id, worker).await?;
                        Ok(Outcome::Skipped)
                    }
                    Err(err) => Err(err),
                }
            }
            Ok(Submission::Completed(completion)) => {
                match self.complete(id, completion, true).await {
                    Ok(job) if job.status.is_terminal() => Ok(Outcome::Completed),
                    // A progress note as the answer: the job is with the analysis, so the
                    // watchdog must still look after it.
                    Ok(_) => {
                        let due = self.now() + self.inner.settings.ml.processing_timeout;
                        self.inner.ports.jobs.reschedule(id, worker, due).await?;
                        Ok(Outcome::Accepted)
                    }
                    Err(AppError::Unavailable {
                        retry_after_secs, ..
                    }) => {
                        self.retry_later(
                            worker,
                            id,
                            entry,
                            "the report could not be read",
                            retry_after_secs,
                        )
                        .await
                    }
                    Err(AppError::Conflict { .. } | AppError::NotFound(_)) => {
                        let _ = self.inner.ports.jobs.release(id, worker).await;
                        Ok(Outcome::Skipped)
                    }
                    Err(err) => {
                        let reason =
                            format!("the analysis answered with an unusable result: {err}");
                        self.fail(id, reason).await
                    }
                }
            }
            Err(DomainError::Unavailable {
                detail,
                retry_after_secs,
                ..
            }) => {
                let detail = format!("the analysis is unavailable ({detail})");
                self.retry_later(worker, id, entry, &detail, retry_after_secs)
                    .await
            }
            Err(DomainError::Rejected { message, .. }) => {
                self.fail(id, format!("the analysis refused the job: {message}"))
                    .await
            }
            Err(err) => {
                tracing::error!(job.id = %id, error = %err, "handing over failed");
                self.retry_later(worker, id, entry, "an internal error occurred", None)
                    .await
            }
        }
    }

    /// Waits with backoff, or fails the job once the dispatch deadline would pass.
    async fn retry_later(
        &self,
        worker: &str,
        id: triage_domain::JobId,
        entry: &QueueEntry,
        why: &str,
        retry_after_secs: Option<u64>,
    ) -> AppResult<Outcome> {
        let ml = &self.inner.settings.ml;
        let now = self.now();
        let at = now + self.backoff(entry, retry_after_secs);
        let deadline = entry.enqueued_at + ml.dispatch_deadline;
        if at > deadline {
            let reason = format!("{why}; gave up after {}", humanize(ml.dispatch_deadline));
            return self.fail(id, reason).await;
        }
        let reason = format!("{why}; next attempt at {}", at.format("%Y-%m-%dT%H:%M:%SZ"));
        tracing::info!(job.id = %id, %reason, "dispatch postponed");
        // The analysis does not have the job: it waits as `queued` again, so it holds none of
        // the `max_in_flight` slots, and becomes `processing` when a handover is accepted.
        let noted = self
            .modify_job(id, |job| {
                if job.status == JobStatus::Processing {
                    job.transition(JobStatus::Queued, Some(reason.clone()), now)?;
                } else {
                    job.status_reason = Some(reason.clone());
                    job.updated_at = now;
                }
                Ok(())
            })
            .await;
        match noted {
            Ok(job) if job.status.is_terminal() => Ok(Outcome::Skipped),
            Ok(_) => {
                self.inner.ports.jobs.reschedule(id, worker, at).await?;
                Ok(Outcome::Retrying)
            }
            Err(AppError::NotFound(_) | AppError::InvalidTransition { .. }) => Ok(Outcome::Skipped),
            Err(err) => Err(err),
        }
    }

    async fn fail(&self, id: triage_domain::JobId, reason: String) -> AppResult<Outcome> {
        let now = self.now();
        tracing::warn!(job.id = %id, %reason, "job failed");
        let failed = self
            .modify_job(id, |job| {
                job.transition(JobStatus::Failed, Some(reason.clone()), now)?;
                Ok(())
            })
            .await;
        match failed {
            Ok(_) => Ok(Outcome::Failed),
            Err(AppError::InvalidTransition { .. } | AppError::NotFound(_)) => Ok(Outcome::Skipped),
            Err(err) => Err(err),
        }
    }

    /// Exponential in the time the job has waited (each wait about half the time waited so
    /// far, so no per-job counter is needed), between the first delay and the cap, with
    /// ±20 % jitter so that jobs failed together do not retry together; never sooner than
    /// the service's `Retry-After`.
    fn backoff(&self, entry: &QueueEntry, retry_after_secs: Option<u64>) -> chrono::Duration {
        let ml = &self.inner.settings.ml;
        let waited = (self.now() - entry.enqueued_at)
            .to_std()
            .unwrap_or_default();
        let base = (waited / 2).clamp(ml.backoff_first, ml.backoff_cap);
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        let mut delay = base.mul_f64(jitter);
        if let Some(secs) = retry_after_secs {
            delay = delay.max(Duration::from_secs(secs.min(3600)));
        }
        chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(300))
    }

    fn inference_request(&self, job: &Job) -> InferenceRequest {
        let ml = &self.inner.settings.ml;
        InferenceRequest {
            job_id: job.id,
            input_key: job.upload_key.clone(),
            output_key: BlobKey::report(job.id),
            profile: job.profile.clone(),
            threshold: job.threshold,
            callback_url: ml.callback_base.as_ref().map(|base| {
                format!(
                    "{}/internal/jobs/{}/completion",
                    base.trim_end_matches('/'),
                    job.id
                )
            }),
        }
    }

    /// Gives back every lease this worker holds (graceful shutdown), so another replica takes
    /// the jobs over at once instead of after the lease expires.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn release_dispatch_leases(&self, worker: &str) -> AppResult<u64> {
        Ok(self.inner.ports.jobs.release_all(worker).await?)
    }

    /// When the oldest queued job was queued, and how many wait (for metrics and `/ready`).
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn queue_depth(&self) -> AppResult<(u64, Option<DateTime<Utc>>)> {
        Ok(self.inner.ports.jobs.queue_depth().await?)
    }
}

fn humanize(duration: Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 3600 == 0 && s > 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}
