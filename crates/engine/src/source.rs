//! Where the files come from: a ZIP archive (entries in any folder, with or without an extension),
//! one DICOM file, or a list of [`Member`]s gathered from many inputs (loose files and entries of
//! several archives — how `triage analyse` hands over one study found across folders and ZIPs).
//! DICOM is recognised by the `DICM` magic at byte 128, never by name.
//!
//! Each worker thread opens its own [`EntryReader`] (its own file handle), so entries are read in
//! parallel without locking, and nothing is extracted to disk.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zip::ZipArchive;

use crate::EngineError;

/// Preamble (128 bytes) plus the `DICM` magic.
pub(crate) const DICOM_PREFIX_LEN: usize = 132;

/// The largest entry read into memory. One CT slice is about 0.5 MB; multi-frame objects are
/// refused anyway, so this only stops a hostile or mistaken giant from exhausting memory.
pub(crate) const MAX_ENTRY_BYTES: u64 = 256 << 20;

/// What is being analysed.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    Zip(PathBuf),
    SingleFile(PathBuf),
    Members(Arc<[Member]>),
}

/// One file of a study gathered from anywhere: a loose file or one entry of a ZIP archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `/`-separated name shown in the report; the study's `path_to_study` is the deepest folder
    /// shared by the names of its files.
    pub name: String,
    pub location: Location,
}

/// Where a [`Member`]'s bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// Entry `index` (central-directory order) of the ZIP archive at `archive`.
    ZipEntry {
        archive: PathBuf,
        index: usize,
    },
}

/// One file of the source, before it is known to be DICOM.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Index in the archive (0 for a single file).
    pub index: usize,
    /// Path inside the archive, or the file name of a single file.
    pub name: String,
}

/// Why one entry could not be read; the entry is reported, the analysis goes on.
#[derive(Debug)]
pub(crate) enum EntryError {
    NotDicom,
    Unreadable(String),
}

impl Source {
    /// Decides between ZIP and single DICOM file by content.
    pub fn open(path: &Path) -> Result<Self, EngineError> {
        let mut head = Vec::with_capacity(DICOM_PREFIX_LEN);
        File::open(path)
            .and_then(|f| f.take(DICOM_PREFIX_LEN as u64).read_to_end(&mut head))
            .map_err(|e| EngineError::io(path, e))?;
        if head.starts_with(b"PK") {
            return Ok(Self::Zip(path.to_owned()));
        }
        if has_dicom_magic(&head) {
            return Ok(Self::SingleFile(path.to_owned()));
        }
        // Self-extracting or prefixed archives do not start with "PK"; the central directory
        // decides.
        let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
        match ZipArchive::new(BufReader::new(file)) {
            Ok(_) => Ok(Self::Zip(path.to_owned())),
            Err(_) => Err(EngineError::UnrecognisedInput(path.to_owned())),
        }
    }

    /// A reader with its own file handle, for one worker.
    pub fn reader(&self) -> Result<EntryReader, EngineError> {
        match self {
            Self::Zip(path) => {
                let file = File::open(path).map_err(|e| EngineError::io(path, e))?;
                let archive = ZipArchive::new(BufReader::new(file))
                    .map_err(|e| EngineError::Archive(e.to_string()))?;
                Ok(EntryReader::Zip(archive))
            }
            Self::SingleFile(path) => Ok(EntryReader::File(path.clone())),
            Self::Members(members) => Ok(EntryReader::Members {
                members: Arc::clone(members),
                archives: HashMap::new(),
            }),
        }
    }
}

/// Reads entries of one source; not shared between threads.
pub(crate) enum EntryReader {
    Zip(ZipArchive<BufReader<File>>),
    File(PathBuf),
    /// Archives are opened on first use and kept open for this worker.
    Members {
        members: Arc<[Member]>,
        archives: HashMap<PathBuf, ZipArchive<BufReader<File>>>,
    },
}

impl EntryReader {
    /// Every regular file of the source, in archive order. Directories, symlinks and encrypted
    /// entries are skipped: none of them can be a readable DICOM file.
    pub fn entries(&self) -> Vec<Entry> {
        match self {
            Self::Zip(archive) => (0..archive.len())
                .filter_map(|index| {
                    let data = archive.by_index_data(index).ok()?;
                    if data.is_dir() || data.is_symlink() || data.encrypted() {
                        return None;
                    }
                    let name = data.name().ok()?.into_owned();
                    Some(Entry { index, name })
                })
                .collect(),
            Self::File(path) => vec![Entry {
                index: 0,
                name: path
                    .file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            }],
            Self::Members { members, .. } => members
                .iter()
                .enumerate()
                .map(|(index, member)| Entry {
                    index,
                    name: member.name.clone(),
                })
                .collect(),
        }
    }

    /// The whole entry, if it starts like a DICOM file. Only the first 132 bytes are read from a
    /// non-DICOM entry.
    pub fn read_dicom(&mut self, index: usize) -> Result<Vec<u8>, EntryError> {
        match self {
            Self::Zip(archive) => {
                let entry = archive
                    .by_index(index)
                    .map_err(|e| EntryError::Unreadable(e.to_string()))?;
                read_if_dicom(entry)
            }
            Self::File(path) => {
                let file = File::open(path).map_err(|e| EntryError::Unreadable(e.to_string()))?;
                read_if_dicom(BufReader::new(file))
            }
            Self::Members { members, archives } => {
                let member = members
                    .get(index)
                    .ok_or_else(|| EntryError::Unreadable(format!("no member {index}")))?;
                match &member.location {
                    Location::File(path) => {
                        let file =
                            File::open(path).map_err(|e| EntryError::Unreadable(e.to_string()))?;
                        read_if_dicom(BufReader::new(file))
                    }
                    Location::ZipEntry { archive, index } => {
                        if !archives.contains_key(archive) {
                            let file = File::open(archive)
                                .map_err(|e| EntryError::Unreadable(e.to_string()))?;
                            let opened = ZipArchive::new(BufReader::new(file))
                                .map_err(|e| EntryError::Unreadable(e.to_string()))?;
                            archives.insert(archive.clone(), opened);
                        }
                        let opened = archives
                            .get_mut(archive)
                            .ok_or_else(|| EntryError::Unreadable("archive vanished".to_owned()))?;
                        let entry = opened
                            .by_index(*index)
                            .map_err(|e| EntryError::Unreadable(e.to_string()))?;
                        read_if_dicom(entry)
                    }
                }
            }
        }
    }
}

fn read_if_dicom(reader: impl Read) -> Result<Vec<u8>, EntryError> {
    let mut limited = reader.take(MAX_ENTRY_BYTES + 1);
    let mut bytes = Vec::with_capacity(DICOM_PREFIX_LEN);
    (&mut limited)
        .take(DICOM_PREFIX_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| EntryError::Unreadable(e.to_string()))?;
    if !has_dicom_magic(&bytes) {
        return Err(EntryError::NotDicom);
    }
    limited
        .read_to_end(&mut bytes)
        .map_err(|e| EntryError::Unreadable(e.to_string()))?;
    if bytes.len() as u64 > MAX_ENTRY_BYTES {
        return Err(EntryError::Unreadable(format!(
            "larger than {} MiB",
            MAX_ENTRY_BYTES >> 20
        )));
    }
    Ok(bytes)
}

pub(crate) fn has_dicom_magic(bytes: &[u8]) -> bool {
    bytes.get(128..DICOM_PREFIX_LEN) == Some(b"DICM".as_slice())
}
