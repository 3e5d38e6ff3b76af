//! What an upload contains, recorded once at upload time so that later reads never touch the
//! stored archive.

use serde::{Deserialize, Serialize};

use crate::job::FileType;

/// The inventory of one upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchiveInventory {
    pub file_type: FileType,
    /// Archive-wide figures; `None` for a single file.
    pub zip: Option<ZipSummary>,
    /// One entry per file (directories left out); empty for a single file.
    pub entries: Vec<ZipEntry>,
    pub dicom: DicomSummary,
}

/// Archive-wide figures of a ZIP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZipSummary {
    pub total_files: u64,
    pub total_size: u64,
    pub total_compressed_size: u64,
    /// Percent saved by compression, two decimals (0 for an empty archive).
    pub compression_ratio: f64,
    pub is_encrypted: bool,
    pub comment: Option<String>,
}

/// One file inside a ZIP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZipEntry {
    pub filename: String,
    pub size: u64,
    pub compressed_size: u64,
    /// Percent saved by compression, two decimals.
    pub compression_ratio: f64,
    /// The entry's DOS timestamp as `YYYY-MM-DDThh:mm:ss` (no zone: ZIP stores none).
    pub modified_time: Option<String>,
    pub is_encrypted: bool,
    pub content_type: String,
    /// Has the DICOM preamble (`DICM` at byte 128).
    pub is_dicom: bool,
}

/// The DICOM content: files, and studies with their series (from headers only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DicomSummary {
    pub files: u64,
    pub studies: Vec<StudySummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudySummary {
    pub study_uid: String,
    pub series: Vec<SeriesSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub series_uid: String,
    pub modality: Option<String>,
    pub body_part: Option<String>,
    pub slices: u64,
}
