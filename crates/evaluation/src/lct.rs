//! Scores per study from an LCT-format XLSX report (report.md) written by any system: one row
//! per series, read by `triage-report`'s forgiving parser. A study's score is the highest
//! `probability_of_pathology` of its series; its time is the highest `time_of_processing`
//! (seconds) among them — systems write either the study's time on every series row or one
//! time per series, and the maximum never counts a study twice.

use std::collections::BTreeMap;

use chrono::DateTime;
use triage_domain::ReportRow;
use triage_report::ReportError;

use crate::EvalError;
use crate::evaluation::StudyScore;

/// What a report says per study.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportStudies {
    /// Studies with at least one scored series, ordered by study UID.
    pub scored: Vec<StudyScore>,
    /// Studies named in the report without any probability (failed or unscored series).
    pub unscored: Vec<String>,
}

/// Reads `xlsx` into one score per study.
///
/// # Errors
/// [`EvalError::Report`] when the workbook is unreadable or lacks the columns;
/// [`EvalError::NonFiniteScore`] never: non-finite probabilities do not survive the parser.
pub fn read_lct_report(xlsx: &[u8]) -> Result<ReportStudies, EvalError> {
    let payload =
        triage_report::parse(xlsx, None, DateTime::UNIX_EPOCH).map_err(|err| match err {
            ReportError::MissingColumns => EvalError::Report(err.to_string()),
            other => EvalError::Report(other.to_string()),
        })?;
    Ok(study_scores(&payload.rows))
}

/// One score (and time) per study from report rows, by the rule of this module; also what the
/// API uses on the stored results of jobs.
pub fn study_scores<'a>(rows: impl IntoIterator<Item = &'a ReportRow>) -> ReportStudies {
    let mut studies: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for row in rows {
        let Some(study) = row.study_uid.as_deref().filter(|s| !s.trim().is_empty()) else {
            continue;
        };
        let entry = studies.entry(study.trim().to_owned()).or_default();
        if let Some(p) = row.probability_of_pathology.filter(|p| p.is_finite()) {
            entry.0 = Some(entry.0.map_or(p, |q: f64| q.max(p)));
        }
        if let Some(t) = row.time_of_processing.as_deref().and_then(seconds) {
            entry.1 = Some(entry.1.map_or(t, |u: f64| u.max(t)));
        }
    }
    let mut scored = Vec::new();
    let mut unscored = Vec::new();
    for (study_uid, (score, seconds)) in studies {
        match score {
            Some(score) => scored.push(StudyScore {
                study_uid,
                score,
                seconds,
            }),
            None => unscored.push(study_uid),
        }
    }
    ReportStudies { scored, unscored }
}

/// A time cell as seconds: a number, with `,` or `.` as the decimal separator.
fn seconds(text: &str) -> Option<f64> {
    text.trim()
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|t| t.is_finite() && *t >= 0.0)
}
