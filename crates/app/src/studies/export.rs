//! GET /studies.xlsx: the current analysis of every matching study as one LCT report
//! (report.md columns), one row per series.

use triage_domain::{ReportRow, StudyCursor};
use triage_report::{ProcessingStatus, SeriesRow};

use super::StudyQuery;
use crate::error::{AppError, AppResult};
use crate::{App, Caller};

/// The most studies one export holds; narrow the filters for more.
pub const MAX_EXPORT_STUDIES: usize = 10_000;

fn series_row(row: &ReportRow) -> SeriesRow {
    let failed = row.error.is_some()
        || row
            .processing_status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("failure"));
    SeriesRow {
        path_to_study: row.path_to_study.clone().unwrap_or_default(),
        study_uid: row.study_uid.clone().unwrap_or_default(),
        series_uid: row.series_uid.clone().unwrap_or_default(),
        probability_of_pathology: row.probability_of_pathology,
        pathology: row.pathology,
        processing_status: if failed {
            ProcessingStatus::Failure
        } else {
            ProcessingStatus::Success
        },
        time_of_processing: row
            .time_of_processing
            .as_deref()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0.0),
        most_dangerous_pathology_type: row.most_dangerous_pathology_type.clone(),
        pathology_localization: None,
        error: row.error.clone(),
        extra: Vec::new(),
    }
}

impl App {
    /// The XLSX report of the worklist's matching studies (their current analyses).
    ///
    /// # Errors
    /// `Validation` (more than [`MAX_EXPORT_STUDIES`] studies), `Unavailable`.
    pub async fn studies_report(&self, caller: &Caller, query: StudyQuery) -> AppResult<Vec<u8>> {
        let mut filter = query.filter;
        filter.owner = self.study_owner(caller, query.owner)?;
        let studies = &self.inner.ports.studies;
        let mut rows = Vec::new();
        let mut after: Option<StudyCursor> = None;
        let mut count = 0usize;
        loop {
            let page = studies
                .list_studies(&filter, after.as_ref(), super::MAX_STUDY_PAGE)
                .await?;
            for study in &page.items {
                count += 1;
                if count > MAX_EXPORT_STUDIES {
                    return Err(AppError::field(
                        "limit",
                        format!("more than {MAX_EXPORT_STUDIES} studies match; narrow the filters"),
                    ));
                }
                let Some(job) = study.job_id else { continue };
                let detail = studies
                    .study_detail(Some(study.owner_id), &study.study_uid)
                    .await?;
                let current = detail
                    .into_iter()
                    .flat_map(|d| d.analyses)
                    .find(|a| a.job_id == job && a.completed_at.is_some());
                if let Some(analysis) = current {
                    rows.extend(analysis.series.iter().map(series_row));
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        tokio::task::spawn_blocking(move || triage_report::write(&rows))
            .await
            .map_err(AppError::internal)?
            .map_err(|err| AppError::internal(format!("report: {err}")))
    }
}
