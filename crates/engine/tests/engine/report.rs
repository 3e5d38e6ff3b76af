//! The written XLSX reads back with the report crate's parser, with report.md's columns.

use std::io::Read;

use chrono::Utc;
use triage_engine::{Profile, analyse_path, engine_description, write_report};
use triage_report::COLUMNS;

use crate::support::{fixture, options};

/// The header row as written: the shared strings of the first sheet, in order of first use.
fn header_names(xlsx: &[u8]) -> String {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(xlsx)).unwrap();
    let mut strings = String::new();
    archive
        .by_name("xl/sharedStrings.xml")
        .unwrap()
        .read_to_string(&mut strings)
        .unwrap();
    strings
}

#[test]
fn the_report_parses_back_with_every_column() {
    let path = fixture("ct-two-studies-pacs.zip");
    let analysis = analyse_path(&path, &options(Profile::Research)).unwrap();
    let xlsx = write_report(&analysis).unwrap();
    let payload = triage_report::parse(&xlsx, Some(0.25), Utc::now()).unwrap();

    assert_eq!(payload.rows.len(), 2);
    assert_eq!(payload.summary.studies, 2);
    assert_eq!(payload.summary.failed, 0);
    for (row, series) in payload.rows.iter().zip(&analysis.series) {
        assert_eq!(row.study_uid.as_deref(), Some(series.study_uid.as_str()));
        assert_eq!(row.series_uid.as_deref(), Some(series.series_uid.as_str()));
        assert_eq!(
            row.path_to_study.as_deref(),
            Some(series.path_to_study.as_str())
        );
        assert_eq!(row.processing_status.as_deref(), Some("Success"));
        assert_eq!(row.pathology, Some(false));
        assert!(row.probability_of_pathology.unwrap() < 0.25);
        assert!(row.time_of_processing.is_some());
        for metric in [
            "laa950_percent",
            "haa_percent",
            "mean_lung_hu",
            "lung_volume_ml",
            "slices",
            "pd15_hu",
        ] {
            assert!(row.extra[metric].is_number(), "{metric}: {:?}", row.extra);
        }
        assert_eq!(row.extra["slices"].as_f64(), Some(32.0));
        assert_eq!(
            row.extra["engine"].as_str(),
            Some(engine_description(Profile::Research).as_str())
        );
    }
    let strings = header_names(&xlsx);
    let mut from = 0;
    for column in COLUMNS.iter().chain(&["error", "engine"]) {
        let at = strings[from..].find(&format!(">{column}<")).unwrap() + from;
        from = at;
    }
}

#[test]
fn the_engine_column_says_it_is_not_a_trained_model() {
    let text = engine_description(Profile::Production);
    assert!(text.contains("not a trained model") && text.contains("production"));
}

#[test]
fn production_rows_leave_out_the_research_columns() {
    let analysis = analyse_path(&fixture("ct-normal.zip"), &options(Profile::Production)).unwrap();
    let names: Vec<String> = analysis.rows()[0]
        .extra
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "laa950_percent",
            "haa_percent",
            "mean_lung_hu",
            "lung_volume_ml",
            "slices",
            "slices_in_series",
            "engine"
        ]
    );
}
