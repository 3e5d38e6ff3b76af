//! `LocalInference`: the `Inference` port answered in-process by the analysis engine, so a
//! fresh machine processes uploads with no ML service at all.
//!
//! It answers every handover synchronously: it spools the upload from the `BlobStore` to a
//! temp file, runs the engine on the blocking pool (a bounded number at once, since each
//! analysis already uses every core it is given), writes the report into the `BlobStore` at
//! the proposed key, and returns the completion. The dispatcher then completes the job
//! through the same use case as an HTTP callback.
//!
//! With [`KeyImages`] set it also writes, per analysed series, the key images, the NIfTI mask
//! and the DICOM Segmentation (`triage-visual`) under `results/<job>/series/<series uid>/`,
//! before the report, so a succeeded job always has them; failing to render them is logged and
//! does not fail the job.
//!
//! It may depend on the domain, the engine, the pure `triage-visual`, tokio and tempfile; never
//! on another adapter.

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

/// The name prefix of the spooled uploads in the temp dir, so that a sweep after a crash
/// finds exactly them. A spool file is locked (`flock`) while the analysis uses it.
pub const SPOOL_PREFIX: &str = "ml-local-";

/// What the engine draws and stores per analysed series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyImages {
    /// Axial key slices (largest abnormal area first).
    pub key_slices: usize,
    /// Width of the key images in pixels.
    pub image_size: usize,
}

/// Artefacts of one series: its UID and the files.
type SeriesArtefacts = (String, Vec<triage_visual::Artefact>);

/// The in-process analysis.
pub struct LocalInference {
    blobs: Arc<dyn BlobStore>,
    tmp_dir: PathBuf,
    threads: usize,
    key_images: Option<KeyImages>,
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
            key_images: None,
            running: Semaphore::new(1),
        }
    }

    /// Also store key images and masks for every analysed series.
    pub fn with_key_images(mut self, key_images: KeyImages) -> Self {
        self.key_images = Some(key_images);
        self
    }

    /// Copies the upload to a temp file, streaming.
    async fn spool(&self, request: &InferenceRequest) -> DomainResult<tempfile::NamedTempFile> {
        tokio::fs::create_dir_all(&self.tmp_dir)
            .await
            .map_err(|err| unavailable(format!("temp dir: {err}")))?;
        let dir = self.tmp_dir.clone();
        let spooled = tokio::task::spawn_blocking(move || {
            let spooled = tempfile::Builder::new()
                .prefix(SPOOL_PREFIX)
                .tempfile_in(dir)?;
            spooled.as_file().try_lock().map_err(std::io::Error::from)?;
            Ok::<_, std::io::Error>(spooled)
        })
        .await
        .map_err(|err| DomainError::Internal(err.to_string()))?
        .map_err(|err| unavailable(format!("temp file: {err}")))?;
        let path = spooled.path();
        let mut file = tokio::fs::File::create(path)
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
        Ok(spooled)
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
        let key_images = self.key_images;
        let analysed = tokio::task::spawn_blocking(move || {
            let result = analyse(input.path(), &profile, threshold, threads, key_images);
            drop(input);
            result
        })
        .await
        .map_err(|err| DomainError::Internal(format!("the engine stopped: {err}")))?;
        let report = match analysed {
            Ok((report, artefacts)) => {
                self.store_artefacts(job, artefacts).await?;
                report
            }
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

impl LocalInference {
    /// Writes every artefact at `results/<job>/series/<uid>/<name>`.
    async fn store_artefacts(
        &self,
        job: triage_domain::JobId,
        artefacts: Vec<SeriesArtefacts>,
    ) -> DomainResult<()> {
        for (series_uid, files) in artefacts {
            for file in files {
                let key =
                    match triage_domain::BlobKey::series_artefact(job, &series_uid, &file.name) {
                        Ok(key) => key,
                        Err(err) => {
                            tracing::warn!(job.id = %job, error = %err, "artefact not stored");
                            continue;
                        }
                    };
                let content_type = match file.kind {
                    triage_visual::ArtefactKind::Mask => "application/gzip",
                    triage_visual::ArtefactKind::Segmentation => "application/dicom",
                    _ => "image/png",
                };
                let reader = futures_util::io::Cursor::new(file.bytes);
                self.blobs.put(&key, Box::pin(reader), content_type).await?;
            }
        }
        Ok(())
    }
}

/// The engine's report for the archive at `path`, and the artefacts of every series with
/// masks when `key_images` asks for them.
fn analyse(
    path: &std::path::Path,
    profile: &str,
    threshold: f64,
    threads: usize,
    key_images: Option<KeyImages>,
) -> Result<(Vec<u8>, Vec<SeriesArtefacts>), triage_engine::EngineError> {
    let options = triage_engine::Options {
        profile: profile.parse()?,
        threshold,
        threads,
        masks: key_images.is_some(),
        key_slices: key_images.map_or(0, |k| k.key_slices),
    };
    let mut analysis = triage_engine::analyse_path(path, &options)?;
    let report = triage_engine::write_report(&analysis)?;
    let mut artefacts = Vec::new();
    if let Some(settings) = key_images {
        for series in &mut analysis.series {
            let triage_engine::SeriesOutcome::Success { masks, .. } = &mut series.outcome else {
                continue;
            };
            // Taken out one at a time, so each label volume is freed once drawn.
            let Some(masks) = masks.take() else {
                continue;
            };
            match render(&masks, settings) {
                Ok(files) => artefacts.push((series.series_uid.clone(), files)),
                Err(err) => tracing::warn!(
                    series = %series.series_uid, error = %err, "key images and masks not made"
                ),
            }
        }
    }
    Ok((report, artefacts))
}

/// Key images, NIfTI and SEG of one series.
fn render(
    masks: &triage_engine::SeriesMasks,
    settings: KeyImages,
) -> Result<Vec<triage_visual::Artefact>, triage_visual::VisualError> {
    let options = triage_visual::RenderOptions {
        size: settings.image_size,
        ..Default::default()
    };
    let mut files = triage_visual::key_images(masks, options)?;
    files.push(triage_visual::nifti_gz(masks)?);
    let now = chrono::Utc::now();
    let seg = triage_visual::SegOptions {
        content_date: now.format("%Y%m%d").to_string(),
        content_time: now.format("%H%M%S").to_string(),
        ..Default::default()
    };
    files.push(triage_visual::segmentation(masks, &seg)?);
    Ok(files)
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
