//! `analyse_members`: files gathered from loose files and several archives give the rows the
//! same files give as one archive.

use std::fs;
use std::io;

use triage_engine::{Location, Member, Options, Profile, analyse_members, analyse_path};

use crate::support::fixture;

fn outcomes(analysis: &triage_engine::Analysis) -> Vec<(String, String, String)> {
    let mut rows: Vec<_> = analysis
        .rows()
        .into_iter()
        .map(|r| {
            (
                r.study_uid,
                r.series_uid,
                format!("{:?} {:?}", r.probability_of_pathology, r.error),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn members_from_an_archive_and_loose_files_equal_the_archive() {
    let zip_path = fixture("ct-two-studies-pacs.zip");
    let options = Options::new(Profile::FastDebug, 0.25);
    let whole = analyse_path(&zip_path, &options).unwrap();

    // Every other entry stays in the archive; the rest are extracted as loose files.
    let dir = tempfile::tempdir().unwrap();
    let mut archive = zip::ZipArchive::new(fs::File::open(&zip_path).unwrap()).unwrap();
    let mut members = Vec::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        if !entry.is_file() {
            continue;
        }
        let name = entry.name().unwrap().to_string();
        let location = if index % 2 == 0 {
            Location::ZipEntry {
                archive: zip_path.clone(),
                index,
            }
        } else {
            let loose = dir.path().join(format!("loose-{index}"));
            io::copy(&mut entry, &mut fs::File::create(&loose).unwrap()).unwrap();
            Location::File(loose)
        };
        members.push(Member { name, location });
    }
    let gathered = analyse_members(members, &options).unwrap();
    assert_eq!(whole.series.len(), 2);
    assert_eq!(outcomes(&gathered), outcomes(&whole));
    let paths: Vec<_> = gathered
        .series
        .iter()
        .map(|s| s.path_to_study.clone())
        .collect();
    let expected: Vec<_> = whole
        .series
        .iter()
        .map(|s| s.path_to_study.clone())
        .collect();
    assert_eq!(paths, expected);
}
