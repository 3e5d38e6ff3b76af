//! Archives that must be refused for their structure, size or content, and near misses that
//! must not be.

use std::time::Instant;

use triage_archive::{ArchiveError, Detected, Limits, detect, inspect};

use crate::support::*;

#[test]
fn truncated_archive_is_unreadable() {
    let whole = std::fs::read(fixture("ct-normal.zip")).unwrap();
    let half = &whole[..whole.len() / 2];
    let file = temp_with(half);
    assert_eq!(detect(file.path()).unwrap(), Detected::Zip);
    let err = inspect(file.path(), &Limits::default()).unwrap_err();
    assert!(matches!(err, ArchiveError::Unreadable(_)), "{err:?}");
    assert!(err.is_client_error());
    assert!(
        err.to_string()
            .starts_with("the file is not a readable ZIP archive"),
        "{err}"
    );
}

#[test]
fn garbage_after_a_zip_signature_is_unreadable() {
    let err = inspect_bytes(
        b"PK\x03\x04 this is not really a zip file",
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ArchiveError::Unreadable(_)), "{err:?}");
}

#[test]
fn encrypted_entry_is_refused() {
    let mut bytes = zip_bytes(
        &[("a.txt", b"plain"), ("secret.dcm", b"not really")],
        stored(),
    );
    // Set "encrypted" (general purpose bit 0) on the second entry, local and central header.
    let locals: Vec<usize> = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"PK\x03\x04")
        .map(|(i, _)| i)
        .collect();
    bytes[locals[1] + 6] |= 1;
    let central = central_headers(&bytes)[1];
    bytes[central + 8] |= 1;
    let err = inspect_bytes(&bytes, &Limits::default()).unwrap_err();
    match &err {
        ArchiveError::Encrypted { entry } => assert_eq!(entry, "secret.dcm"),
        other => panic!("expected Encrypted, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "entry 'secret.dcm' is encrypted; password-protected archives are not accepted"
    );
}

#[test]
fn zip_bomb_is_refused_by_ratio() {
    let zeros = vec![0u8; 16 << 20];
    let bytes = zip_bytes(&[("readme.txt", b"hi"), ("bomb.bin", &zeros)], deflated());
    let started = Instant::now();
    let err = inspect_bytes(&bytes, &Limits::default()).unwrap_err();
    assert!(
        started.elapsed().as_millis() < 500,
        "checked from the directory, nothing inflated"
    );
    match err {
        ArchiveError::SuspiciousRatio {
            entry,
            ratio,
            limit,
        } => {
            assert_eq!(entry, "bomb.bin");
            assert!(ratio > 500.0, "{ratio}");
            assert_eq!(limit, 100.0);
        }
        other => panic!("expected SuspiciousRatio, got {other:?}"),
    }
}

#[test]
fn content_in_zero_compressed_bytes_is_an_infinite_ratio() {
    let mut bytes = zip_bytes(&[("empty.txt", b""), ("a.txt", b"abc")], stored());
    let central = central_headers(&bytes)[1];
    bytes[central + 20..central + 24].copy_from_slice(&0u32.to_le_bytes());
    match inspect_bytes(&bytes, &Limits::default()).unwrap_err() {
        ArchiveError::SuspiciousRatio { entry, ratio, .. } => {
            assert_eq!(entry, "a.txt");
            assert!(ratio.is_infinite());
        }
        other => panic!("expected SuspiciousRatio, got {other:?}"),
    }
}

#[test]
fn entry_count_includes_directories() {
    let files: [(&str, &[u8]); 5] = [
        ("d/", b""),
        ("d/a", b"1"),
        ("d/b", b"2"),
        ("e/", b""),
        ("e/c", b"3"),
    ];
    let bytes = zip_bytes(&files, deflated());
    let limits = Limits {
        max_entries: 4,
        ..Limits::default()
    };
    match inspect_bytes(&bytes, &limits).unwrap_err() {
        ArchiveError::TooManyEntries { count, limit } => assert_eq!((count, limit), (5, 4)),
        other => panic!("expected TooManyEntries, got {other:?}"),
    }
    let inv = inspect_bytes(
        &bytes,
        &Limits {
            max_entries: 5,
            ..Limits::default()
        },
    )
    .unwrap();
    assert_eq!(inv.entries.len(), 3, "directories are not listed");
    assert_eq!(inv.zip.unwrap().total_files, 3);
}

#[test]
fn declared_entry_count_is_checked_before_parsing() {
    let mut bytes = zip_bytes(&[("a", b"1")], stored());
    let eocd = bytes.len() - 22;
    assert_eq!(&bytes[eocd..eocd + 4], b"PK\x05\x06");
    bytes[eocd + 8..eocd + 12].copy_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    match inspect_bytes(&bytes, &Limits::default()).unwrap_err() {
        ArchiveError::TooManyEntries { count, limit } => {
            assert_eq!((count, limit), (65535, 20_000))
        }
        other => panic!("expected TooManyEntries, got {other:?}"),
    }
}

#[test]
fn total_uncompressed_size_is_limited() {
    let bytes = zip_bytes(&[("a", &[7u8; 600]), ("b", &[8u8; 400])], stored());
    let limits = Limits {
        max_uncompressed: 999,
        ..Limits::default()
    };
    match inspect_bytes(&bytes, &limits).unwrap_err() {
        ArchiveError::TooLarge { total, limit } => assert_eq!((total, limit), (1000, 999)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let at_limit = Limits {
        max_uncompressed: 1000,
        ..Limits::default()
    };
    assert_eq!(
        inspect_bytes(&bytes, &at_limit)
            .unwrap()
            .zip
            .unwrap()
            .total_size,
        1000
    );
}

#[test]
fn an_entry_shorter_than_declared_is_unreadable() {
    let mut bytes = zip_bytes(&[("a.txt", b"ten bytes!")], stored());
    // Declare 20 bytes uncompressed; the stored data still holds 10.
    let central = central_headers(&bytes)[0];
    bytes[central + 24..central + 28].copy_from_slice(&20u32.to_le_bytes());
    bytes[22..26].copy_from_slice(&20u32.to_le_bytes());
    let err = inspect_bytes(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Unreadable(m) if m.contains("'a.txt'")),
        "{err:?}"
    );
}

#[test]
fn a_corrupt_small_entry_fails_its_crc() {
    let bytes = zip_bytes(&[("a.txt", b"some text")], stored());
    let at = bytes.windows(9).position(|w| w == b"some text").unwrap();
    let mut bytes = bytes;
    bytes[at] = b'S';
    let err = inspect_bytes(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Unreadable(m) if m.contains("'a.txt'")),
        "{err:?}"
    );
}

#[test]
fn unsupported_compression_is_refused() {
    let mut bytes = zip_bytes(&[("a.bin", b"data")], stored());
    bytes[8] = 12; // BZIP2, local header
    let central = central_headers(&bytes)[0];
    bytes[central + 10] = 12;
    let err = inspect_bytes(&bytes, &Limits::default()).unwrap_err();
    assert!(
        matches!(&err, ArchiveError::Unreadable(m) if m.contains("unsupported compression method")),
        "{err:?}"
    );
}

#[test]
fn first_failure_wins_in_the_documented_order() {
    // Encrypted beats an unsafe name and an oversized total.
    let mut bytes = zip_named(b"../x");
    let central = central_headers(&bytes)[0];
    bytes[central + 8] |= 1;
    bytes[6] |= 1;
    let limits = Limits {
        max_uncompressed: 1,
        ..Limits::default()
    };
    let err = inspect_bytes(&bytes, &limits).unwrap_err();
    assert!(matches!(err, ArchiveError::Encrypted { .. }), "{err:?}");
}

#[test]
fn missing_file_is_the_servers_fault() {
    let err = inspect(
        std::path::Path::new("/nonexistent/upload.zip"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ArchiveError::Io(_)));
    assert!(!err.is_client_error());
}
