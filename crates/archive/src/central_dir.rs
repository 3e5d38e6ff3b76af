//! Reads of the ZIP end records and central directory that the `zip` crate does not expose.
//!
//! * How many entries the archive *declares*, before `zip` parses (and allocates for) them: a
//!   5 GiB upload of bare directory records would otherwise cost tens of GiB of memory.
//! * The names exactly as stored in each central directory header. `zip` replaces a name by its
//!   Info-ZIP Unicode Path extra field (0x7075) when that field's CRC matches, and keeps only
//!   one entry per name; tools that ignore the extra field, or take the other duplicate, would
//!   extract under a name we never checked.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::detect::read_up_to;
use crate::names;
use crate::{ArchiveError, Limits};

const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD_LEN: usize = 22;
const ZIP64_LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const ZIP64_LOCATOR_LEN: usize = 20;
const ZIP64_EOCD_SIG: &[u8; 4] = b"PK\x06\x06";
const ZIP64_EOCD_LEN: usize = 56;
const CENTRAL_HEADER_SIG: &[u8; 4] = b"PK\x01\x02";
const CENTRAL_HEADER_LEN: usize = 46;
/// The window `zip` searches for the end record: the record, its signature slack and the
/// longest possible archive comment.
const TAIL_WINDOW: u64 = EOCD_LEN as u64 + 4 + (1 << 16);

/// The largest entry count declared by any end record `zip` might pick (it falls back to earlier
/// candidates when the last one does not parse). 0 if there is none; `zip` then refuses the file.
pub(crate) fn declared_entries(file: &mut File) -> io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    let tail_start = len.saturating_sub(TAIL_WINDOW);
    let mut tail = vec![0u8; (len - tail_start) as usize];
    file.seek(SeekFrom::Start(tail_start))?;
    file.read_exact(&mut tail)?;

    let mut most = 0;
    for at in 0..tail.len().saturating_sub(EOCD_LEN - 1) {
        let eocd = &tail[at..at + EOCD_LEN];
        if !eocd.starts_with(EOCD_SIG) {
            continue;
        }
        let on_disk = u64::from(u16_at(eocd, 8));
        let total = u64::from(u16_at(eocd, 10));
        most = most.max(on_disk).max(total);
        if on_disk == 0xffff || total == 0xffff || u32_at(eocd, 12) == u32::MAX {
            let eocd_pos = tail_start + at as u64;
            most = most.max(zip64_declared_entries(file, eocd_pos, len)?);
        }
    }
    Ok(most)
}

fn zip64_declared_entries(file: &mut File, eocd_pos: u64, len: u64) -> io::Result<u64> {
    let Some(locator_pos) = eocd_pos.checked_sub(ZIP64_LOCATOR_LEN as u64) else {
        return Ok(0);
    };
    let mut locator = [0u8; ZIP64_LOCATOR_LEN];
    file.seek(SeekFrom::Start(locator_pos))?;
    file.read_exact(&mut locator)?;
    if !locator.starts_with(ZIP64_LOCATOR_SIG) {
        return Ok(0);
    }
    let record_pos = u64_at(&locator, 8);
    if record_pos.saturating_add(ZIP64_EOCD_LEN as u64) > len {
        return Ok(0);
    }
    let mut record = [0u8; ZIP64_EOCD_LEN];
    file.seek(SeekFrom::Start(record_pos))?;
    file.read_exact(&mut record)?;
    if !record.starts_with(ZIP64_EOCD_SIG) {
        return Ok(0);
    }
    Ok(u64_at(&record, 24).max(u64_at(&record, 32)))
}

/// Walks the central directory from `start` (absolute) header by header, as stored, and applies
/// the name rules, the duplicate rule and the entry limit to what it finds there.
pub(crate) fn check_stored_names(
    path: &Path,
    start: u64,
    limits: &Limits,
) -> Result<(), ArchiveError> {
    let mut reader = BufReader::with_capacity(64 << 10, File::open(path)?);
    reader.seek(SeekFrom::Start(start))?;
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut count: u64 = 0;
    loop {
        let mut header = [0u8; CENTRAL_HEADER_LEN];
        let got = read_up_to(&mut reader, &mut header)?;
        // `zip` has parsed the directory it was told about; whatever follows it (end records)
        // ends the walk.
        if got < CENTRAL_HEADER_LEN || !header.starts_with(CENTRAL_HEADER_SIG) {
            return Ok(());
        }
        count += 1;
        if count > limits.max_entries {
            return Err(ArchiveError::TooManyEntries {
                count,
                limit: limits.max_entries,
            });
        }
        let mut name = vec![0u8; usize::from(u16_at(&header, 28))];
        if read_up_to(&mut reader, &mut name)? < name.len() {
            return Ok(());
        }
        if let Some(reason) = names::unsafe_reason(&name) {
            let entry = names::for_display(&name);
            return Err(ArchiveError::UnsafeName { entry, reason });
        }
        let skip = i64::from(u16_at(&header, 30)) + i64::from(u16_at(&header, 32));
        reader.seek_relative(skip)?;
        if let Some(name) = seen.replace(name) {
            return Err(ArchiveError::UnsafeName {
                entry: names::for_display(&name),
                reason: "appears more than once in the archive",
            });
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(le)
}
