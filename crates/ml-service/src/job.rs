//! One analysis: spool the upload from the store to a temp file, run the engine on a blocking
//! thread, write the report to the job's `output_object`. The same steps as triage's embedded
//! default (`triage-ml-local`), so both give the same report for the same upload.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use triage_domain::DomainError;
use triage_domain::ports::BlobStore;

use crate::wire::Job;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The report is in the store.
    Succeeded {
        output_object: String,
        file_size: u64,
        file_name: String,
        duration: Duration,
    },
    /// The job cannot be analysed (no upload, not an archive, no DICOM): triage fails it.
    Failed { error: String, duration: Duration },
    /// Not finished for a reason that may pass (the store is down, the local disk is full):
    /// nothing is reported, so triage dispatches the job again later (after its processing
    /// timeout when asynchronous; at once, on the 503, when synchronous).
    Abandoned { reason: String },
}

impl Outcome {
    /// `succeeded`, `failed` or `abandoned`, for logs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Succeeded { .. } => "succeeded",
            Self::Failed { .. } => "failed",
            Self::Abandoned { .. } => "abandoned",
        }
    }
}

/// Runs analyses against one store.
pub(crate) struct Analyser {
    pub blobs: Arc<dyn BlobStore>,
    pub tmp_dir: PathBuf,
    pub threads: usize,
}

impl Analyser {
    pub async fn run(&self, job: &Job) -> Outcome {
        let started = Instant::now();
        let failed = |error: String| Outcome::Failed {
            error,
            duration: started.elapsed(),
        };
        let input = match self.spool(job).await {
            Ok(input) => input,
            Err(DomainError::NotFound(_)) => {
                return failed(format!(
                    "the upload {} is missing from the object store",
                    job.input
                ));
            }
            Err(err) => return abandoned(format!("reading the upload: {err}")),
        };
        let (profile, threshold, threads) = (job.profile, job.threshold, self.threads);
        let analysed = tokio::task::spawn_blocking(move || {
            let options = triage_engine::Options {
                profile,
                threshold,
                threads,
                masks: false,
                key_slices: triage_engine::DEFAULT_KEY_SLICES,
            };
            let result = triage_engine::analyse_path(&input, &options)
                .and_then(|analysis| triage_engine::write_report(&analysis));
            drop(input);
            result
        })
        .await;
        let report = match analysed {
            Ok(Ok(report)) => report,
            Ok(Err(err)) => return failed(err.to_string()),
            Err(err) => {
                tracing::error!(error = %err, "the analysis crashed");
                return failed("the analysis crashed (an internal error of triage-ml)".into());
            }
        };
        let reader = futures_util::io::Cursor::new(report);
        match self.blobs.put(&job.output, Box::pin(reader), XLSX).await {
            Ok(size) => Outcome::Succeeded {
                output_object: job.output.to_string(),
                file_size: size,
                file_name: job.output.file_name().to_owned(),
                duration: started.elapsed(),
            },
            Err(err) => abandoned(format!("writing the report: {err}")),
        }
    }

    /// Copies the upload to a temp file, streaming; the file goes when the path is dropped.
    async fn spool(&self, job: &Job) -> Result<tempfile::TempPath, DomainError> {
        let local = |what: &str, err: &dyn std::fmt::Display| {
            DomainError::unavailable("triage-ml", format!("{what}: {err}"))
        };
        tokio::fs::create_dir_all(&self.tmp_dir)
            .await
            .map_err(|err| local("temp dir", &err))?;
        let path = temp_path(self.tmp_dir.clone())
            .await
            .map_err(|err| local("temp file", &err))?;
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(|err| local("temp file", &err))?;
        let mut body = self.blobs.get(&job.input).await?.stream;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|err| local("reading the upload", &err))?;
            file.write_all(&chunk)
                .await
                .map_err(|err| local("temp file", &err))?;
        }
        file.flush().await.map_err(|err| local("temp file", &err))?;
        Ok(path)
    }
}

async fn temp_path(dir: PathBuf) -> std::io::Result<tempfile::TempPath> {
    tokio::task::spawn_blocking(move || {
        tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(Path::new(&dir))
    })
    .await
    .map_err(std::io::Error::other)?
    .map(tempfile::NamedTempFile::into_temp_path)
}

fn abandoned(reason: String) -> Outcome {
    Outcome::Abandoned { reason }
}
