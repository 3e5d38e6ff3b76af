//! The combined report on disk: XLSX (the LCT deliverable, `triage-report`'s writer), CSV, or the
//! results JSON of report.md; and reading an earlier output back for `--resume`.
//!
//! Every write replaces the file atomically (a temporary file in the same folder, then a
//! rename), so an interrupted run leaves the previous complete report, never half a file.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use chrono::Utc;
use triage_domain::ReportPayload;
use triage_report::{COLUMNS, Cell, ProcessingStatus, SeriesRow};

use crate::BatchError;
use crate::rows::from_report_row;

/// The output formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
    Json,
}

impl Format {
    /// From `--format`, or else from the output's extension (XLSX when it says nothing).
    pub fn for_output(explicit: Option<Format>, path: &Path) -> Format {
        explicit.unwrap_or_else(|| {
            match path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("csv") => Format::Csv,
                Some("json") => Format::Json,
                _ => Format::Xlsx,
            }
        })
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "xlsx" => Ok(Self::Xlsx),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "unknown format {other:?} (expected xlsx, csv or json)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Xlsx => "xlsx",
            Self::Csv => "csv",
            Self::Json => "json",
        })
    }
}

/// Writes `rows` to `path` in `format`, replacing it atomically.
pub fn write(
    path: &Path,
    format: Format,
    rows: &[SeriesRow],
    threshold: Option<f64>,
) -> Result<(), BatchError> {
    let bytes = match format {
        Format::Xlsx => triage_report::write(rows)?,
        Format::Csv => csv_bytes(rows)?,
        Format::Json => {
            let xlsx = triage_report::write(rows)?;
            let payload = triage_report::parse(&xlsx, threshold, Utc::now())?;
            serde_json::to_vec_pretty(&payload).map_err(|e| BatchError::Output(e.to_string()))?
        }
    };
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut file = tempfile::NamedTempFile::new_in(folder).map_err(|e| BatchError::io(path, e))?;
    file.write_all(&bytes)
        .map_err(|e| BatchError::io(path, e))?;
    file.as_file()
        .sync_all()
        .map_err(|e| BatchError::io(path, e))?;
    file.persist(path)
        .map_err(|e| BatchError::io(path, e.error))?;
    Ok(())
}

/// Reads an output written earlier in `format`.
pub fn read(path: &Path, format: Format) -> Result<Vec<SeriesRow>, BatchError> {
    let bytes = std::fs::read(path).map_err(|e| BatchError::io(path, e))?;
    let unreadable = |e: String| BatchError::Resume(format!("{}: {e}", path.display()));
    match format {
        Format::Xlsx => {
            let payload = triage_report::parse(&bytes, None, Utc::now())
                .map_err(|e| unreadable(e.to_string()))?;
            Ok(payload.rows.iter().map(from_report_row).collect())
        }
        Format::Json => {
            let payload: ReportPayload =
                serde_json::from_slice(&bytes).map_err(|e| unreadable(e.to_string()))?;
            Ok(payload.rows.iter().map(from_report_row).collect())
        }
        Format::Csv => read_csv(&bytes).map_err(unreadable),
    }
}

const ERROR: &str = "error";

fn csv_bytes(rows: &[SeriesRow]) -> Result<Vec<u8>, BatchError> {
    let mut extras: Vec<&str> = Vec::new();
    let mut seen = HashSet::new();
    for (name, _) in rows.iter().flat_map(|r| &r.extra) {
        if seen.insert(name.as_str()) {
            extras.push(name);
        }
    }
    let mut out = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| BatchError::Output(e.to_string());
    let header: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .chain([ERROR])
        .chain(extras.iter().copied())
        .collect();
    out.write_record(&header).map_err(failed)?;
    for row in rows {
        let number = |v: Option<f64>| {
            v.filter(|v| v.is_finite())
                .map_or_else(String::new, |v| v.to_string())
        };
        let mut record = vec![
            row.path_to_study.clone(),
            row.study_uid.clone(),
            row.series_uid.clone(),
            number(row.probability_of_pathology),
            row.pathology
                .map_or_else(String::new, |p| u8::from(p).to_string()),
            row.processing_status.as_str().to_owned(),
            number(Some(row.time_of_processing)),
            row.most_dangerous_pathology_type
                .clone()
                .unwrap_or_default(),
            row.pathology_localization.clone().unwrap_or_default(),
            row.error.clone().unwrap_or_default(),
        ];
        for name in &extras {
            let cell = row.extra.iter().find(|(n, _)| n == name).map(|(_, c)| c);
            record.push(match cell {
                Some(Cell::Number(n)) => number(Some(*n)),
                Some(Cell::Text(t)) => t.clone(),
                Some(Cell::Bool(b)) => u8::from(*b).to_string(),
                Some(Cell::Empty) | None => String::new(),
            });
        }
        out.write_record(&record).map_err(failed)?;
    }
    out.into_inner()
        .map_err(|e| BatchError::Output(e.to_string()))
}

fn read_csv(bytes: &[u8]) -> Result<Vec<SeriesRow>, String> {
    let mut reader = csv::Reader::from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_owned)
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        let mut row = crate::rows::failure_row("", "", "");
        row.error = None;
        for (name, value) in header.iter().zip(record.iter()) {
            let text = || (!value.is_empty()).then(|| value.to_owned());
            let number = || value.parse::<f64>().ok();
            match name.as_str() {
                "path_to_study" => row.path_to_study = value.to_owned(),
                "study_uid" => row.study_uid = value.to_owned(),
                "series_uid" => row.series_uid = value.to_owned(),
                "probability_of_pathology" => row.probability_of_pathology = number(),
                "pathology" => row.pathology = number().map(|n| n != 0.0),
                "processing_status" => {
                    row.processing_status = if value.eq_ignore_ascii_case("success") {
                        ProcessingStatus::Success
                    } else {
                        ProcessingStatus::Failure
                    }
                }
                "time_of_processing" => row.time_of_processing = number().unwrap_or(0.0),
                "most_dangerous_pathology_type" => row.most_dangerous_pathology_type = text(),
                "pathology_localization" => row.pathology_localization = text(),
                ERROR => row.error = text(),
                other => row.extra.push((
                    other.to_owned(),
                    match (value.is_empty(), number()) {
                        (true, _) => Cell::Empty,
                        (false, Some(n)) => Cell::Number(n),
                        (false, None) => Cell::Text(value.to_owned()),
                    },
                )),
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::failure_row;

    fn sample() -> Vec<SeriesRow> {
        let mut ok = failure_row("a/b", "1.2", "");
        ok.error = None;
        ok.series_uid = "1.2.3".to_owned();
        ok.processing_status = ProcessingStatus::Success;
        ok.probability_of_pathology = Some(0.75);
        ok.pathology = Some(true);
        ok.time_of_processing = 1.5;
        ok.extra = vec![
            ("laa950_percent".to_owned(), Cell::Number(12.5)),
            (
                "engine".to_owned(),
                Cell::Text("triage-engine, with a comma".to_owned()),
            ),
        ];
        let mut bad = failure_row("c.zip", "", "invalid ZIP archive");
        bad.extra = vec![
            ("laa950_percent".to_owned(), Cell::Empty),
            ("engine".to_owned(), Cell::Empty),
        ];
        vec![ok, bad]
    }

    #[test]
    fn every_format_reads_back_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        for format in [Format::Xlsx, Format::Csv, Format::Json] {
            let path = dir.path().join(format!("report.{format}"));
            write(&path, format, &sample(), Some(0.25)).unwrap();
            let back = read(&path, format).unwrap();
            assert_eq!(back.len(), 2, "{format}");
            assert_eq!(back[0].study_uid, "1.2", "{format}");
            assert_eq!(back[0].probability_of_pathology, Some(0.75), "{format}");
            assert_eq!(back[0].pathology, Some(true), "{format}");
            assert_eq!(back[0].time_of_processing, 1.5, "{format}");
            assert_eq!(
                back[1].processing_status,
                ProcessingStatus::Failure,
                "{format}"
            );
            assert_eq!(
                back[1].error.as_deref(),
                Some("invalid ZIP archive"),
                "{format}"
            );
            assert_eq!(back[1].path_to_study, "c.zip", "{format}");
        }
    }

    #[test]
    fn format_follows_the_extension_unless_given() {
        assert_eq!(Format::for_output(None, Path::new("r.CSV")), Format::Csv);
        assert_eq!(Format::for_output(None, Path::new("r")), Format::Xlsx);
        assert_eq!(
            Format::for_output(Some(Format::Json), Path::new("r.csv")),
            Format::Json
        );
        assert!("pdf".parse::<Format>().is_err());
    }
}
