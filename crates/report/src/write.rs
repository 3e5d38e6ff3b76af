//! The report triage's own engine writes: report.md's columns, `error`, then engine metrics.

use std::collections::{HashMap, HashSet};

use rust_xlsxwriter::{ColNum, RowNum, Workbook, Worksheet};

use crate::ReportError;
use crate::columns::{COLUMNS, ERROR, is_written_column, normalise};

/// How the analysis of one series ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcessingStatus {
    Success,
    Failure,
}

impl ProcessingStatus {
    /// The spelling report.md uses in `processing_status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::Failure => "Failure",
        }
    }
}

/// One extra cell. Non-finite numbers are written as empty cells: Excel has no NaN or infinity.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Number(f64),
    Text(String),
    Bool(bool),
    Empty,
}

/// A row the engine writes.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    pub path_to_study: String,
    pub study_uid: String,
    pub series_uid: String,
    pub probability_of_pathology: Option<f64>,
    pub pathology: Option<bool>,
    pub processing_status: ProcessingStatus,
    /// Seconds.
    pub time_of_processing: f64,
    pub most_dangerous_pathology_type: Option<String>,
    /// `x_min,x_max,y_min,y_max,z_min,z_max`.
    pub pathology_localization: Option<String>,
    pub error: Option<String>,
    /// Extra columns in order, e.g. `("laa950_percent", Cell::Number(3.2))`.
    pub extra: Vec<(String, Cell)>,
}

/// Writes the report: the first (only) worksheet, header row 1 with [`COLUMNS`] in order, then
/// `error`, then the union of extra column names in first-seen order; one row per [`SeriesRow`];
/// `pathology` as the number 0/1; empty cells for `None`.
///
/// Extra names are matched like the parser matches headers (trimmed, case-insensitive): the first
/// spelling seen names the column, and within a row the first value for a name wins. A blank
/// extra name, or one that repeats a written column (`study_uid`, `error`, …), is an error because
/// the parser would drop it. An extra named like a parser alias (`processing_time`, `anom_score`,
/// …) is read back into that field rather than into `extra`.
pub fn write(rows: &[SeriesRow]) -> Result<Vec<u8>, ReportError> {
    let extras = extra_columns(rows)?;
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("report").map_err(failed)?;

    let names = COLUMNS
        .iter()
        .copied()
        .chain([ERROR])
        .chain(extras.iter().map(String::as_str));
    for (index, name) in names.enumerate() {
        sheet
            .write_string(0, column(index)?, name)
            .map_err(failed)?;
    }
    let extra_at: HashMap<String, ColNum> = extras
        .iter()
        .enumerate()
        .map(|(i, name)| Ok((normalise(name), column(COLUMNS.len() + 1 + i)?)))
        .collect::<Result<_, ReportError>>()?;

    for (index, row) in rows.iter().enumerate() {
        let at = RowNum::try_from(index + 1).map_err(|_| too_many_rows())?;
        write_row(sheet, at, row, &extra_at)?;
    }
    workbook.save_to_buffer().map_err(failed)
}

fn write_row(
    sheet: &mut Worksheet,
    at: RowNum,
    row: &SeriesRow,
    extra_at: &HashMap<String, ColNum>,
) -> Result<(), ReportError> {
    let fixed = [
        Cell::Text(row.path_to_study.clone()),
        Cell::Text(row.study_uid.clone()),
        Cell::Text(row.series_uid.clone()),
        row.probability_of_pathology
            .map_or(Cell::Empty, Cell::Number),
        row.pathology
            .map_or(Cell::Empty, |p| Cell::Number(f64::from(u8::from(p)))),
        Cell::Text(row.processing_status.as_str().to_owned()),
        Cell::Number(row.time_of_processing),
        row.most_dangerous_pathology_type
            .clone()
            .map_or(Cell::Empty, Cell::Text),
        row.pathology_localization
            .clone()
            .map_or(Cell::Empty, Cell::Text),
        row.error.clone().map_or(Cell::Empty, Cell::Text),
    ];
    for (index, cell) in fixed.iter().enumerate() {
        write_cell(sheet, at, column(index)?, cell)?;
    }
    let mut seen = HashSet::new();
    for (name, cell) in &row.extra {
        let key = normalise(name);
        if let Some(&col) = extra_at.get(&key)
            && seen.insert(key)
        {
            write_cell(sheet, at, col, cell)?;
        }
    }
    Ok(())
}

fn write_cell(
    sheet: &mut Worksheet,
    row: RowNum,
    col: ColNum,
    cell: &Cell,
) -> Result<(), ReportError> {
    match cell {
        Cell::Number(n) if n.is_finite() => sheet.write_number(row, col, *n).map(drop),
        // write_string, never write: text starting with '=' must stay text, not become a formula.
        Cell::Text(t) if !t.is_empty() => sheet.write_string(row, col, t).map(drop),
        Cell::Bool(b) => sheet.write_boolean(row, col, *b).map(drop),
        Cell::Number(_) | Cell::Text(_) | Cell::Empty => Ok(()),
    }
    .map_err(failed)
}

/// The union of extra names, first spelling and first position winning.
fn extra_columns(rows: &[SeriesRow]) -> Result<Vec<String>, ReportError> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for (name, _) in rows.iter().flat_map(|row| &row.extra) {
        let key = normalise(name);
        if key.is_empty() {
            return Err(ReportError::Write(
                "an extra column has a blank name".to_owned(),
            ));
        }
        if is_written_column(&key) {
            return Err(ReportError::Write(format!(
                "the extra column {name:?} repeats a report column"
            )));
        }
        if seen.insert(key) {
            names.push(name.trim().to_owned());
        }
    }
    Ok(names)
}

fn column(index: usize) -> Result<ColNum, ReportError> {
    // rust_xlsxwriter rejects columns past XFD itself; this only guards the narrowing.
    ColNum::try_from(index).map_err(|_| ReportError::Write(format!("too many columns ({index})")))
}

fn too_many_rows() -> ReportError {
    ReportError::Write("too many rows for one worksheet".to_owned())
}

fn failed(e: rust_xlsxwriter::XlsxError) -> ReportError {
    ReportError::Write(e.to_string())
}
