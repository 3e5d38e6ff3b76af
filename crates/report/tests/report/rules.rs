//! The header and row rules of report.md: trimming, case, duplicates, blanks, empty sheets,
//! missing columns, the first worksheet.

use rust_xlsxwriter::Workbook;
use serde_json::json;
use triage_report::ReportError;

use crate::support::V::{B, Blank, E, N, S};
use crate::support::{fill, parse_err, parse_ok, row, rows, with_sheet_data, xlsx};

#[test]
fn headers_are_trimmed_and_matched_case_insensitively() {
    let r = row(
        &[
            "  Study_UID ",
            "PROBABILITY_OF_PATHOLOGY",
            " Pathology",
            " Engine ",
        ],
        &[S("1.2"), N(0.5), N(1.0), S("v1")],
    );
    assert_eq!(r.study_uid.as_deref(), Some("1.2"));
    assert_eq!(r.probability_of_pathology, Some(0.5));
    assert_eq!(r.pathology, Some(true));
    // Extra keys are the header as written, trimmed (case kept).
    assert_eq!(
        r.extra,
        json!({"Engine": "v1"}).as_object().unwrap().clone()
    );
}

#[test]
fn the_first_of_a_duplicated_header_wins() {
    let r = row(
        &[
            "study_uid",
            "probability_of_pathology",
            "STUDY_UID",
            "engine",
            "Engine",
        ],
        &[S("first"), N(0.2), S("second"), S("a"), S("b")],
    );
    assert_eq!(r.study_uid.as_deref(), Some("first"));
    assert_eq!(r.extra, json!({"engine": "a"}).as_object().unwrap().clone());
}

#[test]
fn a_duplicate_does_not_shadow_an_empty_first_column_with_its_value() {
    // The old parser's dict collapsed duplicates and then read the wrong position.
    let r = row(
        &["study_uid", "study_uid", "series_uid"],
        &[Blank, S("shadow"), S("1.2.3.4")],
    );
    assert_eq!(r.study_uid, None);
    assert_eq!(r.series_uid.as_deref(), Some("1.2.3.4"));
}

#[test]
fn blank_header_columns_are_ignored() {
    let r = row(
        &["study_uid", "", "   ", "series_uid"],
        &[S("1.2"), S("lost"), N(7.0), S("1.2.1")],
    );
    assert_eq!(r.study_uid.as_deref(), Some("1.2"));
    assert_eq!(r.series_uid.as_deref(), Some("1.2.1"));
    assert!(r.extra.is_empty(), "{:?}", r.extra);
}

#[test]
fn fully_empty_rows_are_skipped() {
    let header = ["study_uid", "probability_of_pathology", "", "engine"];
    let parsed = rows(
        &header,
        &[
            &[S("1"), N(0.1)],
            &[],
            &[S("   "), E("#DIV/0!")],
            &[Blank, Blank, S("only under a blank header")],
            &[Blank, Blank, Blank, S("x")],
            &[S("2"), N(0.2)],
        ],
    );
    let uids: Vec<_> = parsed.iter().map(|r| r.study_uid.as_deref()).collect();
    assert_eq!(uids, [Some("1"), None, Some("2")]);
    assert_eq!(parsed[1].extra["engine"], json!("x"));
}

#[test]
fn a_row_with_only_unreadable_values_is_kept() {
    let r = row(&["study_uid", "pathology"], &[Blank, S("maybe")]);
    assert_eq!((r.study_uid, r.pathology), (None, None));
}

#[test]
fn a_header_only_sheet_gives_zero_rows() {
    let payload = parse_ok(&xlsx(&["study_uid", "probability_of_pathology"], &[]));
    assert!(payload.rows.is_empty());
    assert_eq!((payload.summary.studies, payload.summary.series), (0, 0));
    assert_eq!(payload.summary.threshold, Some(0.25));
}

#[test]
fn an_empty_worksheet_gives_zero_rows() {
    let payload = parse_ok(&xlsx(&[], &[]));
    assert!(payload.rows.is_empty());
    // Only blank or error cells: still empty.
    let payload = parse_ok(&xlsx(&["  "], &[&[S(" "), E("#N/A")]]));
    assert!(payload.rows.is_empty());
}

#[test]
fn a_header_without_study_uid_or_probability_is_missing_columns() {
    let cases = [
        xlsx(&["series_uid", "pathology"], &[&[S("1.2"), N(1.0)]]),
        xlsx(&["series_uid", "pathology"], &[]),
        xlsx(&["", ""], &[&[S("1.2"), N(0.3)]]),
        xlsx(
            &["probability_of_anomaly", "prob@nodule"],
            &[&[N(0.1), N(0.2)]],
        ),
    ];
    for bytes in cases {
        let err = parse_err(&bytes);
        assert!(matches!(err, ReportError::MissingColumns), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the report has neither a study_uid nor a probability_of_pathology column"
        );
    }
}

#[test]
fn study_uid_or_a_probability_column_alone_is_enough() {
    assert_eq!(rows(&["study_uid"], &[&[S("1")]]).len(), 1);
    assert_eq!(rows(&["probability_of_pathology"], &[&[N(0.1)]]).len(), 1);
    assert_eq!(
        rows(&["probability_of_pathology_percent"], &[&[N(10.0)]]).len(),
        1
    );
}

#[test]
fn only_the_first_worksheet_is_read() {
    let mut workbook = Workbook::new();
    fill(workbook.add_worksheet(), &["study_uid"], &[&[S("first")]]);
    fill(
        workbook.add_worksheet(),
        &["study_uid"],
        &[&[S("second")], &[S("third")]],
    );
    let payload = parse_ok(&workbook.save_to_buffer().unwrap());
    assert_eq!(payload.rows.len(), 1);
    assert_eq!(payload.rows[0].study_uid.as_deref(), Some("first"));
}

#[test]
fn rows_are_read_in_sheet_order_even_when_stored_out_of_order() {
    let bytes = with_sheet_data(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>study_uid</t></is></c></row>
<row r="3"><c r="A3" t="inlineStr"><is><t>third</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>second</t></is></c></row>"#,
    );
    let uids: Vec<_> = parse_ok(&bytes)
        .rows
        .into_iter()
        .map(|r| r.study_uid)
        .collect();
    assert_eq!(uids, [Some("second".into()), Some("third".into())]);
}

#[test]
fn error_codes_calamine_does_not_know_are_empty_cells() {
    let bytes = with_sheet_data(
        r#"<row r="1"><c r="A1" t="inlineStr"><is><t>study_uid</t></is></c><c r="B1" t="inlineStr"><is><t>probability_of_pathology</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>1.2</t></is></c><c r="B2" t="e"><f>X()</f><v>#SPILL!</v></c></row>
<row r="3"><c r="A3" t="inlineStr"><is><t>1.3</t></is></c><c r="B3"><v>0.5</v></c></row>"#,
    );
    let parsed = parse_ok(&bytes).rows;
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].probability_of_pathology, None);
    assert_eq!(parsed[1].probability_of_pathology, Some(0.5));
}

#[test]
fn boolean_cells_are_kept_as_json_booleans() {
    let r = row(&["study_uid", "flagged"], &[S("1"), B(true)]);
    assert_eq!(r.extra["flagged"], json!(true));
}
