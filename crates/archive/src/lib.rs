//! ZIP validation and inventory, DICOM detection and header-only DICOM scans.
//!
//! Given an upload spooled to disk, this crate says what it is ([`detect`]), refuses ZIP archives
//! that are unreadable or unsafe to hand on ([`ArchiveError`]), and records what the upload
//! contains as a [`triage_domain::ArchiveInventory`] ([`inspect`]). It reads the ZIP central
//! directory and, per entry, at most the DICOM header: never pixel data, never a whole entry.
//!
//! It is a pure, synchronous library. It may depend on the domain crate, `zip`, `dicom-core` and
//! `dicom-dictionary-std` (tag names only: headers are read by an iterative walker of its own,
//! see `dicom_header/walk.rs`), `thiserror` and `chrono`; no async runtime, no framework, and no
//! I/O other than reading the file it is given. Callers on an async runtime run it on a blocking
//! thread.

mod central_dir;
mod content_type;
mod detect;
mod dicom_header;
mod dicom_summary;
mod error;
mod names;
mod probe;
mod zip_inventory;

use std::path::Path;

use triage_domain::{ArchiveInventory, DicomSummary, FileType};

pub use detect::{Detected, detect};
pub use dicom_header::inspect_dicom;
pub use error::ArchiveError;
pub use probe::{Probe, probe_dicom};
pub use zip_inventory::inspect_zip;

/// Limits from config (`uploads.max_entries`, `uploads.max_uncompressed`, `uploads.max_ratio`).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most entries a ZIP may list, directories included.
    pub max_entries: u64,
    /// Largest total declared uncompressed size of a ZIP, in bytes.
    pub max_uncompressed: u64,
    /// Largest uncompressed/compressed ratio of any one entry.
    pub max_ratio: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A CT series alone can hold 2000 slices.
            max_entries: 20_000,
            max_uncompressed: 20 << 30,
            // Deflate peaks near 1032:1; real DICOM and text stay far below 100:1.
            max_ratio: 100.0,
        }
    }
}

/// Detects the file's type by content, then validates and inventories it accordingly.
///
/// Anything that is neither a ZIP nor a DICOM file gives an inventory with
/// [`FileType::Other`], no ZIP summary, no entries and an empty DICOM summary: whether to accept
/// it is the caller's policy.
pub fn inspect(path: &Path, limits: &Limits) -> Result<ArchiveInventory, ArchiveError> {
    match detect(path)? {
        Detected::Zip => inspect_zip(path, limits),
        Detected::Dicom => inspect_dicom(path),
        Detected::Other => Ok(ArchiveInventory {
            file_type: FileType::Other,
            zip: None,
            entries: Vec::new(),
            dicom: DicomSummary::default(),
        }),
    }
}
