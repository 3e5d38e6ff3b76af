//! From command-line paths to studies: walk folders at any depth, recognise ZIP archives and
//! DICOM files by content (never by name: PACS exports have no extensions), read each DICOM
//! header only, and group files by StudyInstanceUID across every input.
//!
//! Whatever cannot become part of a study (a corrupt ZIP, a non-DICOM file, an empty folder, a
//! DICOM file without a readable StudyInstanceUID) becomes an [`InputFailure`] with a reason.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use triage_archive::{ArchiveError, Detected, Limits, Probe};
use triage_engine::{Location, Member};
use walkdir::WalkDir;
use zip::ZipArchive;

/// One study: every file found anywhere with its StudyInstanceUID.
#[derive(Debug, Clone)]
pub struct Study {
    pub study_uid: String,
    pub members: Vec<Member>,
}

impl Study {
    /// The deepest folder shared by the study's files (its UID when they share none).
    pub fn folder(&self) -> String {
        let mut prefix: Option<Vec<&str>> = None;
        for member in &self.members {
            let mut parts: Vec<&str> = member.name.split('/').collect();
            parts.pop();
            prefix = Some(match prefix {
                None => parts,
                Some(mut p) => {
                    let shared = p.iter().zip(&parts).take_while(|(a, b)| a == b).count();
                    p.truncate(shared);
                    p
                }
            });
        }
        match prefix.map(|p| p.join("/")) {
            Some(folder) if !folder.is_empty() => folder,
            _ => self.study_uid.clone(),
        }
    }
}

/// An input (or part of one) that holds no analysable study, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct InputFailure {
    /// The path as the user would recognise it (`/`-separated).
    pub path: String,
    pub reason: String,
}

/// What a set of paths holds.
#[derive(Debug, Default)]
pub struct Discovery {
    /// In order of first appearance.
    pub studies: Vec<Study>,
    pub failures: Vec<InputFailure>,
}

/// Names skipped silently: operating-system litter and the DICOMDIR index of a DICOM medium
/// (it has the DICOM marker but belongs to no study).
fn is_ignored(name: &str) -> bool {
    name.starts_with('.') || name.eq_ignore_ascii_case("DICOMDIR")
}

/// Walks `inputs` (folders, ZIP archives or DICOM files) in the order given; folders in name
/// order, so repeated runs see the same order.
pub fn discover(inputs: &[PathBuf], limits: &Limits) -> Discovery {
    let mut found = Found::default();
    for input in inputs {
        if input.is_dir() {
            walk_folder(input, limits, &mut found);
        } else {
            file(input, limits, &mut found);
        }
    }
    found.finish()
}

fn walk_folder(root: &Path, limits: &Limits, found: &mut Found) {
    // Links are followed (exports often link slices); walkdir reports a loop as an error.
    for entry in WalkDir::new(root).follow_links(true).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().map_or_else(|| display(root), display);
                found.fail(path, format!("cannot read: {e}"));
                continue;
            }
        };
        let name = entry.file_name().to_string_lossy();
        if entry.depth() > 0 && is_ignored(&name) {
            continue;
        }
        if entry.file_type().is_dir() {
            let empty = std::fs::read_dir(entry.path()).map(|mut d| d.next().is_none());
            if matches!(empty, Ok(true)) {
                found.fail(display(entry.path()), "empty folder: no files".to_owned());
            }
        } else if entry.file_type().is_file() {
            file(entry.path(), limits, found);
        }
    }
}

fn file(path: &Path, limits: &Limits, found: &mut Found) {
    let shown = display(path);
    match triage_archive::detect(path) {
        Err(e) => found.fail(shown, format!("cannot read: {e}")),
        Ok(Detected::Zip) => zip(path, shown, limits, found),
        Ok(Detected::Dicom) => {
            let probe =
                File::open(path).and_then(|f| triage_archive::probe_dicom(BufReader::new(f)));
            match probe {
                Err(e) => found.fail(shown, format!("cannot read: {e}")),
                Ok(probe) => found.dicom(
                    shown.clone(),
                    probe,
                    Location::File(path.to_owned()),
                    &shown,
                ),
            }
        }
        Ok(Detected::Other) => found.fail(
            shown,
            "neither a DICOM file (no DICM marker at byte 128) nor a ZIP archive".to_owned(),
        ),
    }
}

fn zip(path: &Path, shown: String, limits: &Limits, found: &mut Found) {
    // The server's own checks (corrupt or truncated, encrypted, zip bombs, unsafe names).
    if let Err(e) = triage_archive::inspect_zip(path, limits) {
        found.fail(shown, invalid_archive(&e));
        return;
    }
    let mut archive = match File::open(path).map(BufReader::new).map(ZipArchive::new) {
        Ok(Ok(archive)) => archive,
        Ok(Err(e)) => return found.fail(shown, format!("invalid ZIP archive: {e}")),
        Err(e) => return found.fail(shown, format!("cannot read: {e}")),
    };
    let before = found.members;
    let mut unreadable = 0;
    for index in 0..archive.len() {
        let Ok(entry) = archive.by_index(index) else {
            unreadable += 1;
            continue;
        };
        if !entry.is_file() {
            continue;
        }
        let Ok(inner) = entry.name().map(|n| n.into_owned()) else {
            unreadable += 1;
            continue;
        };
        if inner.rsplit('/').next().is_some_and(is_ignored) {
            continue;
        }
        match triage_archive::probe_dicom(entry) {
            // Other entries of an archive (a README, a viewer) are not failures; an archive
            // with no DICOM file at all is, below.
            Ok(Probe::NotDicom) => {}
            Ok(probe) => found.dicom(
                format!("{shown}/{inner}"),
                probe,
                Location::ZipEntry {
                    archive: path.to_owned(),
                    index,
                },
                &shown,
            ),
            Err(_) => unreadable += 1,
        }
    }
    if found.members == before && !found.unidentified.contains_key(&shown) {
        let detail = if unreadable > 0 {
            format!(" ({unreadable} entries could not be decompressed)")
        } else {
            String::new()
        };
        found.fail(
            shown,
            format!("the archive contains no DICOM files{detail}"),
        );
    }
}

fn invalid_archive(e: &ArchiveError) -> String {
    format!("invalid ZIP archive: {e}")
}

/// A path with `/` separators, as typed or found.
fn display(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

#[derive(Default)]
struct Found {
    studies: Vec<Study>,
    by_uid: HashMap<String, usize>,
    failures: Vec<InputFailure>,
    /// DICOM files without a readable StudyInstanceUID, per input: (count, first name).
    unidentified: HashMap<String, (usize, String)>,
    unidentified_order: Vec<String>,
    members: usize,
}

impl Found {
    fn fail(&mut self, path: String, reason: String) {
        self.failures.push(InputFailure { path, reason });
    }

    fn dicom(&mut self, name: String, probe: Probe, location: Location, input: &str) {
        match probe {
            Probe::NotDicom => self.fail(
                name,
                "neither a DICOM file (no DICM marker at byte 128) nor a ZIP archive".to_owned(),
            ),
            Probe::Dicom {
                study_uid: Some(study_uid),
                ..
            } => {
                let at = *self.by_uid.entry(study_uid.clone()).or_insert_with(|| {
                    self.studies.push(Study {
                        study_uid,
                        members: Vec::new(),
                    });
                    self.studies.len() - 1
                });
                self.studies[at].members.push(Member { name, location });
                self.members += 1;
            }
            Probe::Dicom {
                study_uid: None, ..
            } => {
                let key = if input == name {
                    folder_of(&name)
                } else {
                    input.to_owned()
                };
                let slot = self.unidentified.entry(key.clone()).or_insert_with(|| {
                    self.unidentified_order.push(key);
                    (0, name)
                });
                slot.0 += 1;
            }
        }
    }

    fn finish(mut self) -> Discovery {
        for key in std::mem::take(&mut self.unidentified_order) {
            if let Some((count, first)) = self.unidentified.remove(&key) {
                self.failures.push(InputFailure {
                    path: key,
                    reason: format!(
                        "{count} DICOM file(s) without a readable StudyInstanceUID, e.g. {first}"
                    ),
                });
            }
        }
        Discovery {
            studies: self.studies,
            failures: self.failures,
        }
    }
}

fn folder_of(name: &str) -> String {
    match name.rsplit_once('/') {
        Some((folder, _)) if !folder.is_empty() => folder.to_owned(),
        _ => ".".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare_dicom() -> Vec<u8> {
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes
    }

    #[test]
    fn litter_is_ignored_and_every_other_problem_is_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("a/empty")).unwrap();
        std::fs::write(root.join("a/.DS_Store"), b"junk").unwrap();
        std::fs::write(root.join("a/DICOMDIR"), bare_dicom()).unwrap();
        std::fs::write(root.join("a/IM1"), bare_dicom()).unwrap();
        std::fs::write(root.join("a/IM2"), bare_dicom()).unwrap();
        std::fs::write(root.join("a/readme"), b"text").unwrap();
        let found = discover(&[root.join("a"), root.join("missing")], &Limits::default());
        assert!(found.studies.is_empty());
        let reasons: Vec<(String, String)> = found
            .failures
            .iter()
            .map(|f| {
                let path = f.path.rsplit('/').take(2).collect::<Vec<_>>();
                (path.join("<"), f.reason.clone())
            })
            .collect();
        assert_eq!(reasons.len(), 4, "{reasons:#?}");
        assert!(reasons[0].0 == "empty<a" && reasons[0].1.starts_with("empty folder"));
        assert!(reasons[1].0 == "readme<a" && reasons[1].1.starts_with("neither"));
        assert!(reasons[2].0.starts_with("missing") && reasons[2].1.starts_with("cannot read"));
        assert!(found.failures[3].path.ends_with("/a"), "{reasons:#?}");
        assert!(
            reasons[3]
                .1
                .starts_with("2 DICOM file(s) without a readable StudyInstanceUID")
        );
    }
}
