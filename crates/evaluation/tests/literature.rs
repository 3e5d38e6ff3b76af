//! The statistics against published worked examples, with the figures as published.

#![allow(clippy::unwrap_used)]

use triage_evaluation::{Sample, auc, delong, wilson};

/// Hanley, J. A. & McNeil, B. J. (1982). "The meaning and use of the area under a receiver
/// operating characteristic (ROC) curve." Radiology 143:29–36, Table 1: 109 CT images rated on
/// a five-point scale (1 definitely normal … 5 definitely abnormal) by one radiologist; 58
/// truly normal, 51 truly abnormal.
fn hanley_mcneil_1982() -> Sample {
    let normal = [33, 6, 6, 11, 2];
    let abnormal = [3, 2, 2, 11, 33];
    let mut pairs = Vec::new();
    for (rating, (&n, &a)) in normal.iter().zip(&abnormal).enumerate() {
        let score = (rating + 1) as f64;
        pairs.extend(std::iter::repeat_n((score, false), n));
        pairs.extend(std::iter::repeat_n((score, true), a));
    }
    Sample::new(pairs).unwrap()
}

#[test]
fn hanley_mcneil_1982_auc_is_0_893() {
    let sample = hanley_mcneil_1982();
    assert_eq!(
        (sample.positives().len(), sample.negatives().len()),
        (51, 58)
    );
    // Published: A = 0.893 (the Wilcoxon statistic, ties counting one half).
    assert_eq!((auc(&sample) * 1000.0).round() / 1000.0, 0.893);
}

#[test]
fn hanley_mcneil_1982_delong_standard_error_and_interval() {
    let sample = hanley_mcneil_1982();
    let d = delong(&sample);
    // Published: SE(A) = 0.032 by Hanley & McNeil's own approximation (their eq. 2). DeLong's
    // nonparametric estimate of the same standard error lies within 0.002 of it.
    assert!((d.se - 0.032).abs() < 0.002, "DeLong SE {}", d.se);
    // The DeLong variance computed the slow way, straight from the definition in DeLong et al.
    // (1988) eq. (2)-(4): V10(X_i) = mean_j psi(X_i, Y_j), V01(Y_j) = mean_i psi(X_i, Y_j),
    // var = S10/m + S01/n.
    let psi = |x: f64, y: f64| {
        if x > y {
            1.0
        } else if x == y {
            0.5
        } else {
            0.0
        }
    };
    let (pos, neg) = (sample.positives(), sample.negatives());
    let v10: Vec<f64> = pos
        .iter()
        .map(|&x| neg.iter().map(|&y| psi(x, y)).sum::<f64>() / neg.len() as f64)
        .collect();
    let v01: Vec<f64> = neg
        .iter()
        .map(|&y| pos.iter().map(|&x| psi(x, y)).sum::<f64>() / pos.len() as f64)
        .collect();
    let var = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let se = (var(&v10) / pos.len() as f64 + var(&v01) / neg.len() as f64).sqrt();
    assert!((d.se - se).abs() < 1e-12);
    // 0.893 ± 1.96 × 0.0307
    assert!(
        (d.ci.low - 0.8330).abs() < 5e-4 && (d.ci.high - 0.9534).abs() < 5e-4,
        "{:?}",
        d.ci
    );
}

/// Newcombe, R. G. (1998). "Two-sided confidence intervals for the single proportion:
/// comparison of seven methods." Statistics in Medicine 17:857–872, Table I, method 3
/// (Wilson score interval without continuity correction), four examples.
#[test]
fn newcombe_1998_table_i_wilson_intervals() {
    let published = [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ];
    for (x, n, low, high) in published {
        let ci = wilson(x, n).unwrap();
        assert!(
            (ci.low - low).abs() < 5e-5 && (ci.high - high).abs() < 5e-5,
            "{x}/{n}: {ci:?}, published {low}-{high}"
        );
    }
    assert_eq!(wilson(0, 0), None);
}
