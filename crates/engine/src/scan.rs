//! The first pass: read the header of every entry (in parallel) to find the DICOM files.

use std::convert::Infallible;

use crate::EngineError;
use crate::dicom_file::{self, SliceHeader};
use crate::parallel;
use crate::source::{EntryError, Source};

/// What one DICOM entry turned out to be (entries that are not DICOM are not listed).
pub(crate) type Scanned = Result<SliceHeader, Unreadable>;

/// A DICOM file (or an entry the archive could not even decompress) that cannot be read.
#[derive(Debug, Clone)]
pub(crate) struct Unreadable {
    pub name: String,
    pub reason: String,
}

/// Every DICOM-looking entry of the source, in archive order.
pub(crate) fn scan(source: &Source, threads: usize) -> Result<Vec<Scanned>, EngineError> {
    let entries = source.reader()?.entries();
    let (parts, _) = parallel::fold(
        source,
        &entries,
        threads,
        Vec::new,
        |found: &mut Vec<(usize, Scanned)>, reader, entry| {
            let scanned = match reader.read_dicom(entry.index) {
                Err(EntryError::NotDicom) => None,
                Err(EntryError::Unreadable(reason)) => Some(Err(Unreadable {
                    name: entry.name.clone(),
                    reason,
                })),
                Ok(bytes) => Some(
                    match dicom_file::read_header(&bytes, entry.index, &entry.name) {
                        Ok(header) => Ok(header),
                        Err(reason) => Err(Unreadable {
                            name: entry.name.clone(),
                            reason,
                        }),
                    },
                ),
            };
            found.extend(scanned.map(|s| (entry.index, s)));
            Ok::<(), Infallible>(())
        },
    )?;
    let mut found: Vec<(usize, Scanned)> = parts.into_iter().flatten().collect();
    found.sort_by_key(|(index, _)| *index);
    Ok(found.into_iter().map(|(_, scanned)| scanned).collect())
}
