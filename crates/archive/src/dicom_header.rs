//! Header-only DICOM reads: the four attributes the inventory groups by, never the pixel data.

mod walk;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use triage_domain::{ArchiveInventory, FileType};

use crate::ArchiveError;
use crate::detect::{DICOM_MAGIC_END, has_dicom_magic, read_up_to};
use crate::dicom_summary::DicomTally;

/// Most bytes read from one file or entry, preamble included. Real headers reach the attributes
/// we need within a few KiB; the cap is what stops a lying length or size field from making us
/// read or decompress gigabytes.
pub(crate) const HEADER_CAP: u64 = 4 << 20;

/// What the inventory needs from one DICOM header.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct HeaderInfo {
    pub(crate) study_uid: Option<String>,
    pub(crate) series_uid: Option<String>,
    pub(crate) modality: Option<String>,
    pub(crate) body_part: Option<String>,
}

/// Parses the header that follows the 132-byte preamble and `DICM` magic, which the caller has
/// already consumed to detect DICOM. `None` when it cannot be parsed: such a file still counts as
/// DICOM, it just joins no study.
pub(crate) fn read_header(after_magic: impl Read) -> Option<HeaderInfo> {
    walk::walk(after_magic).ok()
}

/// Inventory of a single DICOM file (file_type Dicom, zip None, entries empty, dicom summary with
/// 1 file). Refused as [`ArchiveError::Unreadable`] when the file lacks the DICOM preamble.
pub fn inspect_dicom(path: &Path) -> Result<ArchiveInventory, ArchiveError> {
    let mut file = BufReader::new(File::open(path)?).take(HEADER_CAP);
    let mut head = [0u8; DICOM_MAGIC_END];
    let got = read_up_to(&mut file, &mut head)?;
    if !has_dicom_magic(&head[..got]) {
        return Err(ArchiveError::Unreadable(
            "the file is not a DICOM file (no 'DICM' marker at byte 128)".to_owned(),
        ));
    }
    let mut tally = DicomTally::default();
    tally.add(read_header(file));
    Ok(ArchiveInventory {
        file_type: FileType::Dicom,
        zip: None,
        entries: Vec::new(),
        dicom: tally.finish(),
    })
}
