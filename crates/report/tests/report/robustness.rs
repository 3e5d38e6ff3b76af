//! Hostile or broken input: every answer is `Ok` or a `ReportError`, never a panic, and memory
//! stays bounded by what the file contains.

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use rust_xlsxwriter::Workbook;
use triage_report::{ReportError, parse};

use crate::support::V::{N, S};
use crate::support::{XorShift, at, parse_err, parse_ok, replace_entry, with_sheet_data, xlsx};

fn sample() -> Vec<u8> {
    xlsx(
        &[
            "study_uid",
            "probability_of_pathology",
            "prob@nodule",
            "engine",
        ],
        &[
            &[S("1.2.3"), N(0.7), N(0.5), S("e")],
            &[S("1.2.4"), S("0,2"), N(0.1), S("f")],
        ],
    )
}

fn unreadable(bytes: &[u8]) -> String {
    match parse_err(bytes) {
        ReportError::Unreadable(why) => why,
        other => panic!("expected Unreadable, got {other:?}"),
    }
}

#[test]
fn garbage_bytes_are_unreadable() {
    for bytes in [
        &b""[..],
        b"not an xlsx at all",
        b"PK\x03\x04garbage",
        &[0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1],
    ] {
        assert!(!unreadable(bytes).is_empty());
    }
    let err = parse_err(b"hello");
    assert!(
        err.to_string()
            .starts_with("the report is not a readable XLSX workbook: "),
        "{err}"
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..300 {
        let len = rng.below(4096);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 && bytes.len() >= 4 {
            bytes[..4].copy_from_slice(b"PK\x03\x04");
        }
        assert!(parse(&bytes, None, at()).is_err());
    }
}

#[test]
fn truncated_and_corrupted_workbooks_never_panic() {
    let good = sample();
    for cut in (0..good.len()).step_by(97) {
        assert!(parse(&good[..cut], None, at()).is_err(), "cut at {cut}");
    }
    let mut rng = XorShift(42);
    for _ in 0..300 {
        let mut bytes = good.clone();
        for _ in 0..=rng.below(8) {
            let at_byte = rng.below(bytes.len());
            bytes[at_byte] = rng.next() as u8;
        }
        let _ = parse(&bytes, Some(0.5), at());
    }
}

#[test]
fn a_zip_that_is_not_an_xlsx_is_unreadable() {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    out.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .unwrap();
    out.write_all(b"hello").unwrap();
    let bytes = out.finish().unwrap().into_inner();
    assert!(!unreadable(&bytes).is_empty());
}

#[test]
fn broken_worksheet_xml_is_unreadable() {
    let sheet = "xl/worksheets/sheet1.xml";
    for content in [
        &b""[..],
        b"<worksheet><sheetData><row><c r=\"A1\"",
        b"\xff\xfe\x00garbage",
        b"<worksheet/>",
    ] {
        assert!(!unreadable(&replace_entry(&sample(), sheet, content)).is_empty());
    }
    let missing = replace_entry(&sample(), "xl/workbook.xml", b"<workbook/>");
    let _ = parse(&missing, None, at());
}

#[test]
fn mutated_worksheet_xml_never_panics() {
    let mut rng = XorShift(7);
    let rows = r#"<row r="1"><c r="A1" t="inlineStr"><is><t>study_uid</t></is></c><c r="B1" t="inlineStr"><is><t>prob@x</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>1</t></is></c><c r="B2" s="0"><v>0.5</v></c></row>"#;
    for _ in 0..200 {
        let mut bytes = rows.as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            let i = rng.below(bytes.len());
            bytes[i] = b"<>/=\"r0123456789ABXFDevtcs#!-.e "[rng.below(32)];
        }
        let _ = parse(
            &with_sheet_data(&String::from_utf8_lossy(&bytes)),
            None,
            at(),
        );
    }
}

#[test]
fn hostile_cell_values_never_panic() {
    // Non-finite and out-of-range serials in date-formatted and plain cells.
    let body = r#"<row r="1"><c r="A1" t="inlineStr"><is><t>study_uid</t></is></c><c r="B1" t="inlineStr"><is><t>x</t></is></c><c r="C1" t="inlineStr"><is><t>probability_of_pathology</t></is></c></row>
<row r="2"><c r="A2"><v>-inf</v></c><c r="B2" t="d"><v>not a date</v></c><c r="C2"><v>NaN</v></c></row>
<row r="3"><c r="A3"><v>1e308</v></c><c r="B3" t="b"><v>1</v></c><c r="C3"><v>inf</v></c></row>"#;
    let rows = parse_ok(&with_sheet_data(body)).rows;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].study_uid, None);
    assert_eq!(rows[0].probability_of_pathology, None);
}

#[test]
fn the_widest_possible_header_is_read() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "study_uid").unwrap();
    sheet.write_string(1, 0, "1.2").unwrap();
    for c in 1..16_384u16 {
        sheet.write_string(0, c, format!("metric_{c}")).unwrap();
        sheet.write_number(1, c, c).unwrap();
    }
    let rows = parse_ok(&workbook.save_to_buffer().unwrap()).rows;
    assert_eq!(rows[0].extra.len(), 16_383);
    assert_eq!(rows[0].extra["metric_16383"], serde_json::json!(16383));
}

#[test]
fn far_apart_cells_do_not_allocate_the_bounding_box() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "study_uid").unwrap();
    sheet.write_string(1, 0, "1.2").unwrap();
    sheet.write_string(1_048_575, 16_383, "far away").unwrap();
    let bytes = workbook.save_to_buffer().unwrap();
    let started = Instant::now();
    let rows = parse_ok(&bytes).rows;
    assert!(started.elapsed() < Duration::from_secs(5));
    // The far cell has no header, so its row is empty.
    assert_eq!(rows.len(), 1);
}

#[test]
fn references_beyond_excel_limits_never_panic() {
    // calamine does not bound column letters; the sparse grid copes with any position.
    let body = r#"<row r="1"><c r="XFE1" t="inlineStr"><is><t>study_uid</t></is></c></row>
<row r="2"><c r="XFE2" t="inlineStr"><is><t>1.2</t></is></c></row>"#;
    assert_eq!(
        parse_ok(&with_sheet_data(body)).rows[0]
            .study_uid
            .as_deref(),
        Some("1.2")
    );
    // These overflow calamine's u32 arithmetic: a panic with overflow checks on, which must come
    // back as Unreadable, and wrapped positions without them.
    for reference in ["ZZZZZZZZZZZZZZ1", "A99999999999"] {
        let body = format!(
            r#"<row r="1"><c r="{reference}" t="inlineStr"><is><t>study_uid</t></is></c></row>"#
        );
        let outcome = parse(&with_sheet_data(&body), None, at());
        if cfg!(debug_assertions) {
            assert!(
                matches!(outcome, Err(ReportError::Unreadable(_))),
                "{reference}: {outcome:?}"
            );
        }
    }
}
