//! Column names of report.md and how a header row maps onto the fields of a report row.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The report.md column names, in the order of its table and of the columns
/// [`write`](crate::write()) emits first.
pub const COLUMNS: [&str; 9] = [
    "path_to_study",
    "study_uid",
    "series_uid",
    "probability_of_pathology",
    "pathology",
    "processing_status",
    "time_of_processing",
    "most_dangerous_pathology_type",
    "pathology_localization",
];

/// Written after [`COLUMNS`]; services use it to say why a row failed.
pub(crate) const ERROR: &str = "error";

/// The `prob@<finding>` prefix; `prob@anomaly` is not a finding but the anomaly score.
const PROB_PREFIX: &str = "prob@";
const ANOMALY_FINDING: &str = "anomaly";

// Precedence lists: the canonical name first, then the aliases in report.md's order. The number
// is the divisor that brings a percentage back to 0–1.
const PROBABILITY: [(&str, f64); 2] = [
    ("probability_of_pathology", 1.0),
    ("probability_of_pathology_percent", 100.0),
];
const TIME: [&str; 3] = ["time_of_processing", "processing_time", "time_of_analysis"];
const ANOMALY: [(&str, f64); 4] = [
    ("probability_of_anomaly", 1.0),
    ("anom_score", 1.0),
    ("probability_of_anomaly_percent", 100.0),
    ("prob@anomaly", 1.0),
];

// `pathology_localization` is deliberately absent: the row has no field for it, so it travels in
// `extra` rather than being dropped.
const MAPPED: [&str; 7] = [
    "path_to_study",
    "study_uid",
    "series_uid",
    "pathology",
    "processing_status",
    "most_dangerous_pathology_type",
    ERROR,
];

/// Header cells are compared trimmed and case-insensitively.
pub(crate) fn normalise(header: &str) -> String {
    header.trim().to_lowercase()
}

/// Where each field of a row comes from, resolved once from the header row.
#[derive(Debug, Default)]
pub(crate) struct Header {
    pub path_to_study: Option<u32>,
    pub study_uid: Option<u32>,
    pub series_uid: Option<u32>,
    pub pathology: Option<u32>,
    pub processing_status: Option<u32>,
    pub most_dangerous_pathology_type: Option<u32>,
    pub error: Option<u32>,
    /// Candidates in precedence order, with their divisor.
    pub probability: Vec<(u32, f64)>,
    pub time: Vec<u32>,
    pub anomaly: Vec<(u32, f64)>,
    /// `prob@<finding>` columns other than `prob@anomaly`, left to right, with the finding name.
    pub findings: Vec<(u32, String)>,
    /// Columns kept verbatim in `extra`, keyed by the header as written (trimmed).
    pub extra: Vec<(u32, String)>,
    /// Every column with a (non-blank, first-occurrence) header.
    pub columns: BTreeSet<u32>,
}

impl Header {
    /// Maps header cells (column → trimmed text, as written) onto fields. Blank headers are
    /// ignored and the leftmost of a duplicated header wins, so every later copy is dropped.
    pub fn new(cells: &BTreeMap<u32, String>) -> Self {
        let mut first: HashMap<String, u32> = HashMap::new();
        let mut header = Header::default();
        for (&column, written) in cells {
            let name = normalise(written);
            if name.is_empty() || first.contains_key(&name) {
                continue;
            }
            first.insert(name.clone(), column);
            header.columns.insert(column);
            if let Some(finding) = name.strip_prefix(PROB_PREFIX).map(str::trim) {
                if !finding.is_empty() && finding != ANOMALY_FINDING {
                    header.findings.push((column, finding.to_owned()));
                }
                // Every prob@ column is also kept in extra so per-finding scores are not lost.
                header.extra.push((column, written.trim().to_owned()));
            } else if !is_known(&name) {
                header.extra.push((column, written.trim().to_owned()));
            }
        }
        let at = |name: &str| first.get(name).copied();
        header.path_to_study = at("path_to_study");
        header.study_uid = at("study_uid");
        header.series_uid = at("series_uid");
        header.pathology = at("pathology");
        header.processing_status = at("processing_status");
        header.most_dangerous_pathology_type = at("most_dangerous_pathology_type");
        header.error = at(ERROR);
        header.probability = PROBABILITY
            .iter()
            .filter_map(|&(n, d)| Some((at(n)?, d)))
            .collect();
        header.time = TIME.iter().filter_map(|&n| at(n)).collect();
        header.anomaly = ANOMALY
            .iter()
            .filter_map(|&(n, d)| Some((at(n)?, d)))
            .collect();
        header
    }

    /// report.md: without `study_uid` and without any probability column the report is
    /// unreadable.
    pub fn is_usable(&self) -> bool {
        self.study_uid.is_some() || !self.probability.is_empty()
    }
}

fn is_known(name: &str) -> bool {
    MAPPED.contains(&name)
        || PROBABILITY.iter().any(|&(n, _)| n == name)
        || TIME.contains(&name)
        || ANOMALY.iter().any(|&(n, _)| n == name)
}

/// Whether an extra column written under `name` would collide with a column the writer always
/// emits (the parser would then keep only the first of the two).
pub(crate) fn is_written_column(name: &str) -> bool {
    let name = normalise(name);
    name == ERROR || COLUMNS.contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> Header {
        let cells = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i as u32, (*n).to_owned()))
            .collect();
        Header::new(&cells)
    }

    #[test]
    fn aliases_are_ordered_by_precedence_not_by_position() {
        let h = header(&[
            "prob@anomaly",
            "anom_score",
            "probability_of_anomaly_percent",
            "probability_of_anomaly",
        ]);
        assert_eq!(h.anomaly, vec![(3, 1.0), (1, 1.0), (2, 100.0), (0, 1.0)]);
    }

    #[test]
    fn prob_columns_are_findings_and_extra_but_anomaly_is_not_a_finding() {
        let h = header(&["study_uid", " Prob@Nodule ", "PROB@anomaly", "prob@"]);
        assert_eq!(h.findings, vec![(1, "nodule".to_owned())]);
        let extra: Vec<_> = h.extra.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(extra, ["Prob@Nodule", "PROB@anomaly", "prob@"]);
        assert_eq!(h.anomaly, vec![(2, 1.0)]);
    }

    #[test]
    fn localization_travels_in_extra() {
        let h = header(&["study_uid", "pathology_localization"]);
        assert_eq!(h.extra, vec![(1, "pathology_localization".to_owned())]);
    }
}
