//! Single DICOM files, files that are neither ZIP nor DICOM, and the empty archive.

use triage_archive::{ArchiveError, Detected, Limits, detect, inspect, inspect_dicom};
use triage_domain::FileType;

use crate::support::*;

#[test]
fn a_single_dicom_file_is_one_file_of_one_series() {
    let file = temp_with(&read_entry(&fixture("ct-normal.zip"), 0));
    assert_eq!(detect(file.path()).unwrap(), Detected::Dicom);
    let inv = inspect_dicom(file.path()).unwrap();
    assert_eq!(inv.file_type, FileType::Dicom);
    assert!(inv.zip.is_none() && inv.entries.is_empty());
    assert_eq!(inv.dicom.files, 1);
    assert_eq!(inv.dicom.studies.len(), 1);
    let series = &inv.dicom.studies[0].series[0];
    assert_eq!(
        series.series_uid,
        "1.2.826.0.1.3680043.8.498.13029534852533056781023961131085868476"
    );
    assert_eq!((series.modality.as_deref(), series.slices), (Some("CT"), 1));
    assert_eq!(inspect(file.path(), &Limits::default()).unwrap(), inv);
}

#[test]
fn anything_else_is_other_and_inspected_as_such() {
    let cases: [&[u8]; 4] = [
        b"just some text, longer than nothing",
        b"",
        b"PK",
        &[0u8; 200],
    ];
    for bytes in cases {
        let file = temp_with(bytes);
        assert_eq!(detect(file.path()).unwrap(), Detected::Other, "{bytes:?}");
        let inv = inspect(file.path(), &Limits::default()).unwrap();
        assert_eq!(inv.file_type, FileType::Other);
        assert!(inv.zip.is_none() && inv.entries.is_empty());
        assert_eq!(inv.dicom.files, 0);
    }
}

#[test]
fn dicom_magic_anywhere_but_byte_128_is_not_dicom() {
    let mut bytes = vec![0u8; 200];
    bytes[0..4].copy_from_slice(b"DICM");
    bytes[129..133].copy_from_slice(b"DICM");
    let file = temp_with(&bytes);
    assert_eq!(detect(file.path()).unwrap(), Detected::Other);
    let err = inspect_dicom(file.path()).unwrap_err();
    assert!(matches!(err, ArchiveError::Unreadable(_)) && err.is_client_error());
}

#[test]
fn an_empty_archive_is_a_zip_with_nothing_in_it() {
    let bytes = zip_bytes(&[], stored());
    assert!(bytes.starts_with(b"PK\x05\x06"));
    let file = temp_with(&bytes);
    assert_eq!(detect(file.path()).unwrap(), Detected::Zip);
    let inv = inspect(file.path(), &Limits::default()).unwrap();
    let zip = inv.zip.unwrap();
    assert_eq!(
        (zip.total_files, zip.total_size, zip.compression_ratio),
        (0, 0, 0.0)
    );
    assert_eq!(inv.dicom.files, 0);
}

#[test]
fn a_dicom_file_without_uids_counts_but_joins_no_study() {
    let file = temp_with(&dicom_file(&[((0x0008, 0x0060), "CS", "CT")]));
    let inv = inspect_dicom(file.path()).unwrap();
    assert_eq!(inv.dicom.files, 1);
    assert!(inv.dicom.studies.is_empty());
}
