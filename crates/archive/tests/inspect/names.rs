//! Entry names: unsafe ones, names the `zip` crate would not show us, and headers that disagree.

use std::io::Write;

use triage_archive::{ArchiveError, Detected, Limits, detect, inspect_zip};
use zip::write::FullFileOptions;

use crate::support::*;

/// Why the archive was refused, which must be for an unsafe name.
fn unsafe_reason(bytes: &[u8]) -> (String, &'static str) {
    match inspect_bytes(bytes, &Limits::default()) {
        Err(ArchiveError::UnsafeName { entry, reason }) => (entry, reason),
        other => panic!("expected UnsafeName, got {other:?}"),
    }
}

#[test]
fn unsafe_names_are_refused_with_their_reason() {
    let cases: [(&[u8], &str); 7] = [
        (b"../x", "contains a '..' path component"),
        (b"dir/../../x", "contains a '..' path component"),
        (b"/etc/x", "is an absolute path"),
        (b"C:\\x", "starts with a drive letter"),
        (b"a\\b", "contains a backslash"),
        (b"a\0b.dcm", "contains a control character"),
        (b"a\x1bb.dcm", "contains a control character"),
    ];
    for (name, reason) in cases {
        let (entry, got) = unsafe_reason(&zip_named(name));
        assert_eq!(got, reason, "{name:?}");
        assert!(
            !entry.contains('\0') && !entry.contains('\x1b'),
            "{entry:?} is escaped"
        );
    }
    let long = vec![b'n'; 256];
    assert_eq!(
        unsafe_reason(&zip_named(&long)).1,
        "is longer than 255 bytes"
    );
}

#[test]
fn dots_inside_a_name_and_255_bytes_are_fine() {
    for name in [&b"a..b.dcm"[..], b"dir/..hidden", &[b'n'; 255]] {
        let inv = inspect_bytes(&zip_named(name), &Limits::default()).unwrap();
        assert_eq!(inv.entries[1].filename.as_bytes(), name);
    }
}

#[test]
fn duplicate_names_are_refused() {
    let bytes = zip_bytes(&[("same.dcm", b"one"), ("SAME.dcm", b"two")], stored());
    let bytes = patch(bytes, b"SAME.dcm", b"same.dcm");
    assert_eq!(
        unsafe_reason(&bytes),
        (
            "same.dcm".to_owned(),
            "appears more than once in the archive"
        )
    );
}

#[test]
fn the_stored_name_is_checked_even_when_a_unicode_path_field_hides_it() {
    // An Info-ZIP Unicode Path field (0x7075) whose CRC matches the stored name makes `zip`
    // report the field's name instead; tools that ignore the field use the stored one.
    let stored_name = b"../x.dcm";
    let mut field = vec![1u8];
    field.extend_from_slice(&crc32(stored_name).to_le_bytes());
    field.extend_from_slice(b"safe.dcm");
    let mut options = FullFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    options.add_extra_field(0x7075, &field, false).unwrap();
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.start_file("QQQQQQQQ", options).unwrap();
    writer.write_all(b"x").unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let bytes = patch(bytes, b"QQQQQQQQ", stored_name);
    let seen_by_zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
    assert_eq!(
        seen_by_zip.by_index_data(0).unwrap().name().unwrap(),
        "safe.dcm"
    );
    let (entry, reason) = unsafe_reason(&bytes);
    assert_eq!(
        (entry.as_str(), reason),
        ("../x.dcm", "contains a '..' path component")
    );
}

#[test]
fn a_local_header_that_disagrees_with_the_directory_is_refused() {
    // Streaming extractors go by local headers; this entry is empty, so it is never read, and
    // only its local header carries the unsafe name.
    let mut bytes = zip_bytes(&[("a.dcm", b"x"), ("empty.txt", b"")], stored());
    let local = bytes.windows(9).position(|w| w == b"empty.txt").unwrap();
    bytes[local..local + 9].copy_from_slice(b"../../x.x");
    let err = inspect_bytes(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Unreadable(m) if m.contains("header inconsistency")),
        "{err:?}"
    );
}

#[test]
fn archive_behind_a_prefix_is_still_checked_by_stored_name() {
    // Self-extracting style: junk in front of the ZIP. Not detected as a ZIP by content, but
    // inspect_zip must still find the directory and the stored names at the shifted offset.
    let mut bytes = b"MZ-some-stub-bytes".to_vec();
    bytes.extend(zip_named(b"../x"));
    let file = temp_with(&bytes);
    assert_eq!(detect(file.path()).unwrap(), Detected::Other);
    let err = inspect_zip(file.path(), &Limits::default()).unwrap_err();
    assert!(matches!(err, ArchiveError::UnsafeName { .. }), "{err:?}");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
