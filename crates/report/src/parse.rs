//! XLSX bytes → `ReportPayload`, following report.md's parsing rules.

mod cells;
mod row;
mod sheet;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use triage_domain::{ReportPayload, ReportSummary};

use crate::ReportError;
use crate::columns::Header;

/// Parses an XLSX report held in memory (the caller enforces the size limit).
/// `threshold` goes into the summary; `parsed_at` into the payload.
///
/// The first worksheet is read; row 1 is the header. A sheet without any value gives zero rows,
/// but a header naming neither `study_uid` nor a probability column is
/// [`ReportError::MissingColumns`] — even when row 1 is blank and later rows are not. Rows with
/// no value under any (non-blank, first-occurrence) header are skipped.
pub fn parse(
    xlsx: &[u8],
    threshold: Option<f64>,
    parsed_at: DateTime<Utc>,
) -> Result<ReportPayload, ReportError> {
    let mut grid = sheet::read_first_worksheet(xlsx)?;
    let rows = if grid.is_empty() {
        Vec::new()
    } else {
        let header_cells = grid.remove(&0).unwrap_or_default();
        let header = Header::new(&header_texts(&header_cells));
        if !header.is_usable() {
            return Err(ReportError::MissingColumns);
        }
        grid.values()
            .filter_map(|cells| row::build(&header, cells))
            .collect()
    };
    Ok(ReportPayload {
        parsed_at,
        summary: ReportSummary::of(&rows, threshold),
        rows,
    })
}

fn header_texts(cells: &BTreeMap<u32, calamine::Data>) -> BTreeMap<u32, String> {
    cells
        .iter()
        .filter_map(|(&column, data)| Some((column, cells::text(data)?)))
        .collect()
}
