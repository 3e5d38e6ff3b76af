//! Validating a ZIP from its central directory, then inventorying it entry by entry.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use triage_domain::{ArchiveInventory, FileType, ZipEntry, ZipSummary};
use zip::{CompressionMethod, ZipArchive};

use crate::detect::{DICOM_MAGIC_END, has_dicom_magic, read_up_to};
use crate::dicom_header::{HEADER_CAP, HeaderInfo, read_header};
use crate::dicom_summary::DicomTally;
use crate::{ArchiveError, Limits, central_dir, content_type, names};

/// One central directory record, as far as the checks and the inventory care.
struct Meta {
    /// Decoded name (UTF-8, or CP437 for legacy archives).
    name: String,
    /// Escaped for messages.
    shown: String,
    size: u64,
    compressed: u64,
    encrypted: bool,
    is_dir: bool,
    method: CompressionMethod,
    modified: Option<String>,
}

/// Validate + inventory a ZIP file on disk. Reads the end records and the central directory,
/// refuses the archive on the first failed rule (cheapest first), and only then reads, per file
/// entry, its first bytes and at most its DICOM header.
pub fn inspect_zip(path: &Path, limits: &Limits) -> Result<ArchiveInventory, ArchiveError> {
    let mut file = File::open(path)?;
    let declared = central_dir::declared_entries(&mut file)?;
    check_count(declared, limits)?;
    let mut archive = ZipArchive::new(BufReader::new(file)).map_err(ArchiveError::from_zip)?;
    let metas = read_directory(&archive)?;
    check_directory(&metas, limits)?;
    central_dir::check_stored_names(path, archive.central_directory_start(), limits)?;
    if archive.has_duplicate_names() {
        // Stored names were all distinct, so Unicode Path fields made two of them collide.
        return Err(ArchiveError::Unreadable(
            "the archive lists the same file name more than once".to_owned(),
        ));
    }
    check_methods(&metas)?;
    // Local headers must agree with the directory, entries must not overlap, and no local header
    // may hide between them: a streaming extractor reads local headers, not the directory, and
    // would otherwise unpack names and data we never checked.
    archive
        .validate_header_consistency()
        .map_err(ArchiveError::from_zip)?;

    let mut tally = DicomTally::default();
    let mut entries = Vec::with_capacity(metas.len());
    for (index, meta) in metas.iter().enumerate().filter(|(_, m)| !m.is_dir) {
        let is_dicom = match probe(&mut archive, index, meta)? {
            Probe::Dicom(header) => {
                tally.add(header);
                true
            }
            Probe::NotDicom => false,
        };
        entries.push(ZipEntry {
            filename: meta.name.clone(),
            size: meta.size,
            compressed_size: meta.compressed,
            compression_ratio: percent_saved(meta.size, meta.compressed),
            modified_time: meta.modified.clone(),
            is_encrypted: meta.encrypted,
            content_type: content_type::guess(&meta.name, is_dicom).to_owned(),
            is_dicom,
        });
    }

    let total_size = entries
        .iter()
        .map(|e| e.size)
        .fold(0u64, u64::saturating_add);
    let total_compressed = entries
        .iter()
        .map(|e| e.compressed_size)
        .fold(0u64, u64::saturating_add);
    let comment = String::from_utf8_lossy(archive.comment()).into_owned();
    Ok(ArchiveInventory {
        file_type: FileType::Zip,
        zip: Some(ZipSummary {
            total_files: entries.len() as u64,
            total_size,
            total_compressed_size: total_compressed,
            compression_ratio: percent_saved(total_size, total_compressed),
            is_encrypted: false,
            comment: (!comment.is_empty()).then_some(comment),
        }),
        entries,
        dicom: tally.finish(),
    })
}

fn read_directory<R: Read + Seek>(archive: &ZipArchive<R>) -> Result<Vec<Meta>, ArchiveError> {
    (0..archive.len())
        .map(|index| {
            let entry = archive
                .by_index_data(index)
                .map_err(ArchiveError::from_zip)?;
            let name = entry.name().map_err(ArchiveError::from_zip)?.into_owned();
            Ok(Meta {
                shown: names::for_display(name.as_bytes()),
                name,
                size: entry.size(),
                compressed: entry.compressed_size(),
                encrypted: entry.encrypted(),
                is_dir: entry.is_dir(),
                method: entry.compression(),
                modified: entry.last_modified().and_then(dos_time_text),
            })
        })
        .collect()
}

fn check_count(count: u64, limits: &Limits) -> Result<(), ArchiveError> {
    if count > limits.max_entries {
        return Err(ArchiveError::TooManyEntries {
            count,
            limit: limits.max_entries,
        });
    }
    Ok(())
}

/// The rules that need nothing but the central directory, in the order of the API spec.
fn check_directory(metas: &[Meta], limits: &Limits) -> Result<(), ArchiveError> {
    check_count(metas.len() as u64, limits)?;
    if let Some(meta) = metas.iter().find(|m| m.encrypted) {
        return Err(ArchiveError::Encrypted {
            entry: meta.shown.clone(),
        });
    }
    // Directories count too: a "directory" that declares content is still content.
    let total = metas.iter().map(|m| m.size).fold(0u64, u64::saturating_add);
    if total > limits.max_uncompressed {
        return Err(ArchiveError::TooLarge {
            total,
            limit: limits.max_uncompressed,
        });
    }
    for meta in metas.iter().filter(|m| m.size > 0) {
        let ratio = if meta.compressed == 0 {
            f64::INFINITY
        } else {
            meta.size as f64 / meta.compressed as f64
        };
        if ratio > limits.max_ratio {
            return Err(ArchiveError::SuspiciousRatio {
                entry: meta.shown.clone(),
                ratio,
                limit: limits.max_ratio,
            });
        }
    }
    // `name` is what `zip` extracts under: the stored name or its Unicode Path replacement.
    for meta in metas {
        if let Some(reason) = names::unsafe_reason(meta.name.as_bytes()) {
            return Err(ArchiveError::UnsafeName {
                entry: meta.shown.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// Only Stored and Deflate are readable here (and by most tools downstream). Checked against
/// the method itself, not against what this build of `zip` happens to support, since features
/// are unified across the workspace.
fn check_methods(metas: &[Meta]) -> Result<(), ArchiveError> {
    let unsupported = metas.iter().find(|m| {
        m.size > 0
            && !matches!(
                m.method,
                CompressionMethod::Stored | CompressionMethod::Deflated
            )
    });
    match unsupported {
        Some(meta) => Err(ArchiveError::Unreadable(format!(
            "entry '{}' uses an unsupported compression method ({}); use Deflate or no compression",
            meta.shown, meta.method
        ))),
        None => Ok(()),
    }
}

enum Probe {
    NotDicom,
    Dicom(Option<HeaderInfo>),
}

/// Reads an entry's first bytes and, when they carry the DICOM magic, its header; never more
/// than [`HEADER_CAP`] bytes whatever the entry declares.
fn probe<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    meta: &Meta,
) -> Result<Probe, ArchiveError> {
    if meta.size == 0 {
        return Ok(Probe::NotDicom);
    }
    let context = || format!("entry '{}' could not be read", meta.shown);
    let entry = archive
        .by_index(index)
        .map_err(|e| ArchiveError::from_entry(&meta.shown, e))?;
    let mut limited = entry.take(HEADER_CAP);
    let mut head = [0u8; DICOM_MAGIC_END];
    let got =
        read_up_to(&mut limited, &mut head).map_err(|e| ArchiveError::from_read(e, &context()))?;
    let expected = meta.size.min(DICOM_MAGIC_END as u64) as usize;
    if got < expected {
        return Err(ArchiveError::Unreadable(format!(
            "entry '{}' is shorter than its declared size of {} bytes",
            meta.shown, meta.size
        )));
    }
    if meta.size <= DICOM_MAGIC_END as u64 {
        // Small enough to finish: reading to the end makes `zip` verify the CRC.
        let mut rest = Vec::new();
        limited
            .read_to_end(&mut rest)
            .map_err(|e| ArchiveError::from_read(e, &context()))?;
        if !rest.is_empty() {
            return Err(ArchiveError::Unreadable(format!(
                "entry '{}' is longer than its declared size of {} bytes",
                meta.shown, meta.size
            )));
        }
    }
    if !has_dicom_magic(&head[..got]) {
        return Ok(Probe::NotDicom);
    }
    Ok(Probe::Dicom(read_header(limited)))
}

/// Percent of the size saved by compression, two decimals; negative when storing grew it.
fn percent_saved(size: u64, compressed: u64) -> f64 {
    if size == 0 {
        return 0.0;
    }
    let saved = (1.0 - compressed as f64 / size as f64) * 100.0;
    (saved * 100.0).round() / 100.0
}

/// ZIP stores local time without a zone, so the text has none either.
fn dos_time_text(time: zip::DateTime) -> Option<String> {
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::from(time.year()),
        u32::from(time.month()),
        u32::from(time.day()),
    )?;
    let at = date.and_hms_opt(
        u32::from(time.hour()),
        u32::from(time.minute()),
        u32::from(time.second()),
    )?;
    Some(at.format("%Y-%m-%dT%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_saved_rounds_to_two_decimals() {
        assert_eq!(percent_saved(0, 0), 0.0);
        assert_eq!(percent_saved(33810, 18915), 44.06);
        assert_eq!(percent_saved(100, 100), 0.0);
        assert_eq!(percent_saved(100, 150), -50.0);
    }

    #[test]
    fn dos_times_print_without_zone() {
        let time = zip::DateTime::from_date_and_time(2026, 11, 26, 15, 26, 6);
        assert_eq!(
            time.ok().and_then(dos_time_text).as_deref(),
            Some("2026-11-26T15:26:06")
        );
    }
}
