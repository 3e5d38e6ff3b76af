//! The ground truth as a labels file: CSV (comma, semicolon or tab separated, UTF-8 with or
//! without BOM) or XLSX (the first worksheet), with a header row naming the study column
//! (`study_uid`, or `study_instance_uid`/`studyinstanceuid`) and the label column (`label`, or
//! its aliases `pathology`, `ground_truth`), optionally a `finding` column. Labels are
//! 0/1, true/false, yes/no, normal/pathology (also abnormal), да/нет, compared case-insensitively.

use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader, Xlsx};
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// One labelled study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub study_uid: String,
    /// `true` = pathology.
    pub pathology: bool,
    pub finding: Option<String>,
}

const STUDY: [&str; 3] = ["study_uid", "study_instance_uid", "studyinstanceuid"];
const LABEL: [&str; 3] = ["label", "pathology", "ground_truth"];
const FINDING: &str = "finding";

/// More rows than any labelled set; beyond it the file is treated as hostile.
const MAX_ROWS: usize = 5_000_000;

/// Parses a labels file, recognising XLSX by its ZIP signature and reading anything else as
/// CSV.
///
/// # Errors
/// [`EvalError::Labels`] for an unreadable file, a missing column, an unknown label value or
/// an empty study id (with the 1-based line); [`EvalError::DuplicateStudy`]; [`EvalError::Empty`]
/// when no row is labelled.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<Label>, EvalError> {
    let rows = if bytes.starts_with(b"PK\x03\x04") {
        xlsx_rows(bytes)?
    } else {
        csv_rows(bytes)?
    };
    labels_from_rows(rows)
}

fn labels_from_rows(mut rows: Vec<Vec<String>>) -> Result<Vec<Label>, EvalError> {
    if rows.is_empty() {
        return Err(EvalError::Empty);
    }
    let header: Vec<String> = rows
        .remove(0)
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| header.iter().position(|h| h == n))
    };
    let study = find(&STUDY)
        .ok_or_else(|| EvalError::labels(Some(1), "the header has no study_uid column"))?;
    let label = find(&LABEL).ok_or_else(|| {
        EvalError::labels(
            Some(1),
            "the header has no label column (label, pathology or ground_truth)",
        )
    })?;
    let finding = find(&[FINDING]);
    let mut seen = HashSet::new();
    let mut labels = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        let line = index as u64 + 2;
        let cell = |column: usize| row.get(column).map(|v| v.trim()).unwrap_or("");
        if row.iter().all(|v| v.trim().is_empty()) {
            continue;
        }
        let study_uid = cell(study);
        if study_uid.is_empty() {
            return Err(EvalError::labels(Some(line), "the study_uid is empty"));
        }
        let pathology = parse_label(cell(label)).ok_or_else(|| {
            EvalError::labels(
                Some(line),
                format!(
                    "{:?} is not a label (use 0/1, true/false, yes/no, normal/pathology, да/нет)",
                    cell(label)
                ),
            )
        })?;
        if !seen.insert(study_uid.to_owned()) {
            return Err(EvalError::DuplicateStudy {
                study: study_uid.to_owned(),
                source_name: "labels",
            });
        }
        labels.push(Label {
            study_uid: study_uid.to_owned(),
            pathology,
            finding: finding
                .map(cell)
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
        });
    }
    if labels.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(labels)
}

/// `Some(true)` for pathology, `Some(false)` for normal.
fn parse_label(value: &str) -> Option<bool> {
    match value.trim().to_lowercase().as_str() {
        "1" | "1.0" | "true" | "yes" | "pathology" | "abnormal" | "да" => Some(true),
        "0" | "0.0" | "false" | "no" | "normal" | "нет" => Some(false),
        _ => None,
    }
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, EvalError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| EvalError::labels(None, "neither an XLSX workbook nor UTF-8 CSV text"))?;
    let text = text.trim_start_matches('\u{feff}');
    let first_line = text.lines().next().unwrap_or("");
    // Spreadsheets in locales with a decimal comma export with semicolons.
    let delimiter = [b'\t', b';', b',']
        .into_iter()
        .find(|&d| first_line.as_bytes().contains(&d))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record
            .map_err(|err| EvalError::labels(err.position().map(|p| p.line()), err.to_string()))?;
        if rows.len() >= MAX_ROWS {
            return Err(EvalError::labels(None, "too many rows"));
        }
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(rows)
}

fn xlsx_rows(bytes: &[u8]) -> Result<Vec<Vec<String>>, EvalError> {
    // calamine parses untrusted bytes; a panic in it must be a refused file.
    catch_unwind(AssertUnwindSafe(|| read_xlsx(bytes))).unwrap_or_else(|_| {
        Err(EvalError::labels(
            None,
            "the XLSX reader failed on this file (it is probably corrupt)",
        ))
    })
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, EvalError> {
    let unreadable = |err: calamine::XlsxError| EvalError::labels(None, err.to_string());
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let name = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| EvalError::labels(None, "the workbook has no worksheet"))?;
    let mut reader = workbook.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut cells = 0usize;
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, column) = cell.get_position();
        let (row, column) = (row as usize, column as usize);
        cells += 1;
        if row >= MAX_ROWS || column > 64 || cells > MAX_ROWS * 4 {
            return Err(EvalError::labels(
                None,
                "the worksheet is too large for a labels file",
            ));
        }
        let value = text(&Data::from(cell.get_value().clone()));
        if value.is_empty() {
            continue;
        }
        if rows.len() <= row {
            rows.resize(row + 1, Vec::new());
        }
        let cells_of_row = &mut rows[row];
        if cells_of_row.len() <= column {
            cells_of_row.resize(column + 1, String::new());
        }
        cells_of_row[column] = value;
    }
    // A header in a later row than 1 is still the header: leading blank rows are dropped.
    let first = rows
        .iter()
        .position(|r| !r.is_empty())
        .unwrap_or(rows.len());
    Ok(rows.split_off(first))
}

fn text(data: &Data) -> String {
    match data {
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_values_in_every_spelling() {
        let csv = "\u{feff}Study_UID;Ground_Truth;finding\n1.2.3;да;nodule\n1.2.4;нет;\n1.2.5;Pathology;\n1.2.6;normal;\n1.2.7;1;\n1.2.8;FALSE;\n\n";
        let labels = parse_labels(csv.as_bytes()).unwrap();
        let truth: Vec<bool> = labels.iter().map(|l| l.pathology).collect();
        assert_eq!(truth, [true, false, true, false, true, false]);
        assert_eq!(labels[0].finding.as_deref(), Some("nodule"));
        assert_eq!(labels[1].finding, None);
    }

    #[test]
    fn refusals_name_the_line() {
        let bad_value = parse_labels(b"study_uid,label\na,1\nb,maybe\n").unwrap_err();
        assert!(
            matches!(bad_value, EvalError::Labels { line: Some(3), .. }),
            "{bad_value:?}"
        );
        let duplicate = parse_labels(b"study_uid,pathology\na,1\na,0\n").unwrap_err();
        assert!(matches!(duplicate, EvalError::DuplicateStudy { .. }));
        let no_label = parse_labels(b"study_uid,score\na,1\n").unwrap_err();
        assert!(matches!(no_label, EvalError::Labels { line: Some(1), .. }));
        assert_eq!(
            parse_labels(b"study_uid,label\n").unwrap_err(),
            EvalError::Empty
        );
        assert_eq!(parse_labels(b"").unwrap_err(), EvalError::Empty);
        assert!(parse_labels(&[0xff, 0xfe, 0x00]).is_err());
        assert!(parse_labels(b"PK\x03\x04garbage").is_err());
    }
}
