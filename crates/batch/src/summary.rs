//! The table both commands print at the end: studies, pathology, normal, failed, and the time per
//! study (p50, p95, max).

use std::collections::HashMap;
use std::fmt;

use triage_report::{ProcessingStatus, SeriesRow};

use crate::rows::unit_key;

/// Counts per study (a study with any pathological series is `pathology`; else one with any
/// failed series is `failed`; else `normal`). A failure that belongs to no study (a corrupt ZIP)
/// counts as one failed study. Time per study is the sum of its series' `time_of_processing`,
/// over the studies that were analysed (not over inputs that failed before).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub studies: usize,
    pub pathology: usize,
    pub normal: usize,
    pub failed: usize,
    pub p50_secs: f64,
    pub p95_secs: f64,
    pub max_secs: f64,
}

#[derive(Default)]
struct Study {
    /// An input that failed before any analysis (no study UID): no time to count.
    analysed: bool,
    pathology: bool,
    failed: bool,
    secs: f64,
}

impl Summary {
    pub fn of(rows: &[SeriesRow]) -> Self {
        let mut order = Vec::new();
        let mut studies: HashMap<String, Study> = HashMap::new();
        for row in rows {
            let key = unit_key(row);
            let study = studies.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                Study::default()
            });
            study.analysed |= !row.study_uid.is_empty();
            study.pathology |= row.pathology == Some(true);
            study.failed |= row.processing_status == ProcessingStatus::Failure;
            study.secs += row.time_of_processing;
        }
        let mut times: Vec<f64> = studies
            .values()
            .filter(|s| s.analysed)
            .map(|s| s.secs)
            .collect();
        times.sort_by(f64::total_cmp);
        let pathology = studies.values().filter(|s| s.pathology).count();
        let failed = studies
            .values()
            .filter(|s| !s.pathology && s.failed)
            .count();
        Self {
            studies: studies.len(),
            pathology,
            normal: studies.len() - pathology - failed,
            failed,
            p50_secs: percentile(&times, 0.50),
            p95_secs: percentile(&times, 0.95),
            max_secs: times.last().copied().unwrap_or(0.0),
        }
    }

    /// Whether every study succeeded (the exit status 0 condition).
    pub fn all_succeeded(&self) -> bool {
        self.failed == 0
    }
}

/// Nearest-rank percentile of sorted values; 0 for none.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = [
            ("studies", self.studies.to_string()),
            ("pathology", self.pathology.to_string()),
            ("normal", self.normal.to_string()),
            ("failed", self.failed.to_string()),
            ("time per study p50", format!("{:.1} s", self.p50_secs)),
            ("time per study p95", format!("{:.1} s", self.p95_secs)),
            ("time per study max", format!("{:.1} s", self.max_secs)),
        ];
        writeln!(f, "+--------------------+------------+")?;
        for (name, value) in lines {
            writeln!(f, "| {name:<18} | {value:>10} |")?;
        }
        write!(f, "+--------------------+------------+")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::failure_row;

    fn row(study: &str, pathology: Option<bool>, secs: f64) -> SeriesRow {
        let mut row = failure_row("p", study, "x");
        if pathology.is_some() {
            row.processing_status = ProcessingStatus::Success;
            row.error = None;
        }
        row.pathology = pathology;
        row.time_of_processing = secs;
        row
    }

    #[test]
    fn studies_are_counted_once_and_times_summed_per_study() {
        let rows = [
            row("1", Some(true), 1.0),
            row("1", None, 2.0),
            row("2", Some(false), 4.0),
            row("3", None, 0.5),
            row("", None, 0.0),
        ];
        let s = Summary::of(&rows);
        assert_eq!((s.studies, s.pathology, s.normal, s.failed), (4, 1, 1, 2));
        assert_eq!((s.p50_secs, s.p95_secs, s.max_secs), (3.0, 4.0, 4.0));
        assert!(!s.all_succeeded());
        assert!(
            s.to_string()
                .contains("| pathology          |          1 |")
        );
    }
}
