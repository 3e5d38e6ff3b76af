//! Analysis → report rows (report.md columns plus the engine's metric columns) → XLSX bytes.

use triage_report::{Cell, ProcessingStatus, SeriesRow};

use crate::analysis::{Analysis, SeriesOutcome, SeriesResult};
use crate::{EngineError, Profile};

/// What the `engine` column says: which engine, that it is not a trained model, which profile.
pub fn engine_description(profile: Profile) -> String {
    format!(
        "triage-engine {} quantitative lung densitometry (LAA-950/HAA baseline, not a trained \
         model); profile {profile}",
        env!("CARGO_PKG_VERSION")
    )
}

impl Analysis {
    /// One report row per series, in order.
    pub fn rows(&self) -> Vec<SeriesRow> {
        self.series
            .iter()
            .map(|series| series.to_row(self.profile))
            .collect()
    }
}

impl SeriesResult {
    /// The report row. Every row carries the same extra columns (empty where unknown), so the
    /// column order does not depend on which series failed.
    pub fn to_row(&self, profile: Profile) -> SeriesRow {
        let mut row = SeriesRow {
            path_to_study: self.path_to_study.clone(),
            study_uid: self.study_uid.clone(),
            series_uid: self.series_uid.clone(),
            probability_of_pathology: None,
            pathology: None,
            processing_status: ProcessingStatus::Failure,
            time_of_processing: self.duration.as_secs_f64(),
            most_dangerous_pathology_type: None,
            pathology_localization: None,
            error: None,
            extra: Vec::new(),
        };
        let number = |v: f64| Cell::Number(v);
        let optional = |v: Option<f64>| v.map_or(Cell::Empty, Cell::Number);
        let mut extra: Vec<(&str, Cell)> = match &self.outcome {
            SeriesOutcome::Success {
                metrics,
                probability,
                pathology,
                localization,
                ..
            } => {
                row.processing_status = ProcessingStatus::Success;
                row.probability_of_pathology = Some(probability.overall);
                row.pathology = Some(*pathology);
                row.most_dangerous_pathology_type =
                    pathology.then(|| probability.dominant_finding().to_owned());
                // Like the finding type, only for series called pathological.
                row.pathology_localization =
                    localization.filter(|_| *pathology).map(|b| b.to_report());
                vec![
                    ("laa950_percent", number(metrics.laa950_percent)),
                    ("haa_percent", number(metrics.haa_percent)),
                    ("mean_lung_hu", number(metrics.mean_lung_hu)),
                    ("lung_volume_ml", optional(metrics.lung_volume_ml)),
                    ("slices", number(metrics.slices_analysed as f64)),
                    ("slices_in_series", number(metrics.slices_in_series as f64)),
                    ("pd15_hu", optional(metrics.pd15_hu)),
                    ("slice_spacing_mm", optional(metrics.slice_spacing_mm)),
                    ("emphysema_probability", number(probability.emphysema)),
                    (
                        "high_attenuation_probability",
                        number(probability.high_attenuation),
                    ),
                ]
            }
            SeriesOutcome::Failure { reason } => {
                row.error = Some(reason.clone());
                METRIC_COLUMNS.iter().map(|&c| (c, Cell::Empty)).collect()
            }
        };
        if !profile.detailed() {
            extra.retain(|(name, _)| !RESEARCH_COLUMNS.contains(name));
        }
        extra.push(("engine", Cell::Text(engine_description(profile))));
        row.extra = extra
            .into_iter()
            .map(|(name, cell)| (name.to_owned(), cell))
            .collect();
        row
    }
}

/// Metric columns in the order written; the last four only in the research profile.
const METRIC_COLUMNS: [&str; 10] = [
    "laa950_percent",
    "haa_percent",
    "mean_lung_hu",
    "lung_volume_ml",
    "slices",
    "slices_in_series",
    "pd15_hu",
    "slice_spacing_mm",
    "emphysema_probability",
    "high_attenuation_probability",
];
const RESEARCH_COLUMNS: [&str; 4] = [
    "pd15_hu",
    "slice_spacing_mm",
    "emphysema_probability",
    "high_attenuation_probability",
];

/// The XLSX report of an analysis, written by `triage-report`.
pub fn write_report(analysis: &Analysis) -> Result<Vec<u8>, EngineError> {
    Ok(triage_report::write(&analysis.rows())?)
}
