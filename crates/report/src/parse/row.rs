//! One data row of the sheet → one `ReportRow`.

use std::collections::BTreeMap;

use calamine::Data;
use serde_json::Map;
use triage_domain::ReportRow;

use super::cells::{flag, json, number, text};
use crate::columns::Header;

/// Builds the row, or `None` when no header column holds a value in it: a fully empty row, or
/// one whose only values sit under blank or duplicated headers (it would read as all-null).
pub(super) fn build(header: &Header, cells: &BTreeMap<u32, Data>) -> Option<ReportRow> {
    if !cells.keys().any(|column| header.columns.contains(column)) {
        return None;
    }
    let cell = |column: Option<u32>| column.and_then(|c| cells.get(&c));
    let text_at = |column: Option<u32>| cell(column).and_then(text);

    let mut extra = Map::new();
    for (column, name) in &header.extra {
        if let Some(value) = cells.get(column).and_then(json) {
            extra.insert(name.clone(), value);
        }
    }

    let (finding, hazard) = most_dangerous(header, cells);
    Some(ReportRow {
        study_uid: text_at(header.study_uid),
        series_uid: text_at(header.series_uid),
        probability_of_pathology: scaled(&header.probability, cells),
        pathology: cell(header.pathology).and_then(flag),
        time_of_processing: header.time.iter().find_map(|c| cells.get(c).and_then(text)),
        most_dangerous_pathology_type: text_at(header.most_dangerous_pathology_type).or(finding),
        hazard_probability: hazard,
        probability_of_anomaly: scaled(&header.anomaly, cells),
        path_to_study: text_at(header.path_to_study),
        processing_status: text_at(header.processing_status),
        error: text_at(header.error),
        extra,
    })
}

/// The first candidate (in precedence order) that holds a number in this row, rescaled. A
/// non-numeric canonical cell falls through to the aliases rather than hiding them.
fn scaled(candidates: &[(u32, f64)], cells: &BTreeMap<u32, Data>) -> Option<f64> {
    candidates
        .iter()
        .find_map(|(column, divisor)| Some(number(cells.get(column)?)? / divisor))
}

/// The highest `prob@<finding>` (never `prob@anomaly`) and its value; the leftmost wins a tie.
fn most_dangerous(header: &Header, cells: &BTreeMap<u32, Data>) -> (Option<String>, Option<f64>) {
    let mut best: Option<(&str, f64)> = None;
    for (column, finding) in &header.findings {
        let Some(value) = cells.get(column).and_then(number) else {
            continue;
        };
        if best.is_none_or(|(_, top)| value > top) {
            best = Some((finding, value));
        }
    }
    match best {
        Some((finding, value)) => (Some(finding.to_owned()), Some(value)),
        None => (None, None),
    }
}
