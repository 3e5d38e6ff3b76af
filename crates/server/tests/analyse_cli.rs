//! `triage analyse` as a user runs it: the real binary over a mixed folder tree.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::tree;
use triage_batch::Format;
use triage_report::{ProcessingStatus, SeriesRow};

fn triage() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_triage"));
    command.env_remove("TRIAGE_TOKEN");
    command
}

fn analyse(args: &[&str], dir: &Path) -> Output {
    let output = triage()
        .arg("analyse")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn studies(rows: &[SeriesRow]) -> BTreeSet<String> {
    rows.iter()
        .filter(|r| r.processing_status == ProcessingStatus::Success)
        .map(|r| r.study_uid.clone())
        .collect()
}

#[test]
fn a_mixed_tree_gives_a_row_per_series_and_a_failure_per_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    tree::mixed(dir.path());
    let out = analyse(
        &[
            "tree",
            "-o",
            "report.xlsx",
            "--profile",
            "fast_debug",
            "-j",
            "2",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "some inputs failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("| studies            |         10 |"),
        "{stdout}"
    );
    assert!(
        stdout.contains("| failed             |          5 |"),
        "{stdout}"
    );

    let rows = triage_batch::output::read(&dir.path().join("report.xlsx"), Format::Xlsx).unwrap();
    let expected: BTreeSet<String> = tree::expected_study_uids().into_iter().collect();
    assert_eq!(expected.len(), 5);
    assert_eq!(studies(&rows), expected);
    for row in rows
        .iter()
        .filter(|r| r.processing_status == ProcessingStatus::Success)
    {
        assert!(
            row.probability_of_pathology
                .is_some_and(|p| (0.0..=1.0).contains(&p))
        );
        assert!(row.pathology.is_some());
        assert!(
            row.path_to_study.starts_with("tree/"),
            "{}",
            row.path_to_study
        );
    }
    // The PACS export (no extensions) is recognised by content and keeps its folder path.
    assert!(
        rows.iter()
            .any(|r| r.path_to_study.starts_with("tree/pacs/P00300")
                && r.processing_status == ProcessingStatus::Success)
    );

    let failures: Vec<&SeriesRow> = rows
        .iter()
        .filter(|r| r.processing_status == ProcessingStatus::Failure)
        .collect();
    assert_eq!(failures.len(), tree::FAILURES.len(), "{failures:#?}");
    for (path, reason) in tree::FAILURES {
        let row = failures
            .iter()
            .find(|r| r.path_to_study == format!("tree/{path}"))
            .unwrap_or_else(|| panic!("no failure row for {path}: {failures:#?}"));
        let error = row.error.as_deref().unwrap_or_default();
        assert!(error.contains(reason), "{path}: {error}");
    }
}

#[test]
fn a_study_split_across_inputs_is_one_study() {
    // One export split over two "discs": half of the slices in each folder.
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("disc1");
    tree::unzip_pacs_style(&triage_testkit::fixture(tree::PACS_FIXTURE), &first);
    let mut slices: Vec<_> = walk_files(&first);
    slices.sort();
    let total = slices.len();
    for (i, slice) in slices.iter().enumerate().filter(|(i, _)| i % 2 == 1) {
        let moved = dir.path().join("disc2").join(format!("part-{i}"));
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        std::fs::rename(slice, moved).unwrap();
    }
    let out = analyse(
        &["disc1", "disc2", "-o", "r.csv", "--profile", "fast_debug"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0));
    let rows = triage_batch::output::read(&dir.path().join("r.csv"), Format::Csv).unwrap();
    assert_eq!(rows.len(), 1, "one series: {rows:#?}");
    assert_eq!(rows[0].processing_status, ProcessingStatus::Success);
    let slices_in_series = rows[0]
        .extra
        .iter()
        .find(|(name, _)| name == "slices_in_series")
        .map(|(_, cell)| cell.clone());
    assert_eq!(
        slices_in_series,
        Some(triage_report::Cell::Number(total as f64))
    );
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn resume_after_an_interrupted_run_keeps_done_studies_and_does_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let tree = tree::mixed(dir.path());
    std::fs::remove_dir_all(tree.join("empty")).unwrap();
    let args = [
        "tree",
        "-o",
        "report.json",
        "--profile",
        "fast_debug",
        "-j",
        "1",
    ];

    let first = analyse(&[&args[..], &["--stop-after", "1"]].concat(), dir.path());
    assert_eq!(first.status.code(), Some(130), "stopped like Ctrl-C");
    let path = dir.path().join("report.json");
    let early = triage_batch::output::read(&path, Format::Json).unwrap();
    let done = studies(&early);
    assert_eq!(
        done.len(),
        1,
        "one study written before the stop: {early:#?}"
    );
    let uid = done.iter().next().unwrap().clone();
    let early_row = early.iter().find(|r| r.study_uid == uid).unwrap().clone();

    let second = analyse(&[&args[..], &["--resume"]].concat(), dir.path());
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("skipped study {uid}")), "{stderr}");
    let rows = triage_batch::output::read(&path, Format::Json).unwrap();
    assert_eq!(studies(&rows).len(), 5);
    // The done study was not analysed again: its row, timing included, is the earlier one.
    let kept: Vec<&SeriesRow> = rows.iter().filter(|r| r.study_uid == uid).collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].time_of_processing, early_row.time_of_processing);
    assert_eq!(
        kept[0].probability_of_pathology,
        early_row.probability_of_pathology
    );
    // Failure rows are not repeated either.
    let failures = rows
        .iter()
        .filter(|r| r.processing_status == ProcessingStatus::Failure)
        .count();
    assert_eq!(failures, tree::FAILURES.len() - 1);
}

#[test]
fn ctrl_c_stops_cleanly_with_a_readable_report() {
    // The last input (an argument: folders' walks skip anything but regular files) is a named
    // pipe: discovery blocks on it until the test writes, so the
    // signal surely arrives while the run is under way (no timing involved), and before any
    // study is finished.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::copy(
        triage_testkit::fixture("ct-normal.zip"),
        dir.path().join("in/a.zip"),
    )
    .unwrap();
    let fifo = dir.path().join("pipe");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = triage()
        .args([
            "analyse",
            "in",
            "pipe",
            "-o",
            "r.xlsx",
            "--profile",
            "fast_debug",
        ])
        .current_dir(dir.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Opening the pipe for writing returns once triage has opened it for reading: by then the
    // Ctrl-C handler is installed (it is installed before discovery starts).
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    pipe.write_all(b"not a study\n").unwrap();
    drop(pipe);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    // The report is complete and readable: the inputs that failed, no study (none had finished).
    let rows = triage_batch::output::read(&dir.path().join("r.xlsx"), Format::Xlsx).unwrap();
    assert_eq!(studies(&rows).len(), 0, "{rows:#?}");
    assert!(rows.iter().any(|r| r.path_to_study == "pipe"), "{rows:#?}");
}
