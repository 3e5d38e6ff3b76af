//! `write` → `parse`, the writer's layout, and the JSON shape of a parsed row.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde_json::{Value, json};
use triage_domain::{ReportRow, ReportSummary};
use triage_report::{COLUMNS, Cell, ProcessingStatus, ReportError, SeriesRow, write};

use crate::support::{at, parse_ok};

fn series() -> Vec<SeriesRow> {
    vec![
        SeriesRow {
            path_to_study: "P001/study".into(),
            study_uid: "1.2.3".into(),
            series_uid: "1.2.3.4".into(),
            probability_of_pathology: Some(0.71),
            pathology: Some(true),
            processing_status: ProcessingStatus::Success,
            time_of_processing: 12.5,
            most_dangerous_pathology_type: Some("nodule".into()),
            pathology_localization: Some("1,2,3,4,5,6".into()),
            error: None,
            extra: vec![
                ("laa950_percent".into(), Cell::Number(3.2)),
                ("engine".into(), Cell::Text("triage-hu 1".into())),
                ("slices".into(), Cell::Number(120.0)),
                ("prob@nodule".into(), Cell::Number(0.66)),
                ("prob@anomaly".into(), Cell::Number(0.4)),
                ("contrast".into(), Cell::Bool(false)),
            ],
        },
        SeriesRow {
            path_to_study: "P002".into(),
            study_uid: "1.2.5".into(),
            series_uid: "1.2.5.1".into(),
            probability_of_pathology: Some(0.1),
            pathology: Some(false),
            processing_status: ProcessingStatus::Failure,
            time_of_processing: 3.0,
            most_dangerous_pathology_type: None,
            pathology_localization: None,
            error: Some("no lung found".into()),
            extra: vec![
                ("engine".into(), Cell::Text("x".into())),
                ("mean_lung_hu".into(), Cell::Number(-850.5)),
                ("laa950_percent".into(), Cell::Empty),
            ],
        },
    ]
}

fn extra(pairs: Value) -> serde_json::Map<String, Value> {
    pairs.as_object().unwrap().clone()
}

#[test]
fn write_then_parse_keeps_every_field() {
    let payload = parse_ok(&write(&series()).unwrap());
    let first = ReportRow {
        study_uid: Some("1.2.3".into()),
        series_uid: Some("1.2.3.4".into()),
        probability_of_pathology: Some(0.71),
        pathology: Some(true),
        time_of_processing: Some("12.5".into()),
        most_dangerous_pathology_type: Some("nodule".into()),
        hazard_probability: Some(0.66),
        probability_of_anomaly: Some(0.4),
        path_to_study: Some("P001/study".into()),
        processing_status: Some("Success".into()),
        error: None,
        extra: extra(json!({
            "pathology_localization": "1,2,3,4,5,6", "laa950_percent": 3.2, "engine": "triage-hu 1",
            "slices": 120, "prob@nodule": 0.66, "prob@anomaly": 0.4, "contrast": false,
        })),
    };
    let second = ReportRow {
        study_uid: Some("1.2.5".into()),
        series_uid: Some("1.2.5.1".into()),
        probability_of_pathology: Some(0.1),
        pathology: Some(false),
        time_of_processing: Some("3".into()),
        path_to_study: Some("P002".into()),
        processing_status: Some("Failure".into()),
        error: Some("no lung found".into()),
        extra: extra(json!({"engine": "x", "mean_lung_hu": -850.5})),
        ..ReportRow::default()
    };
    assert_eq!(payload.rows, vec![first, second]);
    let keys: Vec<_> = payload.rows[0].extra.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "pathology_localization",
            "laa950_percent",
            "engine",
            "slices",
            "prob@nodule",
            "prob@anomaly",
            "contrast"
        ]
    );
    assert_eq!(payload.parsed_at, at());
    assert_eq!(
        payload.summary,
        ReportSummary::of(&payload.rows, Some(0.25))
    );
    assert_eq!(
        (
            payload.summary.pathology,
            payload.summary.normal,
            payload.summary.failed
        ),
        (1, 1, 1)
    );
}

#[test]
fn header_is_the_report_columns_then_error_then_extras_in_first_seen_order() {
    let bytes = write(&series()).unwrap();
    let mut workbook = Xlsx::new(Cursor::new(bytes)).unwrap();
    let range = workbook.worksheet_range_at(0).unwrap().unwrap();
    let header: Vec<String> = range
        .rows()
        .next()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut expected: Vec<&str> = COLUMNS.to_vec();
    expected.extend([
        "error",
        "laa950_percent",
        "engine",
        "slices",
        "prob@nodule",
        "prob@anomaly",
        "contrast",
    ]);
    expected.push("mean_lung_hu");
    assert_eq!(header, expected);
    // pathology is the number 0/1, never a boolean or text.
    assert_eq!(range.get((1, 4)), Some(&Data::Float(1.0)));
    assert_eq!(range.get((2, 4)), Some(&Data::Float(0.0)));
    assert_eq!(range.get((1, 5)), Some(&Data::String("Success".into())));
}

#[test]
fn none_and_non_finite_values_are_written_as_empty_cells() {
    let mut row = series().remove(1);
    row.probability_of_pathology = Some(f64::NAN);
    row.pathology = None;
    row.extra = vec![("laa950_percent".into(), Cell::Number(f64::INFINITY))];
    let parsed = parse_ok(&write(&[row]).unwrap()).rows.remove(0);
    assert_eq!(parsed.probability_of_pathology, None);
    assert_eq!(parsed.pathology, None);
    assert!(parsed.extra.is_empty(), "{:?}", parsed.extra);
}

#[test]
fn text_that_looks_like_a_formula_stays_text() {
    let mut row = series().remove(1);
    row.extra = vec![("note".into(), Cell::Text("=1+1".into()))];
    let parsed = parse_ok(&write(&[row]).unwrap()).rows.remove(0);
    assert_eq!(parsed.extra["note"], json!("=1+1"));
}

#[test]
fn extra_names_match_like_headers_and_the_first_value_wins() {
    let mut rows = series();
    rows[0].extra = vec![
        ("Engine".into(), Cell::Text("a".into())),
        (" engine ".into(), Cell::Text("b".into())),
    ];
    rows[1].extra = vec![("ENGINE".into(), Cell::Text("c".into()))];
    let parsed = parse_ok(&write(&rows).unwrap()).rows;
    assert_eq!(parsed[0].extra["Engine"], json!("a"));
    assert_eq!(parsed[1].extra["Engine"], json!("c"));
}

#[test]
fn writer_rejects_extras_the_parser_would_drop() {
    for name in ["study_uid", " Error ", "PATHOLOGY", "  "] {
        let mut rows = series();
        rows[1].extra.push((name.into(), Cell::Number(1.0)));
        assert!(
            matches!(write(&rows), Err(ReportError::Write(_))),
            "{name:?}"
        );
    }
}

#[test]
fn writing_no_rows_gives_a_header_only_report() {
    let payload = parse_ok(&write(&[]).unwrap());
    assert!(payload.rows.is_empty());
    assert_eq!(payload.summary.series, 0);
}

#[test]
fn json_rows_keep_the_old_key_order() {
    let payload = parse_ok(&write(&series()).unwrap());
    let value = serde_json::to_value(&payload).unwrap();
    let keys: Vec<&str> = value["rows"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys[..8],
        [
            "study_uid",
            "series_uid",
            "probability_of_pathology",
            "pathology",
            "time_of_processing",
            "most_dangerous_pathology_type",
            "hazard_probability",
            "probability_of_anomaly",
        ]
    );
    assert_eq!(value["rows"][0]["pathology"], json!(true));
    assert_eq!(value["rows"][0]["time_of_processing"], json!("12.5"));
    assert_eq!(value["parsed_at"], json!("2026-11-26T15:28:27Z"));
    assert_eq!(value["summary"]["Количество исследований"], json!(2));
}
