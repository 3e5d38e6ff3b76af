//! Fixture access and archive building for the engine tests.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use dicom_object::{DefaultDicomObject, OpenFileOptions};
use triage_engine::{Analysis, Options, Profile, SeriesOutcome, SeriesResult};
use zip::ZipArchive;
use zip::write::SimpleFileOptions;

/// `TRIAGE_FIXTURES`, or the shared fixture folder.
pub fn fixture(name: &str) -> PathBuf {
    let dir = std::env::var_os("TRIAGE_FIXTURES")
        .map_or_else(|| PathBuf::from("/work/shared/fixtures"), PathBuf::from);
    dir.join(name)
}

pub fn options(profile: Profile) -> Options {
    Options {
        profile,
        threshold: 0.25,
        threads: 2,
        masks: true,
        key_slices: 3,
    }
}

/// Every file of a ZIP archive: (name, bytes).
pub fn entries(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            (entry.name().unwrap().into_owned(), bytes)
        })
        .collect()
}

pub fn write_zip(path: &Path, files: &[(String, Vec<u8>)]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in files {
        zip.start_file(name.as_str(), SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// Parses a DICOM file with dicom-object directly (independently of the engine).
pub fn dicom(bytes: &[u8]) -> DefaultDicomObject {
    OpenFileOptions::new().from_reader(bytes).unwrap()
}

/// Re-encodes a DICOM file after `change`.
pub fn edited(bytes: &[u8], change: impl FnOnce(&mut DefaultDicomObject)) -> Vec<u8> {
    let mut object = dicom(bytes);
    change(&mut object);
    let mut out = Vec::new();
    object.write_all(&mut out).unwrap();
    out
}

pub fn only_series(analysis: &Analysis) -> &SeriesResult {
    assert_eq!(analysis.series.len(), 1, "{:#?}", analysis.series);
    &analysis.series[0]
}

/// (probability, pathology, slices analysed) of a successful series.
pub fn success(series: &SeriesResult) -> (f64, bool, usize) {
    match &series.outcome {
        SeriesOutcome::Success {
            metrics,
            probability,
            pathology,
            ..
        } => (probability.overall, *pathology, metrics.slices_analysed),
        SeriesOutcome::Failure { reason } => panic!("series failed: {reason}"),
    }
}

pub fn failure(series: &SeriesResult) -> &str {
    match &series.outcome {
        SeriesOutcome::Failure { reason } => reason,
        SeriesOutcome::Success { .. } => panic!("series {} succeeded", series.series_uid),
    }
}
