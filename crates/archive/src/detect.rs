//! Telling ZIP, DICOM and anything else apart by content.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// What a file is, judged by its first bytes (never by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detected {
    Zip,
    Dicom,
    Other,
}

/// The local file header that starts every non-empty ZIP.
const ZIP_LOCAL_HEADER: &[u8; 4] = b"PK\x03\x04";
/// The end-of-central-directory record, which is all an empty ZIP contains.
const ZIP_EMPTY: &[u8; 4] = b"PK\x05\x06";
/// DICOM Part 10: a 128-byte preamble, then this magic.
const DICOM_MAGIC: &[u8; 4] = b"DICM";
pub(crate) const DICOM_MAGIC_END: usize = 132;

/// By content, never by name: ZIP = starts with a local file header `PK\x03\x04` or is an empty
/// archive `PK\x05\x06`; DICOM = `DICM` at offset 128; anything else is [`Detected::Other`].
pub fn detect(path: &Path) -> io::Result<Detected> {
    let mut head = [0u8; DICOM_MAGIC_END];
    let len = read_up_to(&mut File::open(path)?, &mut head)?;
    let head = &head[..len];
    Ok(
        if head.starts_with(ZIP_LOCAL_HEADER) || head.starts_with(ZIP_EMPTY) {
            Detected::Zip
        } else if has_dicom_magic(head) {
            Detected::Dicom
        } else {
            Detected::Other
        },
    )
}

/// Whether `head` (the first bytes of a file) carries the DICOM preamble and magic.
pub(crate) fn has_dicom_magic(head: &[u8]) -> bool {
    head.get(DICOM_MAGIC_END - 4..DICOM_MAGIC_END) == Some(DICOM_MAGIC.as_slice())
}

/// Fills as much of `buf` as the source holds; a short count means end of input. A single
/// `read` may return less than asked even mid-stream (decompressors do), hence the loop.
pub(crate) fn read_up_to(source: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
