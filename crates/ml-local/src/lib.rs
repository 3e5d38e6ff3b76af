//! `LocalInference`: the `Inference` port answered in-process by the analysis engine, so a
//! fresh machine processes uploads with no ML service at all.
//!
//! It answers every handover synchronously: it spools the upload from the `BlobStore` to a
//! temp file, runs the engine on the blocking pool (a bounded number at once, since each
//! analysis already uses every core it is given), writes the report into the `BlobStore` at
//! the proposed key, and returns the completion. The dispatcher then completes the job
//! through the same use case as an HTTP callback.
//!
//! It may depend on the domain, the engine, tokio and tempfile; never on another adapter.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio::sync::Semaphore;
use triage_domain::ports::{
    BlobStore, Completion, CompletionStatus, HealthReport, Inference, InferenceRequest, Submission,
};
use triage_domain::{DomainError, DomainResult};

/// The in-process analysis.
pub struct LocalInference {
    blobs: Arc<dyn BlobStore>,
    tmp_dir: PathBuf,
    threads: usize,
    /// One analysis at a time: each one spreads over `threads` already, and two would only
    /// double the memory for the same throughput.
    running: Semaphore,
}

impl LocalInference {
    /// `tmp_dir` holds the spooled uploads (created if missing); `threads` is what one
    /// analysis may use.
    pub fn new(blobs: Arc<dyn BlobStore>, tmp_dir: PathBuf, threads: usize) -> Self {
        Self {
            blobs,
            tmp_dir,
            threads: threads.max(1),
            running: Semaphore::new(1),
        }
    }

    /// Copies the upload to a temp file, streaming.
    async fn spool(&self, request: &InferenceRequest) -> DomainResult<tempfile::TempPath> {
        tokio::fs::create_dir_all(&self.tmp_dir)
            .await
            .map_err(|err| unavailable(format!("temp dir: {err}")))?;
        let dir = self.tmp_dir.clone();
        let path = tokio::task::spawn_blocking(move || tempfile::NamedTempFile::new_in(dir))
            .await
            .map_err(|err| DomainError::Internal(err.to_string()))?
            .map_err(|err| unavailable(format!("temp file: {err}")))?
            .into_temp_path();
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|err| unavailable(format!("temp file: {err}")))?;
        let mut body = self.blobs.get(&request.input_key).await?.stream;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| unavailable(format!("reading the upload: {err}")))?;
            file.write_all(&chunk)
                .await
                .map_err(|err| unavailable(format!("temp file: {err}")))?;
        }
        file.flush()
            .await
            .map_err(|err| unavailable(format!("temp file: {err}")))?;
        Ok(path)
    }
}

#[async_trait]
impl Inference for LocalInference {
    async fn submit(&self, request: &InferenceRequest) -> DomainResult<Submission> {
        let _turn = self
            .running
            .acquire()
            .await
            .map_err(|err| DomainError::Internal(err.to_string()))?;
        let started = Instant::now();
        let input = match self.spool(request).await {
            Ok(input) => input,
            Err(DomainError::NotFound(_)) => {
                return Ok(failed(
                    "the upload is missing from the object store",
                    started,
                ));
            }
            Err(err) => return Err(err),
        };
        let (profile, threshold, threads) =
            (request.profile.clone(), request.threshold, self.threads);
        let job = request.job_id;
        let analysed = tokio::task::spawn_blocking(move || {
            let result = analyse(&input, &profile, threshold, threads);
            drop(input);
            result
        })
        .await
        .map_err(|err| DomainError::Internal(format!("the engine stopped: {err}")))?;
        let report = match analysed {
            Ok(report) => report,
            Err(err) => {
                tracing::info!(job.id = %job, error = %err, "the engine refused the upload");
                return Ok(failed(&err.to_string(), started));
            }
        };
        let size = report.len() as u64;
        let reader = futures_util::io::Cursor::new(report);
        let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
        self.blobs
            .put(&request.output_key, Box::pin(reader), xlsx)
            .await?;
        Ok(Submission::Completed(Completion {
            status: CompletionStatus::Succeeded,
            output_object: Some(request.output_key.to_string()),
            file_size: Some(size),
            file_name: request
                .output_key
                .as_str()
                .rsplit('/')
                .next()
                .map(str::to_owned),
            error: None,
            duration_seconds: Some(started.elapsed().as_secs_f64()),
        }))
    }

    async fn health(&self) -> DomainResult<HealthReport> {
        Ok(HealthReport {
            healthy: true,
            model_loaded: Some(true),
            version: Some(format!("triage-engine {}", env!("CARGO_PKG_VERSION"))),
        })
    }
}

/// The engine's report for the archive at `path`.
fn analyse(
    path: &std::path::Path,
    profile: &str,
    threshold: f64,
    threads: usize,
) -> Result<Vec<u8>, triage_engine::EngineError> {
    let options = triage_engine::Options {
        profile: profile.parse()?,
        threshold,
        threads,
        masks: false,
        key_slices: triage_engine::DEFAULT_KEY_SLICES,
    };
    let analysis = triage_engine::analyse_path(path, &options)?;
    triage_engine::write_report(&analysis)
}

fn failed(reason: &str, started: Instant) -> Submission {
    Submission::Completed(Completion {
        status: CompletionStatus::Failed,
        output_object: None,
        file_size: None,
        file_name: None,
        error: Some(reason.to_owned()),
        duration_seconds: Some(started.elapsed().as_secs_f64()),
    })
}

fn unavailable(detail: String) -> DomainError {
    DomainError::Unavailable {
        service: "engine",
        detail,
        retry_after_secs: None,
    }
}
