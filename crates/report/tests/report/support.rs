//! Builders for test workbooks.

use std::io::{Cursor, Read, Write};

use chrono::{DateTime, TimeZone, Utc};
use rust_xlsxwriter::{Formula, Workbook, Worksheet};
use triage_domain::{ReportPayload, ReportRow};
use triage_report::{ReportError, parse};

/// A cell of a test sheet.
#[derive(Debug, Clone, Copy)]
pub enum V {
    S(&'static str),
    N(f64),
    B(bool),
    /// A formula whose cached result is this Excel error, e.g. `#DIV/0!`.
    E(&'static str),
    Blank,
}

pub fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 15, 28, 27)
        .single()
        .unwrap()
}

/// One worksheet: `header` in row 1, then `rows`.
pub fn xlsx(header: &[&str], rows: &[&[V]]) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    fill(sheet, header, rows);
    workbook.save_to_buffer().unwrap()
}

pub fn fill(sheet: &mut Worksheet, header: &[&str], rows: &[&[V]]) {
    for (c, name) in header.iter().enumerate() {
        if !name.is_empty() {
            sheet.write_string(0, c as u16, *name).unwrap();
        }
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match *cell {
                V::S(s) => drop(sheet.write_string(r, c, s).unwrap()),
                V::N(n) => drop(sheet.write_number(r, c, n).unwrap()),
                V::B(b) => drop(sheet.write_boolean(r, c, b).unwrap()),
                V::E(e) => drop(
                    sheet
                        .write_formula(r, c, Formula::new("=1/0").set_result(e))
                        .unwrap(),
                ),
                V::Blank => {}
            }
        }
    }
}

pub fn parse_ok(bytes: &[u8]) -> ReportPayload {
    parse(bytes, Some(0.25), at()).unwrap()
}

pub fn parse_err(bytes: &[u8]) -> ReportError {
    parse(bytes, Some(0.25), at()).unwrap_err()
}

/// The rows of a sheet with this header and these rows.
pub fn rows(header: &[&str], rows: &[&[V]]) -> Vec<ReportRow> {
    parse_ok(&xlsx(header, rows)).rows
}

/// The only row of a sheet with this header and this row.
pub fn row(header: &[&str], cells: &[V]) -> ReportRow {
    let mut parsed = rows(header, &[cells]);
    assert_eq!(parsed.len(), 1, "{parsed:?}");
    parsed.remove(0)
}

/// Rebuilds an XLSX (a zip) with the entry `name` replaced by `content`.
pub fn replace_entry(xlsx: &[u8], name: &str, content: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let entry_name = entry.name().unwrap().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        out.start_file(entry_name.as_str(), options).unwrap();
        out.write_all(if entry_name == name { content } else { &data })
            .unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// An XLSX whose first worksheet is exactly this `<sheetData>` body.
pub fn with_sheet_data(sheet_data: &str) -> Vec<u8> {
    let sheet = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#
    );
    replace_entry(
        &xlsx(&[], &[]),
        "xl/worksheets/sheet1.xml",
        sheet.as_bytes(),
    )
}

/// A small deterministic generator, so the fuzz-ish tests need no extra dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
