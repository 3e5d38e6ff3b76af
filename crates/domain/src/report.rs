//! The parsed per-study report (`results_payload`), as report.md defines its JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The report of one job: when it was parsed, a summary and one row per analysed series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPayload {
    pub parsed_at: DateTime<Utc>,
    pub summary: ReportSummary,
    pub rows: Vec<ReportRow>,
}

/// Counts shown by the frontend as label/value pairs. The Russian key is the old system's
/// "number of studies", kept for the frontend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSummary {
    #[serde(rename = "Количество исследований")]
    pub studies_ru: u64,
    pub studies: u64,
    pub series: u64,
    pub pathology: u64,
    pub normal: u64,
    pub failed: u64,
    pub threshold: Option<f64>,
}

/// One analysed series. The first eight fields keep the old system's names and order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    pub study_uid: Option<String>,
    pub series_uid: Option<String>,
    pub probability_of_pathology: Option<f64>,
    pub pathology: Option<bool>,
    pub time_of_processing: Option<String>,
    pub most_dangerous_pathology_type: Option<String>,
    pub hazard_probability: Option<f64>,
    pub probability_of_anomaly: Option<f64>,
    pub path_to_study: Option<String>,
    pub processing_status: Option<String>,
    pub error: Option<String>,
    /// Columns the parser does not know, by their header as written.
    pub extra: Map<String, Value>,
}

impl ReportSummary {
    /// Counts `rows`: studies by distinct `study_uid`, failures by `processing_status`.
    pub fn of(rows: &[ReportRow], threshold: Option<f64>) -> Self {
        let mut studies: Vec<&str> = rows.iter().filter_map(|r| r.study_uid.as_deref()).collect();
        studies.sort_unstable();
        studies.dedup();
        let failed = rows
            .iter()
            .filter(|r| {
                r.processing_status
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("failure"))
            })
            .count() as u64;
        let pathology = rows.iter().filter(|r| r.pathology == Some(true)).count() as u64;
        let normal = rows.iter().filter(|r| r.pathology == Some(false)).count() as u64;
        let studies = studies.len() as u64;
        Self {
            studies_ru: studies,
            studies,
            series: rows.len() as u64,
            pathology,
            normal,
            failed,
            threshold,
        }
    }
}
