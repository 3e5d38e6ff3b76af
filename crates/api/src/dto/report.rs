//! The OpenAPI schema of the parsed report (`results_payload`, `results`). The JSON itself is
//! the domain's `ReportPayload` as report.md defines it; these types only describe it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The report of one job: when it was parsed, a summary and one row per analysed series.
#[derive(Serialize, ToSchema)]
#[schema(as = Report)]
pub(crate) struct ReportSchema {
    parsed_at: DateTime<Utc>,
    summary: SummarySchema,
    rows: Vec<RowSchema>,
}

/// Counts, shown by the frontend as label/value pairs.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportSummary)]
struct SummarySchema {
    /// The old system's "number of studies", kept for the frontend.
    #[serde(rename = "Количество исследований")]
    studies_ru: u64,
    studies: u64,
    series: u64,
    pathology: u64,
    normal: u64,
    failed: u64,
    threshold: Option<f64>,
}

/// One analysed series.
#[derive(Serialize, ToSchema)]
#[schema(as = ReportRow)]
struct RowSchema {
    study_uid: Option<String>,
    series_uid: Option<String>,
    probability_of_pathology: Option<f64>,
    pathology: Option<bool>,
    time_of_processing: Option<String>,
    most_dangerous_pathology_type: Option<String>,
    hazard_probability: Option<f64>,
    probability_of_anomaly: Option<f64>,
    path_to_study: Option<String>,
    processing_status: Option<String>,
    error: Option<String>,
    /// Columns the parser does not know, by their header.
    #[schema(value_type = Object)]
    extra: Map<String, Value>,
}
