//! Evaluations against ground truth: the caller's analysed studies (a selection of their jobs)
//! scored against a labels file, computed by the pure `evaluation` crate on the blocking pool,
//! stored as JSON, and read back as figures. The ground truth is a labels file or the review
//! labels radiologists recorded on the worklist ([`LabelSource`]).

use chrono::{DateTime, Utc};
use serde_json::Value;
use triage_domain::{
    EvaluationId, Job, JobFilter, JobId, JobStatus, ReviewLabel, StoredEvaluation, StudyCursor,
    StudyFilter,
};
use triage_evaluation::{
    BootstrapOptions, EvalError, Evaluation, EvaluationInput, EvaluationOptions, Label,
    PairedComparison,
};

use crate::{App, AppError, AppResult, Caller};

/// Most jobs one evaluation reads.
pub const MAX_EVALUATION_JOBS: usize = 10_000;
const MAX_NAME: usize = 200;
const PAGE: u64 = 500;

/// Where the ground truth comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelSource {
    /// The bytes of a labels file (CSV or XLSX).
    File(Vec<u8>),
    /// The caller's review labels recorded on the worklist (the current review of each
    /// reviewed study).
    Reviews,
}

/// Which of the caller's jobs are evaluated (only succeeded jobs have scores).
#[derive(Debug, Clone, PartialEq)]
pub enum JobSelection {
    /// These jobs; each must be the caller's.
    Ids(Vec<JobId>),
    /// Every job of the caller created in `[from, to)` (open ends when `None`).
    Created {
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    },
}

/// A request for a new evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationForm {
    pub name: Option<String>,
    pub labels: LabelSource,
    pub selection: JobSelection,
    pub threshold: Option<f64>,
}

/// A figure of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    RocSvg,
    RocPng,
    CalibrationSvg,
    ReportXlsx,
}

impl Figure {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::RocSvg | Self::CalibrationSvg => "image/svg+xml",
            Self::RocPng => "image/png",
            Self::ReportXlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

impl From<EvalError> for AppError {
    fn from(err: EvalError) -> Self {
        match err {
            EvalError::Render(detail) => Self::internal(format!("evaluation rendering: {detail}")),
            other => Self::Unprocessable {
                code: other.code(),
                message: other.to_string(),
            },
        }
    }
}

/// Runs CPU-heavy work (bootstrap, rendering) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, EvalError> + Send + 'static,
) -> AppResult<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => Ok(result?),
        Err(err) => Err(AppError::internal(format!("evaluation task failed: {err}"))),
    }
}

fn decode(stored: &StoredEvaluation) -> AppResult<Evaluation> {
    serde_json::from_value(stored.body.clone())
        .map_err(|err| AppError::internal(format!("stored evaluation {}: {err}", stored.id)))
}

impl App {
    /// The current review of each of the caller's reviewed studies, as labels.
    ///
    /// # Errors
    /// `Unprocessable` (`reviews_not_available`) when the caller has reviewed no study,
    /// `Unavailable`.
    async fn review_labels(&self, caller: &Caller) -> AppResult<Vec<Label>> {
        let filter = StudyFilter {
            owner: Some(caller.id),
            reviewed: Some(true),
            ..StudyFilter::default()
        };
        let mut labels = Vec::new();
        let mut after: Option<StudyCursor> = None;
        loop {
            let page = self
                .inner
                .ports
                .studies
                .list_studies(&filter, after.as_ref(), PAGE as u32)
                .await?;
            labels.extend(page.items.into_iter().filter_map(|study| {
                study.review.map(|review| Label {
                    study_uid: study.study_uid,
                    pathology: review.label == ReviewLabel::Pathology,
                    finding: None,
                })
            }));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        if labels.is_empty() {
            return Err(AppError::Unprocessable {
                code: "reviews_not_available",
                message:
                    "no study of yours has a review yet; review studies or upload a labels file"
                        .into(),
            });
        }
        Ok(labels)
    }

    /// Evaluates the selected jobs of the caller against the labels and stores the result.
    ///
    /// # Errors
    /// `Unprocessable` (`reviews_not_available`; the evaluation crate's codes for bad labels and
    /// degenerate data, e.g. `evaluation_one_class`), `Validation` (name, threshold, too many
    /// jobs), `NotFound("job")` for a job id that is not the caller's, `Unavailable`.
    pub async fn create_evaluation(
        &self,
        caller: &Caller,
        form: EvaluationForm,
    ) -> AppResult<StoredEvaluation> {
        let name = form
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if name.as_ref().is_some_and(|n| n.chars().count() > MAX_NAME) {
            return Err(AppError::field(
                "name",
                format!("must be at most {MAX_NAME} characters"),
            ));
        }
        if form.threshold.is_some_and(|t| !t.is_finite()) {
            return Err(AppError::field("threshold", "must be a finite number"));
        }
        let labels: Vec<Label> = match form.labels {
            LabelSource::File(bytes) => {
                blocking(move || triage_evaluation::parse_labels(&bytes)).await?
            }
            LabelSource::Reviews => self.review_labels(caller).await?,
        };
        let jobs = self.selected_jobs(caller, &form.selection).await?;
        let job_ids: Vec<String> = jobs.iter().map(|j| j.id.to_string()).collect();
        let threshold = form.threshold;
        let evaluation = blocking(move || {
            let rows = jobs
                .iter()
                .filter_map(|job| job.results.as_ref())
                .flat_map(|results| results.rows.iter());
            let studies = triage_evaluation::study_scores(rows);
            let input = EvaluationInput {
                scores: studies.scored,
                labels,
            };
            let options = EvaluationOptions {
                threshold,
                bootstrap: BootstrapOptions::default(),
                ..EvaluationOptions::default()
            };
            triage_evaluation::evaluate(&input, options)
        })
        .await?;
        let now = self.now();
        let mut body = serde_json::to_value(&evaluation)
            .map_err(|err| AppError::internal(format!("evaluation does not serialize: {err}")))?;
        if let Value::Object(map) = &mut body {
            map.insert("label_source".into(), Value::from("file"));
            map.insert("jobs".into(), Value::from(job_ids));
        }
        let stored = StoredEvaluation {
            id: EvaluationId::random(),
            owner_id: caller.id,
            name: name.unwrap_or_else(|| format!("evaluation {}", now.format("%Y-%m-%d %H:%M"))),
            created_at: now,
            body,
        };
        Ok(self
            .inner
            .ports
            .evaluations
            .create_evaluation(stored)
            .await?)
    }

    /// The succeeded jobs of the selection, all the caller's.
    async fn selected_jobs(
        &self,
        caller: &Caller,
        selection: &JobSelection,
    ) -> AppResult<Vec<Job>> {
        let jobs = match selection {
            JobSelection::Ids(ids) => {
                if ids.len() > MAX_EVALUATION_JOBS {
                    return Err(AppError::field(
                        "job_ids",
                        format!("at most {MAX_EVALUATION_JOBS} jobs"),
                    ));
                }
                let mut jobs = Vec::with_capacity(ids.len());
                for &id in ids {
                    jobs.push(self.job(caller, id).await?);
                }
                jobs
            }
            JobSelection::Created { from, to } => {
                let mut jobs = Vec::new();
                let mut skip = 0;
                loop {
                    let page = self
                        .inner
                        .ports
                        .jobs
                        .list(&JobFilter {
                            owner: Some(caller.id),
                            status: Some(JobStatus::Succeeded),
                            skip,
                            limit: PAGE,
                        })
                        .await?;
                    let last = (page.len() as u64) < PAGE;
                    jobs.extend(page.into_iter().filter(|job| {
                        from.is_none_or(|from| job.created_at >= from)
                            && to.is_none_or(|to| job.created_at < to)
                    }));
                    if jobs.len() > MAX_EVALUATION_JOBS {
                        return Err(AppError::field(
                            "selection",
                            format!(
                                "selects more than {MAX_EVALUATION_JOBS} jobs; narrow the date range"
                            ),
                        ));
                    }
                    if last {
                        break;
                    }
                    skip += PAGE;
                }
                jobs
            }
        };
        Ok(jobs
            .into_iter()
            .filter(|job| job.status == JobStatus::Succeeded)
            .collect())
    }

    /// The caller's evaluations, newest first.
    ///
    /// # Errors
    /// `Validation` (limit), `Unavailable`.
    pub async fn list_evaluations(
        &self,
        caller: &Caller,
        skip: u64,
        limit: u64,
    ) -> AppResult<Vec<StoredEvaluation>> {
        if !(1..=1000).contains(&limit) {
            return Err(AppError::field("limit", "must be between 1 and 1000"));
        }
        Ok(self
            .inner
            .ports
            .evaluations
            .list_evaluations(caller.id, skip, limit)
            .await?)
    }

    /// # Errors
    /// `NotFound("evaluation")` (also someone else's), `Unavailable`.
    pub async fn evaluation(
        &self,
        caller: &Caller,
        id: EvaluationId,
    ) -> AppResult<StoredEvaluation> {
        let found = self.inner.ports.evaluations.get_evaluation(id).await?;
        found
            .filter(|e| caller.may_access(e.owner_id))
            .ok_or(AppError::NotFound("evaluation"))
    }

    /// A figure of the caller's evaluation, rendered on the blocking pool.
    ///
    /// # Errors
    /// As [`App::evaluation`]; `Internal` if the stored resource cannot be read or drawn.
    pub async fn evaluation_figure(
        &self,
        caller: &Caller,
        id: EvaluationId,
        figure: Figure,
    ) -> AppResult<Vec<u8>> {
        let evaluation = decode(&self.evaluation(caller, id).await?)?;
        blocking(move || match figure {
            Figure::RocSvg => triage_evaluation::roc_svg(&evaluation).map(String::into_bytes),
            Figure::RocPng => triage_evaluation::roc_png(&evaluation),
            Figure::CalibrationSvg => {
                triage_evaluation::calibration_svg(&evaluation).map(String::into_bytes)
            }
            Figure::ReportXlsx => triage_evaluation::report_xlsx(&evaluation),
        })
        .await
    }

    /// The paired DeLong test of two of the caller's evaluations on their common studies.
    ///
    /// # Errors
    /// As [`App::evaluation`] for either; `Unprocessable` (`evaluations_not_paired`,
    /// `evaluation_one_class`, `evaluation_empty`) when the common studies cannot be compared.
    pub async fn compare_evaluations(
        &self,
        caller: &Caller,
        a: EvaluationId,
        b: EvaluationId,
    ) -> AppResult<PairedComparison> {
        let a = decode(&self.evaluation(caller, a).await?)?;
        let b = decode(&self.evaluation(caller, b).await?)?;
        blocking(move || triage_evaluation::compare(&a, &b)).await
    }
}
