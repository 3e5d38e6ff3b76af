//! The shared real-world fixtures.

use std::time::Instant;

use triage_archive::{Detected, Limits, detect, inspect, inspect_zip};
use triage_domain::FileType;

use crate::support::fixture;

#[test]
fn ct_normal_is_one_ct_series_of_48_slices() {
    let path = fixture("ct-normal.zip");
    assert_eq!(detect(&path).unwrap(), Detected::Zip);
    let inv = inspect(&path, &Limits::default()).unwrap();
    assert_eq!(inv.file_type, FileType::Zip);

    let zip = inv.zip.as_ref().unwrap();
    assert_eq!(zip.total_files, 48);
    assert_eq!(inv.entries.len(), 48);
    assert!(!zip.is_encrypted);
    assert_eq!(zip.comment, None);
    let sum: u64 = inv.entries.iter().map(|e| e.size).sum();
    assert_eq!(zip.total_size, sum);
    assert!(zip.compression_ratio > 0.0 && zip.compression_ratio < 100.0);

    let first = &inv.entries[0];
    assert_eq!(first.filename, "P00100/338213244704/85868476/IM00001.dcm");
    assert_eq!((first.size, first.compressed_size), (33810, 18915));
    assert_eq!(first.compression_ratio, 44.06);
    assert_eq!(first.modified_time.as_deref(), Some("2026-11-26T15:26:06"));
    assert!(first.is_dicom && !first.is_encrypted);
    assert_eq!(first.content_type, "application/dicom");

    assert_eq!(inv.dicom.files, 48);
    assert_eq!(inv.dicom.studies.len(), 1);
    let study = &inv.dicom.studies[0];
    assert_eq!(
        study.study_uid,
        "1.2.826.0.1.3680043.8.498.91904521985083787679997884338213244704"
    );
    assert_eq!(study.series.len(), 1);
    let series = &study.series[0];
    assert_eq!(
        series.series_uid,
        "1.2.826.0.1.3680043.8.498.13029534852533056781023961131085868476"
    );
    assert_eq!(series.modality.as_deref(), Some("CT"));
    assert_eq!(series.body_part.as_deref(), Some("CHEST"));
    assert_eq!(series.slices, 48);
}

#[test]
fn pacs_export_without_extensions_has_two_studies() {
    let started = Instant::now();
    let inv = inspect_zip(&fixture("ct-two-studies-pacs.zip"), &Limits::default()).unwrap();
    eprintln!(
        "ct-two-studies-pacs.zip inventoried in {:?}",
        started.elapsed()
    );

    assert_eq!(inv.entries.len(), 64);
    assert!(
        inv.entries
            .iter()
            .all(|e| e.is_dicom && !e.filename.contains('.'))
    );
    assert!(
        inv.entries
            .iter()
            .all(|e| e.content_type == "application/dicom")
    );
    assert_eq!(inv.dicom.files, 64);
    let got: Vec<_> = inv
        .dicom
        .studies
        .iter()
        .map(|s| {
            assert_eq!(s.series.len(), 1);
            let series = &s.series[0];
            assert_eq!(series.modality.as_deref(), Some("CT"));
            (
                s.study_uid.as_str(),
                series.series_uid.as_str(),
                series.slices,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "1.2.826.0.1.3680043.8.498.4452681763379458341125508382488284034",
                "1.2.826.0.1.3680043.8.498.56505448327176014297469830808424922942",
                32
            ),
            (
                "1.2.826.0.1.3680043.8.498.8868641233358303395382001881464738214",
                "1.2.826.0.1.3680043.8.498.29728787104680005314988015481168097265",
                32
            ),
        ]
    );
}

#[test]
fn archive_without_dicom_is_inventoried_not_refused() {
    let inv = inspect(&fixture("not-dicom.zip"), &Limits::default()).unwrap();
    assert_eq!(inv.file_type, FileType::Zip);
    assert_eq!(inv.dicom.files, 0);
    assert!(inv.dicom.studies.is_empty());
    let names: Vec<_> = inv
        .entries
        .iter()
        .map(|e| (e.filename.as_str(), e.content_type.as_str(), e.is_dicom))
        .collect();
    assert_eq!(
        names,
        [
            ("notes/readme.txt", "text/plain", false),
            ("image.png", "image/png", false)
        ]
    );
    assert_eq!(inv.zip.unwrap().total_files, 2);
}

#[test]
fn every_fixture_passes_the_default_limits() {
    for name in ["ct-emphysema.zip", "ct-opacity.zip"] {
        let inv = inspect(&fixture(name), &Limits::default()).unwrap();
        assert_eq!(inv.dicom.files, 48, "{name}");
        assert_eq!(inv.dicom.studies.len(), 1, "{name}");
    }
}

#[test]
fn two_thousand_real_slices_are_inventoried_quickly() {
    // Raw-copies the fixture's compressed entries, so nothing is re-deflated here.
    let source = std::fs::File::open(fixture("ct-two-studies-pacs.zip")).unwrap();
    let mut source = zip::ZipArchive::new(source).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(out.reopen().unwrap()));
    for n in 0..2000 {
        let entry = source.by_index(n % source.len()).unwrap();
        writer
            .raw_copy_file_rename(entry, format!("copy{}/{n:05}", n / 64))
            .unwrap();
    }
    writer.finish().unwrap();

    let started = Instant::now();
    let inv = inspect_zip(out.path(), &Limits::default()).unwrap();
    let took = started.elapsed();
    eprintln!("2000-entry archive inventoried in {took:?}");
    assert_eq!(inv.entries.len(), 2000);
    assert_eq!(inv.dicom.files, 2000);
    let slices: u64 = inv
        .dicom
        .studies
        .iter()
        .flat_map(|s| &s.series)
        .map(|s| s.slices)
        .sum();
    assert_eq!((inv.dicom.studies.len(), slices), (2, 2000));
    // Well under a second in release; a debug build on a busy CI machine gets slack.
    assert!(took.as_secs_f64() < 5.0, "{took:?}");
}
