//! Aliases and their precedence, pathology spellings and decimal commas.

use serde_json::json;

use crate::support::V::{B, Blank, E, N, S};
use crate::support::{V, row, rows};

#[test]
fn probability_percent_alias_is_divided_by_100() {
    assert_eq!(
        row(&["probability_of_pathology_percent"], &[N(71.0)]).probability_of_pathology,
        Some(0.71)
    );
    assert_eq!(
        row(&["probability_of_pathology_percent"], &[S("71,5")]).probability_of_pathology,
        Some(0.715)
    );
}

#[test]
fn the_canonical_probability_wins_per_row_and_falls_back_to_the_alias() {
    let header = [
        "probability_of_pathology_percent",
        "probability_of_pathology",
    ];
    let parsed = rows(
        &header,
        &[
            &[N(30.0), N(0.9)],
            &[N(30.0), Blank],
            &[N(40.0), S("n/a")],
            &[N(50.0), E("#DIV/0!")],
        ],
    );
    let got: Vec<_> = parsed.iter().map(|r| r.probability_of_pathology).collect();
    assert_eq!(got, [Some(0.9), Some(0.3), Some(0.4), Some(0.5)]);
}

#[test]
fn time_aliases_in_precedence_order() {
    assert_eq!(
        row(&["study_uid", "processing_time"], &[S("1"), N(3.2)])
            .time_of_processing
            .as_deref(),
        Some("3.2")
    );
    assert_eq!(
        row(&["study_uid", "time_of_analysis"], &[S("1"), N(12.0)])
            .time_of_processing
            .as_deref(),
        Some("12")
    );
    let header = [
        "study_uid",
        "time_of_analysis",
        "processing_time",
        "time_of_processing",
    ];
    let parsed = rows(
        &header,
        &[
            &[S("1"), N(1.0), N(2.0), N(3.0)],
            &[S("2"), N(1.0), N(2.0)],
            &[S("3"), N(1.0)],
        ],
    );
    let got: Vec<_> = parsed
        .iter()
        .map(|r| r.time_of_processing.as_deref())
        .collect();
    assert_eq!(got, [Some("3"), Some("2"), Some("1")]);
}

#[test]
fn time_of_processing_text_is_kept_trimmed() {
    let r = row(
        &["study_uid", "time_of_processing"],
        &[S("1"), S("  12,5 s ")],
    );
    assert_eq!(r.time_of_processing.as_deref(), Some("12,5 s"));
}

#[test]
fn anomaly_aliases_in_precedence_order() {
    let single = |name: &str, v| row(&["study_uid", name], &[S("1"), v]).probability_of_anomaly;
    assert_eq!(single("probability_of_anomaly", N(0.4)), Some(0.4));
    assert_eq!(single("anom_score", N(0.3)), Some(0.3));
    assert_eq!(single("probability_of_anomaly_percent", N(20.0)), Some(0.2));
    assert_eq!(single("prob@anomaly", S("0,1")), Some(0.1));
    let header = [
        "study_uid",
        "prob@anomaly",
        "probability_of_anomaly_percent",
        "anom_score",
        "probability_of_anomaly",
    ];
    let parsed = rows(
        &header,
        &[
            &[S("1"), N(0.1), N(20.0), N(0.3), N(0.4)],
            &[S("2"), N(0.1), N(20.0), N(0.3)],
            &[S("3"), N(0.1), N(20.0)],
            &[S("4"), N(0.1)],
        ],
    );
    let got: Vec<_> = parsed.iter().map(|r| r.probability_of_anomaly).collect();
    assert_eq!(got, [Some(0.4), Some(0.3), Some(0.2), Some(0.1)]);
    // The aliases are consumed, but prob@anomaly is a prob@ column and also kept.
    assert_eq!(
        parsed[0].extra,
        json!({"prob@anomaly": 0.1}).as_object().unwrap().clone()
    );
}

#[test]
fn pathology_understands_every_spelling() {
    let cases = [
        (B(true), Some(true)),
        (B(false), Some(false)),
        (N(1.0), Some(true)),
        (N(0.0), Some(false)),
        (S("true"), Some(true)),
        (S("FALSE"), Some(false)),
        (S(" 1 "), Some(true)),
        (S("0"), Some(false)),
        (S("Yes"), Some(true)),
        (S("no"), Some(false)),
        (S("Да"), Some(true)),
        (S("НЕТ"), Some(false)),
        (S("maybe"), None),
        (N(0.5), None),
        (N(2.0), None),
        (Blank, None),
    ];
    let sheet: Vec<[V; 2]> = cases.iter().map(|(v, _)| [S("1"), *v]).collect();
    let sheet: Vec<&[V]> = sheet.iter().map(|r| &r[..]).collect();
    let parsed = rows(&["study_uid", "pathology"], &sheet);
    let got: Vec<_> = parsed.iter().map(|r| r.pathology).collect();
    let want: Vec<_> = cases.iter().map(|(_, p)| *p).collect();
    assert_eq!(got, want);
}

#[test]
fn numbers_in_text_cells_accept_a_decimal_comma() {
    let r = row(
        &["study_uid", "probability_of_pathology", "prob@nodule"],
        &[S("1"), S("0,71"), S(" 0.66 ")],
    );
    assert_eq!(r.probability_of_pathology, Some(0.71));
    assert_eq!(r.hazard_probability, Some(0.66));
    let r = row(
        &["study_uid", "probability_of_pathology"],
        &[S("1"), S("1,234.5")],
    );
    assert_eq!(r.probability_of_pathology, None);
}
