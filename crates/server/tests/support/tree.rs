//! A folder tree like a research group's hand-over: fixture ZIPs, a PACS export (one fixture
//! unzipped with extensionless names), a corrupt ZIP, a truncated ZIP, a ZIP without DICOM, a
//! non-DICOM file and an empty folder.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use triage_testkit::fixture;

/// The fixture studies in the tree (StudyInstanceUIDs are read from the files).
pub const GOOD_ZIPS: [&str; 2] = ["ct-normal.zip", "ct-emphysema.zip"];
/// Unzipped into `pacs/` with the `.dcm` extensions stripped.
pub const PACS_FIXTURE: &str = "ct-opacity.zip";
/// Holds two studies.
pub const TWO_STUDIES: &str = "ct-two-studies-pacs.zip";

/// Paths (relative to the tree) that must come out as `Failure` rows, with a word of the reason.
pub const FAILURES: [(&str, &str); 5] = [
    ("zips/corrupt.zip", "neither a DICOM file"),
    ("zips/truncated.zip", "invalid ZIP archive"),
    ("zips/not-dicom.zip", "no DICOM files"),
    ("notes.txt", "neither a DICOM file"),
    ("empty", "empty folder"),
];

/// Builds the tree under `root` and returns it.
pub fn mixed(root: &Path) -> PathBuf {
    let tree = root.join("tree");
    fs::create_dir_all(tree.join("zips")).unwrap();
    fs::create_dir_all(tree.join("empty")).unwrap();
    for name in GOOD_ZIPS.iter().chain([&TWO_STUDIES, &"not-dicom.zip"]) {
        fs::copy(fixture(name), tree.join("zips").join(name)).unwrap();
    }
    unzip_pacs_style(&fixture(PACS_FIXTURE), &tree.join("pacs"));
    // Bytes that are neither ZIP nor DICOM, under a .zip name.
    fs::write(
        tree.join("zips/corrupt.zip"),
        b"this is not an archive\n".repeat(50),
    )
    .unwrap();
    // A ZIP cut after its first kilobytes: a local header but no central directory.
    let whole = fs::read(fixture("ct-normal.zip")).unwrap();
    fs::write(tree.join("zips/truncated.zip"), &whole[..4096]).unwrap();
    fs::write(tree.join("notes.txt"), "exported by PACS on Friday\n").unwrap();
    tree
}

/// Extracts `zip` into `into`, dropping `.dcm` from every name (as PACS exports have none).
pub fn unzip_pacs_style(zip: &Path, into: &Path) {
    let mut archive = zip::ZipArchive::new(fs::File::open(zip).unwrap()).unwrap();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        if !entry.is_file() {
            continue;
        }
        let name = entry.name().unwrap().trim_end_matches(".dcm").to_owned();
        let target = into.join(name);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        io::copy(&mut entry, &mut fs::File::create(target).unwrap()).unwrap();
    }
}

/// The StudyInstanceUIDs every good input of the tree holds (from the fixtures' own headers,
/// via the engine: one row per series of each archive).
pub fn expected_study_uids() -> Vec<String> {
    let mut uids: Vec<String> = GOOD_ZIPS
        .iter()
        .chain([&PACS_FIXTURE, &TWO_STUDIES])
        .flat_map(|name| {
            let analysis = triage_engine::analyse_path(
                &fixture(name),
                &triage_engine::Options::new(triage_engine::Profile::FastDebug, 0.25),
            )
            .unwrap();
            analysis.series.into_iter().map(|s| s.study_uid)
        })
        .collect();
    uids.sort();
    uids.dedup();
    uids
}
