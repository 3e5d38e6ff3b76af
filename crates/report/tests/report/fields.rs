//! Derived and text fields: prob@ findings, UIDs, status/error/path, error cells, extras, dates
//! and the summary.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use serde_json::json;

use crate::support::V::{B, Blank, E, N, S};
use crate::support::{at, parse_ok, row, rows, xlsx};

#[test]
fn the_highest_prob_column_is_the_most_dangerous_but_anomaly_never_is() {
    let header = [
        "study_uid",
        "prob@anomaly",
        "Prob@Nodule",
        "prob@Emphysema",
        "prob@effusion",
    ];
    let r = row(&header, &[S("1"), N(0.99), N(0.66), N(0.2), S("n/a")]);
    assert_eq!(r.most_dangerous_pathology_type.as_deref(), Some("nodule"));
    assert_eq!(r.hazard_probability, Some(0.66));
    assert_eq!(r.probability_of_anomaly, Some(0.99));
    let keys: Vec<_> = r.extra.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "prob@anomaly",
            "Prob@Nodule",
            "prob@Emphysema",
            "prob@effusion"
        ]
    );
}

#[test]
fn the_type_column_wins_and_hazard_is_still_the_maximum() {
    let header = [
        "study_uid",
        "most_dangerous_pathology_type",
        "prob@nodule",
        "prob@emphysema",
    ];
    let parsed = rows(
        &header,
        &[
            &[S("1"), S("Effusion"), N(0.3), N(0.5)],
            &[S("2"), S(" "), N(0.3), N(0.5)],
        ],
    );
    assert_eq!(
        parsed[0].most_dangerous_pathology_type.as_deref(),
        Some("Effusion")
    );
    assert_eq!(parsed[0].hazard_probability, Some(0.5));
    assert_eq!(
        parsed[1].most_dangerous_pathology_type.as_deref(),
        Some("emphysema")
    );
}

#[test]
fn a_tie_goes_to_the_leftmost_finding_and_no_findings_give_null() {
    let r = row(
        &["study_uid", "prob@b", "prob@a"],
        &[S("1"), N(0.5), N(0.5)],
    );
    assert_eq!(r.most_dangerous_pathology_type.as_deref(), Some("b"));
    let r = row(&["study_uid", "prob@anomaly"], &[S("1"), N(0.5)]);
    assert_eq!(
        (r.most_dangerous_pathology_type, r.hazard_probability),
        (None, None)
    );
}

#[test]
fn numeric_uids_never_use_an_exponent() {
    let r = row(
        &["study_uid", "series_uid", "path_to_study"],
        &[N(1.2e3), N(1.23), N(1e20)],
    );
    assert_eq!(r.study_uid.as_deref(), Some("1200"));
    assert_eq!(r.series_uid.as_deref(), Some("1.23"));
    assert_eq!(r.path_to_study.as_deref(), Some("100000000000000000000"));
    let r = row(&["study_uid"], &[S("  1.2.840.113619.2.55 ")]);
    assert_eq!(r.study_uid.as_deref(), Some("1.2.840.113619.2.55"));
}

#[test]
fn status_error_and_path_are_read_as_text() {
    let r = row(
        &["study_uid", "path_to_study", "processing_status", "error"],
        &[S("1"), S(" P001/a "), S("Failure"), S("timeout")],
    );
    assert_eq!(r.path_to_study.as_deref(), Some("P001/a"));
    assert_eq!(r.processing_status.as_deref(), Some("Failure"));
    assert_eq!(r.error.as_deref(), Some("timeout"));
}

#[test]
fn error_cells_are_empty() {
    let r = row(
        &["study_uid", "probability_of_pathology", "engine"],
        &[S("1"), E("#DIV/0!"), E("#VALUE!")],
    );
    assert_eq!(r.probability_of_pathology, None);
    assert!(r.extra.is_empty());
}

#[test]
fn extras_keep_their_kind_and_omit_empty_cells() {
    let r = row(
        &[
            "study_uid",
            "slices",
            "laa950_percent",
            "engine",
            "contrast",
            "comment",
        ],
        &[S("1"), N(120.0), N(3.25), S(" hu-1 "), B(false), Blank],
    );
    assert_eq!(
        r.extra,
        json!({"slices": 120, "laa950_percent": 3.25, "engine": "hu-1", "contrast": false})
            .as_object()
            .unwrap()
            .clone()
    );
}

#[test]
fn dates_in_cells_become_rfc3339_text() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "study_uid").unwrap();
    sheet.write_string(0, 1, "acquired").unwrap();
    sheet.write_string(1, 0, "1").unwrap();
    let when = ExcelDateTime::from_ymd(2025, 10, 13)
        .unwrap()
        .and_hms(12, 30, 15)
        .unwrap();
    sheet
        .write_datetime_with_format(
            1,
            1,
            &when,
            &Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        )
        .unwrap();
    let r = parse_ok(&workbook.save_to_buffer().unwrap()).rows.remove(0);
    assert_eq!(r.extra["acquired"], json!("2025-10-13T12:30:15Z"));
}

#[test]
fn the_summary_counts_distinct_studies_and_outcomes() {
    let header = ["study_uid", "series_uid", "pathology", "processing_status"];
    let bytes = xlsx(
        &header,
        &[
            &[S("1"), S("1.1"), N(1.0), S("Success")],
            &[S("1"), S("1.2"), N(0.0), S("Success")],
            &[S("2"), S("2.1"), S("да"), S("success")],
            &[S("3"), S("3.1"), Blank, S("FAILURE")],
            &[Blank, S("x.1"), Blank, S("Failure")],
        ],
    );
    let summary = triage_report::parse(&bytes, None, at()).unwrap().summary;
    assert_eq!(summary.studies, 3);
    assert_eq!(summary.studies_ru, 3);
    assert_eq!(summary.series, 5);
    assert_eq!(summary.pathology, 2);
    assert_eq!(summary.normal, 1);
    assert_eq!(summary.failed, 2);
    assert_eq!(summary.threshold, None);
}
