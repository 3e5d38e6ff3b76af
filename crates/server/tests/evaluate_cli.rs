//! `triage evaluate` as a user runs it: the real binary on an LCT-format report written the way
//! another team's system would (one row per series, probabilities and times), against a CSV
//! labels file; JSON and table output, the figures in `--out`, and clear refusals.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use rust_xlsxwriter::Workbook;
use serde_json::Value;

/// 40 studies, two series each. Pathology studies score higher on average, with overlap; the
/// second series of a study always scores lower, so the study's score is the first's.
fn write_report(path: &Path) {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let header = [
        "study_uid",
        "series_uid",
        "probability_of_pathology",
        "pathology",
        "processing_status",
        "time_of_processing",
    ];
    sheet.write_row(0, 0, header).unwrap();
    let mut row = 1;
    for i in 0..40u32 {
        let p = study_score(i);
        for (series, probability) in [(1, p), (2, p / 2.0)] {
            sheet.write_string(row, 0, format!("1.2.840.{i}")).unwrap();
            sheet
                .write_string(row, 1, format!("1.2.840.{i}.{series}"))
                .unwrap();
            sheet.write_number(row, 2, probability).unwrap();
            sheet
                .write_number(row, 3, f64::from(u8::from(probability >= 0.5)))
                .unwrap();
            sheet.write_string(row, 4, "Success").unwrap();
            sheet.write_number(row, 5, 20.0 + f64::from(i)).unwrap();
            row += 1;
        }
    }
    // A study the labels do not know.
    sheet.write_row(row, 0, ["9.9.9", "9.9.9.1"]).unwrap();
    sheet.write_number(row, 2, 0.3).unwrap();
    workbook.save(path).unwrap();
}

fn study_score(i: u32) -> f64 {
    let base = if is_pathology(i) { 0.45 } else { 0.2 };
    base + f64::from((i * 7) % 10) / 20.0
}

fn is_pathology(i: u32) -> bool {
    i.is_multiple_of(2)
}

fn write_labels(path: &Path) {
    let mut csv = String::from("study_uid;ground_truth\n");
    for i in 0..40u32 {
        let label = if is_pathology(i) { "да" } else { "нет" };
        csv.push_str(&format!("1.2.840.{i};{label}\n"));
    }
    csv.push_str("7.7.7;1\n");
    std::fs::write(path, csv).unwrap();
}

fn triage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_triage"))
        .arg("evaluate")
        .args(args)
        // Offline: no configuration is read, so a broken one must not matter.
        .env("TRIAGE__NOT_A_KEY", "x")
        .output()
        .unwrap()
}

/// The AUC counted pair by pair from the scores the test wrote.
fn expected_auc() -> f64 {
    let (mut u, mut pairs) = (0.0, 0.0);
    for i in (0..40).filter(|&i| is_pathology(i)) {
        for j in (0..40).filter(|&j| !is_pathology(j)) {
            let (x, y) = (study_score(i), study_score(j));
            u += if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            };
            pairs += 1.0;
        }
    }
    u / pairs
}

#[test]
fn json_output_has_the_issue_keys_and_the_figures_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let (report, labels, out) = (
        dir.path().join("results.xlsx"),
        dir.path().join("labels.csv"),
        dir.path().join("figures"),
    );
    write_report(&report);
    write_labels(&labels);
    let output = triage(&[
        "--labels",
        labels.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
        "--threshold",
        "0.5",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["n"], 40);
    assert_eq!(
        (json["positives"].as_u64(), json["negatives"].as_u64()),
        (Some(20), Some(20))
    );
    assert!((json["auc"].as_f64().unwrap() - expected_auc()).abs() < 1e-12);
    assert_eq!(json["threshold"], 0.5);
    for key in [
        "auc_ci_delong",
        "auc_ci_bootstrap",
        "sensitivity_ci",
        "specificity_ci",
    ] {
        assert_eq!(json[key].as_array().unwrap().len(), 2, "{key}");
    }
    for key in [
        "sensitivity",
        "specificity",
        "ppv",
        "npv",
        "accuracy",
        "youden_threshold",
    ] {
        assert!(json[key].is_number(), "{key}");
    }
    let c = &json["confusion"];
    let called: u64 = ["tp", "fp"].iter().map(|k| c[*k].as_u64().unwrap()).sum();
    let at_or_above = (0..40).filter(|&i| study_score(i) >= 0.5).count() as u64;
    assert_eq!(called, at_or_above);
    assert_eq!(json["unmatched_labels"], serde_json::json!(["7.7.7"]));
    assert_eq!(json["unlabelled_studies"], serde_json::json!(["9.9.9"]));
    let t = &json["time_per_study"];
    assert_eq!(
        (t["p50"].as_f64(), t["max"].as_f64()),
        (Some(39.5), Some(59.0))
    );
    assert_eq!(t["share_under_10_min"], 1.0);

    let svg = std::fs::read_to_string(out.join("roc.svg")).unwrap();
    assert_eq!(
        roxmltree::Document::parse(&svg)
            .unwrap()
            .root_element()
            .tag_name()
            .name(),
        "svg"
    );
    roxmltree::Document::parse(&std::fs::read_to_string(out.join("calibration.svg")).unwrap())
        .unwrap();
    let png = std::fs::read(out.join("roc.png")).unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(png.as_slice()))
        .read_info()
        .unwrap()
        .info()
        .clone();
    assert!(info.width > 0 && info.height > 0);
    assert!(
        std::fs::read(out.join("evaluation.xlsx"))
            .unwrap()
            .starts_with(b"PK")
    );
}

#[test]
fn the_table_names_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let (report, labels) = (
        dir.path().join("results.xlsx"),
        dir.path().join("labels.csv"),
    );
    write_report(&report);
    write_labels(&labels);
    let output = triage(&[
        "--labels",
        labels.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = String::from_utf8(output.stdout).unwrap();
    for line in [
        "AUC (DeLong 95% CI)",
        "AUC (bootstrap 95% CI)",
        "sensitivity",
        "specificity",
        "PPV",
        "NPV",
        "youden",
        "time per study",
    ] {
        assert!(table.contains(line), "{line} missing from\n{table}");
    }
    assert!(table.contains(&format!("{:.3}", expected_auc())));
}

#[test]
fn bad_input_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (report, labels) = (
        dir.path().join("results.xlsx"),
        dir.path().join("labels.csv"),
    );
    write_report(&report);
    std::fs::write(&labels, "study_uid,label\n1.2.840.0,1\n1.2.840.2,1\n").unwrap();
    let one_class = triage(&[
        "--labels",
        labels.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(one_class.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&one_class.stderr);
    assert!(
        stderr.contains("one class") && !stderr.contains("panicked"),
        "{stderr}"
    );

    std::fs::write(&labels, "study_uid,label\n1.2.840.0,maybe\n").unwrap();
    let bad_value = triage(&[
        "--labels",
        labels.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(bad_value.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_value.stderr).contains("not a label"));

    let missing = triage(&[
        "--labels",
        "/nonexistent/labels.csv",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(1));
}
