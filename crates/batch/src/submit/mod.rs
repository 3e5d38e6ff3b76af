//! `triage submit`: the studies under the given paths through a running triage server. Each
//! study (grouped exactly as `triage analyse` groups them) is zipped while it uploads, `jobs`
//! uploads at a time; each job is watched over its WebSocket; the results are combined into
//! one report, rewritten as studies finish.

mod client;
mod pack;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use triage_archive::Limits;
use triage_report::SeriesRow;

pub use client::{Client, JobEnd};

use crate::BatchError;
use crate::discover::{Study, discover};
use crate::output::{self, Format};
use crate::progress::Progress;
use crate::rows::{describe, failure_row, from_report_row};
use crate::summary::Summary;

/// What `triage submit` was asked to do.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub output: PathBuf,
    pub format: Format,
    /// The analysis profile name sent with each upload.
    pub profile: String,
    pub threshold: f64,
    /// Uploads (and watched jobs) at a time.
    pub jobs: usize,
    pub limits: Limits,
}

/// How a submission ended.
#[derive(Debug)]
pub struct SubmitOutcome {
    pub rows: Vec<SeriesRow>,
    pub summary: Summary,
}

/// Uploads every study, waits for the analyses and writes the combined report.
pub async fn submit(
    client: Client,
    inputs: Vec<PathBuf>,
    options: SubmitOptions,
    progress: Arc<dyn Progress>,
) -> Result<SubmitOutcome, BatchError> {
    let limits = options.limits.clone();
    let discovery = tokio::task::spawn_blocking(move || discover(&inputs, &limits))
        .await
        .map_err(|e| BatchError::Usage(e.to_string()))?;
    let failures: Vec<SeriesRow> = discovery
        .failures
        .iter()
        .map(|f| {
            progress.note(&format!("{}: Failure: {}", f.path, f.reason));
            failure_row(&f.path, "", &f.reason)
        })
        .collect();
    let studies = discovery.studies;
    progress.start(studies.len(), 0);
    let mut results: Vec<Option<Vec<SeriesRow>>> = vec![None; studies.len()];
    let write = |results: &[Option<Vec<SeriesRow>>]| -> Result<Vec<SeriesRow>, BatchError> {
        let rows: Vec<SeriesRow> = failures
            .iter()
            .chain(results.iter().flatten().flatten())
            .cloned()
            .collect();
        output::write(
            &options.output,
            options.format,
            &rows,
            Some(options.threshold),
        )?;
        Ok(rows)
    };
    write(&results)?;

    let mut finished = futures_util::stream::iter(studies.into_iter().enumerate())
        .map(|(index, study)| {
            let (client, options, progress) = (client.clone(), &options, Arc::clone(&progress));
            async move {
                (
                    index,
                    one_study(&client, index, study, options, progress).await,
                )
            }
        })
        .buffer_unordered(options.jobs.max(1));
    while let Some((index, rows)) = finished.next().await {
        results[index] = Some(rows?);
        write(&results)?;
    }
    drop(finished);
    let rows = write(&results)?;
    progress.finish();
    Ok(SubmitOutcome {
        summary: Summary::of(&rows),
        rows,
    })
}

/// Upload, wait, fetch: the study's rows. Only a refused login stops everything; anything else
/// that goes wrong is this study's `Failure` row.
async fn one_study(
    client: &Client,
    index: usize,
    study: Study,
    options: &SubmitOptions,
    progress: Arc<dyn Progress>,
) -> Result<Vec<SeriesRow>, BatchError> {
    let label = study.folder();
    let started = Instant::now();
    let rows = match upload_and_wait(client, index, &study, &label, options, &progress).await {
        Ok(rows) => rows,
        Err(e @ BatchError::Login(_)) => return Err(e),
        Err(e) => vec![failure_row(&label, &study.study_uid, &e.to_string())],
    };
    progress.task_finished(index, &label, &describe(&rows, started.elapsed()));
    Ok(rows)
}

async fn upload_and_wait(
    client: &Client,
    index: usize,
    study: &Study,
    label: &str,
    options: &SubmitOptions,
    progress: &Arc<dyn Progress>,
) -> Result<Vec<SeriesRow>, BatchError> {
    let (chunks, estimate) = pack::zip_study(study.members.clone(), label);
    progress.task_started(index, label, Some(estimate));
    let file_name = format!("{}.zip", label.rsplit('/').next().unwrap_or("study"));
    let counter = {
        let progress = Arc::clone(progress);
        let sent = std::sync::atomic::AtomicU64::new(0);
        move |n: u64| {
            let total = sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
            progress.task_bytes(index, total);
        }
    };
    let uploaded = client
        .upload(
            ReceiverStream::new(chunks),
            &file_name,
            &options.profile,
            options.threshold,
            counter,
        )
        .await?;
    let id = match uploaded {
        Ok(id) => id,
        Err(refused) => {
            return Ok(vec![failure_row(
                label,
                &study.study_uid,
                &format!("upload refused: {refused}"),
            )]);
        }
    };
    progress.task_phase(
        index,
        &format!("{label}: waiting for the analysis (job {id})"),
    );
    let end = client.wait(id).await?;
    if !end.succeeded() {
        let reason = end.reason.unwrap_or_default();
        return Ok(vec![failure_row(
            label,
            &study.study_uid,
            &format!("job {id} {}: {reason}", end.status),
        )]);
    }
    let rows = client.results(id).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let mut row = from_report_row(row);
            // The server names folders inside the upload, which holds the study's folder.
            row.path_to_study = match row.path_to_study.as_str() {
                "" | "." => label.to_owned(),
                inner => format!("{label}/{inner}"),
            };
            row
        })
        .collect())
}
