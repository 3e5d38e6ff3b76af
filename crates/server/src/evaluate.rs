//! `triage evaluate`: the evaluation of an LCT-format report (from any system) against a labels
//! file, offline — no configuration, database or object store. Prints a table or one JSON
//! object (the API's evaluation resource) and, with `--out`, writes the figures and the
//! workbook there.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use triage_evaluation::{
    BootstrapOptions, EvalError, Evaluation, EvaluationInput, EvaluationOptions, Interval,
    calibration_svg, evaluate, parse_labels, read_lct_report, report_xlsx, roc_png, roc_svg,
};

/// The arguments of `triage evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Ground truth: CSV or XLSX with `study_uid` and `label` (or `pathology`, `ground_truth`).
    #[arg(long)]
    pub labels: PathBuf,
    /// An LCT-format XLSX report (one row per series; a study scores its highest probability).
    #[arg(long)]
    pub report: PathBuf,
    /// The operating point; by default the Youden-optimal threshold.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Write roc.svg, roc.png, calibration.svg, evaluation.xlsx and evaluation.json here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The sensitivity the rule-out operating point must reach.
    #[arg(long, default_value_t = 0.95)]
    pub target_sensitivity: f64,
    /// Bootstrap resamples for the AUC interval.
    #[arg(long, default_value_t = BootstrapOptions::default().resamples)]
    pub resamples: u32,
    /// Seed of the bootstrap (the same seed gives the same interval).
    #[arg(long, default_value_t = BootstrapOptions::default().seed)]
    pub seed: u64,
}

/// How the result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Why `triage evaluate` failed.
#[derive(Debug, thiserror::Error)]
pub enum EvaluateError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Evaluation(#[from] EvalError),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, EvaluateError> {
    std::fs::read(path).map_err(|source| EvaluateError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<(), EvaluateError> {
    std::fs::write(&path, bytes).map_err(|source| EvaluateError::Write { path, source })
}

/// Runs the evaluation and returns what to print.
///
/// # Errors
/// An unreadable file, an [`EvalError`] (bad labels or report, degenerate data), or a figure
/// that cannot be written.
pub fn run(args: &EvaluateArgs) -> Result<String, EvaluateError> {
    let labels = parse_labels(&read(&args.labels)?)?;
    let report = read_lct_report(&read(&args.report)?)?;
    let input = EvaluationInput {
        scores: report.scored,
        labels,
    };
    let options = EvaluationOptions {
        threshold: args.threshold,
        target_sensitivity: args.target_sensitivity,
        bootstrap: BootstrapOptions {
            resamples: args.resamples,
            seed: args.seed,
        },
    };
    let evaluation = evaluate(&input, options)?;
    let json =
        serde_json::to_string_pretty(&evaluation).map_err(|e| EvalError::Render(e.to_string()))?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|source| EvaluateError::Write {
            path: dir.clone(),
            source,
        })?;
        write(dir.join("roc.svg"), roc_svg(&evaluation)?.as_bytes())?;
        write(dir.join("roc.png"), &roc_png(&evaluation)?)?;
        write(
            dir.join("calibration.svg"),
            calibration_svg(&evaluation)?.as_bytes(),
        )?;
        write(dir.join("evaluation.xlsx"), &report_xlsx(&evaluation)?)?;
        write(dir.join("evaluation.json"), json.as_bytes())?;
    }
    Ok(match args.format {
        Format::Json => json,
        Format::Table => table(&evaluation),
    })
}

fn ci(interval: Option<Interval>) -> String {
    interval.map_or_else(
        || "-".to_owned(),
        |i| format!("[{:.3}, {:.3}]", i.low, i.high),
    )
}

fn value(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"))
}

/// The human-readable summary.
pub fn table(e: &Evaluation) -> String {
    let mut rows: Vec<(String, String, String)> = vec![
        (
            "studies".into(),
            e.n.to_string(),
            format!("{} positive, {} negative", e.positives, e.negatives),
        ),
        (
            "AUC (DeLong 95% CI)".into(),
            value(Some(e.auc)),
            ci(Some(e.auc_ci_delong)),
        ),
        (
            "AUC (bootstrap 95% CI)".into(),
            value(Some(e.auc)),
            ci(Some(e.auc_ci_bootstrap)),
        ),
        (
            "threshold".into(),
            value(Some(e.threshold)),
            e.threshold_source.clone(),
        ),
        (
            "sensitivity".into(),
            value(Some(e.sensitivity)),
            ci(Some(e.sensitivity_ci)),
        ),
        (
            "specificity".into(),
            value(Some(e.specificity)),
            ci(Some(e.specificity_ci)),
        ),
        ("PPV".into(), value(e.ppv), ci(e.ppv_ci)),
        ("NPV".into(), value(e.npv), ci(e.npv_ci)),
        (
            "accuracy".into(),
            value(Some(e.accuracy)),
            ci(Some(e.accuracy_ci)),
        ),
        (
            "confusion".into(),
            String::new(),
            format!(
                "TP {} FP {} TN {} FN {}",
                e.confusion.tp, e.confusion.fp, e.confusion.tn, e.confusion.fn_
            ),
        ),
        (
            "Youden threshold".into(),
            value(Some(e.youden_threshold)),
            String::new(),
        ),
    ];
    if let Some(r) = e.rule_out {
        rows.push((
            format!("rule-out (sensitivity >= {})", r.target_sensitivity),
            value(Some(r.threshold)),
            format!(
                "sensitivity {:.3}, specificity {:.3} {}",
                r.sensitivity,
                r.specificity,
                ci(Some(r.specificity_ci))
            ),
        ));
    }
    if let Some(t) = e.time_per_study {
        rows.push((
            "time per study (s)".into(),
            format!("p50 {:.1}", t.p50),
            format!(
                "p95 {:.1}, max {:.1}, {:.1}% under 10 min",
                t.p95,
                t.max,
                t.share_under_10_min * 100.0
            ),
        ));
    }
    rows.push((
        "unmatched labels".into(),
        e.unmatched_labels.len().to_string(),
        String::new(),
    ));
    rows.push((
        "unlabelled studies".into(),
        e.unlabelled_studies.len().to_string(),
        String::new(),
    ));
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, v, note) in rows {
        let _ = writeln!(out, "{name:<width$}  {v:>8}  {note}");
    }
    out
}
