//! The header walker through the public API: encodings, nesting, hostile headers, and a
//! cross-check against dicom-object on the real fixtures.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Instant;

use triage_archive::{Limits, inspect_dicom, inspect_zip};
use triage_domain::DicomSummary;

use crate::support::*;

const STUDY: (u16, u16) = (0x0020, 0x000d);
const SERIES: (u16, u16) = (0x0020, 0x000e);

fn summary_of(bytes: &[u8]) -> DicomSummary {
    inspect_dicom(temp_with(bytes).path()).unwrap().dicom
}

/// (study, series, modality, body part) of the only series, or `None` without studies.
fn only_series(summary: &DicomSummary) -> Option<(String, String, Option<String>, Option<String>)> {
    assert_eq!(summary.files, 1);
    let study = summary.studies.first()?;
    let s = &study.series[0];
    Some((
        study.study_uid.clone(),
        s.series_uid.clone(),
        s.modality.clone(),
        s.body_part.clone(),
    ))
}

fn expected() -> Option<(String, String, Option<String>, Option<String>)> {
    Some((
        "1.2.3".into(),
        "1.2.3.4".into(),
        Some("CT".into()),
        Some("CHEST".into()),
    ))
}

/// Meta group announcing `syntax`, then `dataset` as given.
fn with_meta(syntax: &str, dataset: &[u8]) -> Vec<u8> {
    let mut meta = Vec::new();
    element(&mut meta, (0x0002, 0x0010), "UI", syntax.as_bytes());
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    element(
        &mut out,
        (0x0002, 0x0000),
        "UL",
        &(meta.len() as u32).to_le_bytes(),
    );
    out.extend_from_slice(&meta);
    out.extend_from_slice(dataset);
    out
}

fn implicit(out: &mut Vec<u8>, (group, elem): (u16, u16), value: &[u8]) {
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

#[test]
fn explicit_little_endian_with_an_undefined_length_sequence_first() {
    let mut ds = Vec::new();
    // (0008,1115) SQ, undefined length, one undefined-length item holding a decoy Modality.
    ds.extend_from_slice(&[
        0x08, 0, 0x15, 0x11, b'S', b'Q', 0, 0, 0xff, 0xff, 0xff, 0xff,
    ]);
    ds.extend_from_slice(&[0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
    element(&mut ds, (0x0008, 0x0060), "CS", b"MR");
    ds.extend_from_slice(&[0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0]);
    ds.extend_from_slice(&[0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
    element(&mut ds, (0x0008, 0x0060), "CS", b"CT");
    element(&mut ds, (0x0018, 0x0015), "CS", b"CHEST");
    element(&mut ds, STUDY, "UI", b"1.2.3");
    element(&mut ds, SERIES, "UI", b"1.2.3.4");
    let bytes = with_meta("1.2.840.10008.1.2.1", &ds);
    assert_eq!(only_series(&summary_of(&bytes)), expected());
}

#[test]
fn implicit_little_endian() {
    let mut ds = Vec::new();
    implicit(&mut ds, (0x0008, 0x0060), b"CT");
    implicit(&mut ds, (0x0018, 0x0015), b"CHEST ");
    implicit(&mut ds, STUDY, b"1.2.3\0");
    implicit(&mut ds, SERIES, b"1.2.3.4\0");
    let bytes = with_meta("1.2.840.10008.1.2", &ds);
    assert_eq!(only_series(&summary_of(&bytes)), expected());
}

#[test]
fn explicit_big_endian() {
    let mut ds = Vec::new();
    for ((group, elem), vr, value) in [
        ((0x0008u16, 0x0060u16), b"CS", &b"CT"[..]),
        ((0x0018, 0x0015), b"CS", b"CHEST "),
        (STUDY, b"UI", b"1.2.3\0"),
        (SERIES, b"UI", b"1.2.3.4\0"),
    ] {
        ds.extend_from_slice(&group.to_be_bytes());
        ds.extend_from_slice(&elem.to_be_bytes());
        ds.extend_from_slice(vr);
        ds.extend_from_slice(&(value.len() as u16).to_be_bytes());
        ds.extend_from_slice(value);
    }
    let bytes = with_meta("1.2.840.10008.1.2.2", &ds);
    assert_eq!(only_series(&summary_of(&bytes)), expected());
}

#[test]
fn deep_nesting_neither_crashes_nor_counts() {
    let mut ds = Vec::new();
    for _ in 0..100_000 {
        ds.extend_from_slice(&[
            0x08, 0, 0x15, 0x11, b'S', b'Q', 0, 0, 0xff, 0xff, 0xff, 0xff,
        ]);
        ds.extend_from_slice(&[0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
    }
    let bytes = with_meta("1.2.840.10008.1.2.1", &ds);
    // The stack size tokio gives blocking tasks.
    let summary = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || summary_of(&bytes))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(only_series(&summary), None);
}

#[test]
fn a_huge_declared_length_is_neither_allocated_nor_read() {
    let mut ds = Vec::new();
    ds.extend_from_slice(&[
        0x08, 0, 0x19, 0x01, b'U', b'T', 0, 0, 0xf0, 0xff, 0xff, 0xff,
    ]);
    ds.extend_from_slice(b"tiny");
    let started = Instant::now();
    let summary = summary_of(&with_meta("1.2.840.10008.1.2.1", &ds));
    assert_eq!(only_series(&summary), None);
    assert!(started.elapsed().as_millis() < 500);
}

#[test]
fn truncated_and_deflated_headers_count_without_a_study() {
    let full = dicom_file(&[(STUDY, "UI", "1.2.3"), (SERIES, "UI", "1.2.3.4")]);
    assert!(only_series(&summary_of(&full)).is_some());
    let cut = &full[..full.len() - 90];
    assert_eq!(only_series(&summary_of(cut)), None);
    let deflated = with_meta("1.2.840.10008.1.2.1.99", &[0x4b, 0x4c, 0x4a, 0x06, 0x00]);
    assert_eq!(only_series(&summary_of(&deflated)), None);
}

#[test]
fn a_mixed_archive_is_inventoried_entry_by_entry() {
    let dicom = dicom_file(&[(STUDY, "UI", "9.8"), (SERIES, "UI", "9.8.7")]);
    let dicomdir = dicom_file(&[((0x0004, 0x1130), "CS", "ID")]);
    let mut garbled = vec![0u8; 128];
    garbled.extend_from_slice(b"DICM not a header at all");
    let files: [(&str, &[u8]); 7] = [
        ("study/", b""),
        ("study/IM1", &dicom),
        ("study/IM2.dcm", &dicom),
        ("DICOMDIR", &dicomdir),
        ("study/broken", &garbled),
        ("fake.dcm", b"plain text, not DICOM"),
        ("empty.txt", b""),
    ];
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    writer.set_comment("exported by PACS").unwrap();
    for (name, content) in files {
        if name.ends_with('/') {
            writer.add_directory(name, deflated()).unwrap();
        } else {
            writer.start_file(name, deflated()).unwrap();
            std::io::Write::write_all(&mut writer, content).unwrap();
        }
    }
    let bytes = writer.finish().unwrap().into_inner();
    let inv = inspect_zip(temp_with(&bytes).path(), &Limits::default()).unwrap();
    let rows: Vec<_> = inv
        .entries
        .iter()
        .map(|e| (e.filename.as_str(), e.is_dicom, e.content_type.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("study/IM1", true, "application/dicom"),
            ("study/IM2.dcm", true, "application/dicom"),
            ("DICOMDIR", true, "application/dicom"),
            ("study/broken", true, "application/dicom"),
            ("fake.dcm", false, "application/dicom"),
            ("empty.txt", false, "text/plain"),
        ]
    );
    let empty = &inv.entries[5];
    assert_eq!((empty.size, empty.compression_ratio), (0, 0.0));
    assert!(
        inv.entries
            .iter()
            .all(|e| e.modified_time.as_deref().is_some_and(|t| t.len() == 19))
    );
    let zip = inv.zip.unwrap();
    assert_eq!(zip.comment.as_deref(), Some("exported by PACS"));
    assert_eq!(zip.total_files, 6);
    assert_eq!(inv.dicom.files, 4);
    assert_eq!(inv.dicom.studies.len(), 1);
    assert_eq!(inv.dicom.studies[0].series[0].slices, 2);
}

#[test]
fn agrees_with_dicom_object_on_every_fixture_entry() {
    for name in [
        "ct-normal.zip",
        "ct-two-studies-pacs.zip",
        "ct-emphysema.zip",
    ] {
        let path = fixture(name);
        let mut theirs: BTreeMap<(String, String, String, String), u64> = BTreeMap::new();
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        for i in 0..archive.len() {
            let mut bytes = Vec::new();
            archive
                .by_index(i)
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
            let obj = dicom_object::OpenFileOptions::new()
                .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
                .from_reader(&bytes[..])
                .unwrap();
            let get = |tag| {
                let value = obj.element(tag).unwrap().to_str().unwrap();
                value.trim_end_matches(['\0', ' ']).to_owned()
            };
            use dicom_dictionary_std::tags::*;
            let key = (
                get(STUDY_INSTANCE_UID),
                get(SERIES_INSTANCE_UID),
                get(MODALITY),
                get(BODY_PART_EXAMINED),
            );
            *theirs.entry(key).or_default() += 1;
        }
        let inv = inspect_zip(&path, &Limits::default()).unwrap();
        let mut ours = BTreeMap::new();
        for study in &inv.dicom.studies {
            for s in &study.series {
                let key = (
                    study.study_uid.clone(),
                    s.series_uid.clone(),
                    s.modality.clone().unwrap_or_default(),
                    s.body_part.clone().unwrap_or_default(),
                );
                ours.insert(key, s.slices);
            }
        }
        assert_eq!(ours, theirs, "{name}");
    }
}
