//! Fixture paths and hand-built archives and DICOM files.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;

use tempfile::NamedTempFile;
use triage_archive::{ArchiveError, Limits, inspect};
use triage_domain::ArchiveInventory;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// The shared fixtures: `TRIAGE_FIXTURES` when CI sets it, else the checkout's sibling folder.
pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("TRIAGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures"
            ))
        });
    dir.join(name)
}

pub fn temp_with(bytes: &[u8]) -> NamedTempFile {
    let mut file = NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    file.flush().unwrap();
    file
}

pub fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

pub fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
}

/// A ZIP of `(name, content)` files; a name ending in `/` becomes a directory.
pub fn zip_bytes(files: &[(&str, &[u8])], options: SimpleFileOptions) -> Vec<u8> {
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, content) in files {
        if name.ends_with('/') {
            writer.add_directory(*name, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(content).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

/// Replaces every occurrence of `from` (a unique placeholder) by `to`, which must have the same
/// length: the writer refuses or rewrites some names, so unsafe ones are patched in afterwards.
pub fn patch(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut hits = 0;
    let mut at = 0;
    while let Some(pos) = bytes[at..].windows(from.len()).position(|w| w == from) {
        let start = at + pos;
        bytes[start..start + to.len()].copy_from_slice(to);
        at = start + to.len();
        hits += 1;
    }
    assert!(
        hits >= 2,
        "placeholder must be in the local and the central header"
    );
    bytes
}

/// Offsets of every central directory header.
pub fn central_headers(bytes: &[u8]) -> Vec<usize> {
    bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x01\x02")
        .map(|(i, _)| i)
        .collect()
}

pub fn read_entry(zip: &std::path::Path, index: usize) -> Vec<u8> {
    let mut archive = ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut content = Vec::new();
    archive
        .by_index(index)
        .unwrap()
        .read_to_end(&mut content)
        .unwrap();
    content
}

/// A minimal DICOM Part 10 file (explicit VR little endian) with the given attributes and a
/// small native pixel data element.
pub fn dicom_file(attrs: &[((u16, u16), &str, &str)]) -> Vec<u8> {
    let mut meta = Vec::new();
    element(&mut meta, (0x0002, 0x0001), "OB", &[0, 1]);
    element(
        &mut meta,
        (0x0002, 0x0002),
        "UI",
        b"1.2.840.10008.5.1.4.1.1.2",
    );
    element(&mut meta, (0x0002, 0x0003), "UI", b"1.2.3.4");
    element(&mut meta, (0x0002, 0x0010), "UI", b"1.2.840.10008.1.2.1");
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    element(
        &mut out,
        (0x0002, 0x0000),
        "UL",
        &(meta.len() as u32).to_le_bytes(),
    );
    out.extend_from_slice(&meta);
    for (tag, vr, value) in attrs {
        element(&mut out, *tag, vr, value.as_bytes());
    }
    element(&mut out, (0x7fe0, 0x0010), "OW", &[0u8; 64]);
    out
}

/// Appends one explicit VR little endian element, padding the value to even length.
pub fn element(out: &mut Vec<u8>, (group, elem): (u16, u16), vr: &str, value: &[u8]) {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == "UI" || vr == "OB" { 0 } else { b' ' });
    }
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(vr.as_bytes());
    if matches!(vr, "OB" | "OW" | "SQ" | "UN" | "UT") {
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    }
    out.extend_from_slice(&value);
}

/// Inspects `bytes` as an uploaded file.
pub fn inspect_bytes(bytes: &[u8], limits: &Limits) -> Result<ArchiveInventory, ArchiveError> {
    let file = temp_with(bytes);
    inspect(file.path(), limits)
}

/// One stored entry whose name is patched in afterwards, past the writer's own checks.
pub fn zip_named(name: &[u8]) -> Vec<u8> {
    let placeholder = vec![b'Q'; name.len()];
    let placeholder_str = String::from_utf8(placeholder.clone()).unwrap();
    let bytes = zip_bytes(
        &[("ok.txt", b"fine"), (&placeholder_str, b"hello")],
        stored(),
    );
    patch(bytes, &placeholder, name)
}
