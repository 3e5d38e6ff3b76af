//! Report rows (`triage_report::SeriesRow`, the writer's type) from every source the batch
//! commands meet: an input that failed, an engine analysis, and a parsed report (a server's
//! results, or an earlier output read back for `--resume`).

use std::time::Duration;

use serde_json::Value;
use triage_domain::ReportRow;
use triage_report::{Cell, ProcessingStatus, SeriesRow};

/// A `Failure` row for something that is not (part of) an analysable study.
pub fn failure_row(path_to_study: &str, study_uid: &str, reason: &str) -> SeriesRow {
    SeriesRow {
        path_to_study: path_to_study.to_owned(),
        study_uid: study_uid.to_owned(),
        series_uid: String::new(),
        probability_of_pathology: None,
        pathology: None,
        processing_status: ProcessingStatus::Failure,
        time_of_processing: 0.0,
        most_dangerous_pathology_type: None,
        pathology_localization: None,
        error: Some(reason.to_owned()),
        extra: Vec::new(),
    }
}

/// A parsed row back into a writable one. `pathology_localization`, which the parser keeps in
/// `extra`, returns to its own column.
pub fn from_report_row(row: &ReportRow) -> SeriesRow {
    let mut localization = None;
    let extra = row
        .extra
        .iter()
        .filter_map(|(name, value)| {
            if name.trim().eq_ignore_ascii_case("pathology_localization") {
                localization = value.as_str().map(str::to_owned);
                return None;
            }
            Some((name.clone(), cell(value)))
        })
        .collect();
    let failed = row
        .processing_status
        .as_deref()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("failure"));
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
            .and_then(|t| t.trim().replace(',', ".").parse().ok())
            .unwrap_or(0.0),
        most_dangerous_pathology_type: row.most_dangerous_pathology_type.clone(),
        pathology_localization: localization,
        error: row.error.clone(),
        extra,
    }
}

fn cell(value: &Value) -> Cell {
    match value {
        Value::Number(n) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Value::String(s) => Cell::Text(s.clone()),
        Value::Bool(b) => Cell::Bool(*b),
        Value::Null => Cell::Empty,
        other => Cell::Text(other.to_string()),
    }
}

/// What identifies a unit of work in an output: the study, or for failures that belong to no
/// study, the path of the input.
pub fn unit_key(row: &SeriesRow) -> String {
    if row.study_uid.is_empty() {
        format!("path:{}", row.path_to_study)
    } else {
        format!("study:{}", row.study_uid)
    }
}

/// A one-line account of a study's rows for progress output.
pub fn describe(rows: &[SeriesRow], took: Duration) -> String {
    let failed = rows
        .iter()
        .filter(|r| r.processing_status == ProcessingStatus::Failure)
        .count();
    let pathology = rows.iter().filter(|r| r.pathology == Some(true)).count();
    format!(
        "{} series: {pathology} pathology, {} normal, {failed} failed ({:.1} s)",
        rows.len(),
        rows.len() - failed - pathology,
        took.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parsed_row_keeps_its_values_and_localization_leaves_extra() {
        let mut row = ReportRow {
            study_uid: Some("1.2".to_owned()),
            processing_status: Some("Success".to_owned()),
            time_of_processing: Some("2,5".to_owned()),
            pathology: Some(true),
            ..ReportRow::default()
        };
        row.extra
            .insert("pathology_localization".to_owned(), "1,2,3,4,5,6".into());
        row.extra.insert("laa950_percent".to_owned(), 3.5.into());
        let back = from_report_row(&row);
        assert_eq!(back.time_of_processing, 2.5);
        assert_eq!(back.pathology_localization.as_deref(), Some("1,2,3,4,5,6"));
        assert_eq!(
            back.extra,
            vec![("laa950_percent".to_owned(), Cell::Number(3.5))]
        );
        assert_eq!(back.processing_status, ProcessingStatus::Success);
        assert_eq!(unit_key(&back), "study:1.2");
    }
}
