//! Reads the non-blank cells of the first worksheet into a sparse grid.
//!
//! calamine's `worksheet_range` allocates the dense bounding box of the used cells, so a
//! few-kilobyte file with cells in `A1` and `XFD1048576` would ask for 17 billion cells. Streaming
//! the cells and keeping only non-blank ones bounds memory by what the file actually contains.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

use calamine::{Data, Reader, SheetType, Xlsx, XlsxError};

use super::cells;
use crate::ReportError;

/// Rows → columns → value, 0-based, blank cells left out.
pub(super) type Grid = BTreeMap<u32, BTreeMap<u32, Data>>;

/// Far beyond any real report (≈ 20 000 series × 100 columns); past it the file is treated as
/// hostile rather than risking the process's memory.
const MAX_CELLS: usize = 2_000_000;

pub(super) fn read_first_worksheet(xlsx: &[u8]) -> Result<Grid, ReportError> {
    // The zip, XML and number parsers below us see untrusted bytes; a panic in any of them must
    // become a failed report, not a failed worker.
    catch_unwind(AssertUnwindSafe(|| read(xlsx))).unwrap_or_else(|_| {
        Err(unreadable(
            "the XLSX reader failed on this file (it is probably corrupt)",
        ))
    })
}

fn read(xlsx: &[u8]) -> Result<Grid, ReportError> {
    let mut workbook = Xlsx::new(Cursor::new(xlsx)).map_err(unreadable)?;
    let name = workbook
        .sheets_metadata()
        .iter()
        .find(|sheet| sheet.typ == SheetType::WorkSheet)
        .map(|sheet| sheet.name.clone())
        .ok_or_else(|| unreadable("the workbook has no worksheet"))?;
    let mut reader = workbook.worksheet_cells_reader(&name).map_err(unreadable)?;
    let mut grid = Grid::new();
    let mut count = 0usize;
    loop {
        let cell = match reader.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            // Error codes newer than calamine's list (#SPILL!, #CALC!, …) are error cells, which
            // count as empty; the reader has consumed the value and can go on.
            Err(XlsxError::CellError(_)) => {
                count = counted(count)?;
                continue;
            }
            Err(e) => return Err(unreadable(e)),
        };
        let data = Data::from(cell.get_value().clone());
        if cells::is_blank(&data) {
            continue;
        }
        count = counted(count)?;
        let (row, column) = cell.get_position();
        // A cell written twice keeps its first value, like a duplicated header.
        grid.entry(row).or_default().entry(column).or_insert(data);
    }
    Ok(grid)
}

fn counted(count: usize) -> Result<usize, ReportError> {
    if count >= MAX_CELLS {
        return Err(unreadable(format!(
            "the first worksheet has more than {MAX_CELLS} non-empty cells"
        )));
    }
    Ok(count + 1)
}

fn unreadable(why: impl ToString) -> ReportError {
    ReportError::Unreadable(why.to_string())
}
