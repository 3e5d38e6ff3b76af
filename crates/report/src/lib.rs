//! The per-study XLSX report (the contract in report.md): a parser (calamine) that turns whatever
//! an ML service wrote into the domain's `ReportPayload`, and a writer (rust_xlsxwriter) for the
//! rows triage's own engine produces.
//!
//! Pure and synchronous: no I/O beyond the byte buffers it is handed, no async, no framework. It
//! may depend on `triage-domain`, `calamine`, `rust_xlsxwriter`, `chrono`, `serde_json` and
//! `thiserror` only.
//!
//! The parser is forgiving where the old Python parser was fragile (duplicate or blank headers,
//! empty sheets, 0/1 `pathology`, `*_percent` columns, `prob@anomaly` in the "most dangerous"
//! choice) and never panics on hostile input: it answers [`ReportError::Unreadable`] instead.

mod columns;
mod parse;
mod write;

pub use columns::COLUMNS;
pub use parse::parse;
pub use write::{Cell, ProcessingStatus, SeriesRow, write};

/// Why a report could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not an XLSX workbook, no worksheet, corrupt or oversized content; the message is for humans.
    #[error("the report is not a readable XLSX workbook: {0}")]
    Unreadable(String),
    /// The header names neither `study_uid` nor `probability_of_pathology` (nor its alias).
    #[error("the report has neither a study_uid nor a probability_of_pathology column")]
    MissingColumns,
    /// The writer failed, for example on an extra column that clashes with a report column.
    #[error("the report could not be written: {0}")]
    Write(String),
}
