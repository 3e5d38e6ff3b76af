//! Evaluation of a triage system against ground truth: given one score and one label per
//! study, the ROC curve, the AUC (the Mann–Whitney statistic, ties counting one half) with
//! 95 % confidence intervals by DeLong's method and by a stratified, seeded bootstrap, the
//! confusion matrix and sensitivity, specificity, PPV, NPV and accuracy at a threshold with
//! Wilson 95 % intervals, the Youden-optimal threshold, the threshold reaching a target
//! sensitivity, the paired DeLong test of two score sets, and the time-per-study distribution.
//!
//! Around the statistics: a labels-file parser (CSV or XLSX), a reader of LCT-format reports
//! (through `triage-report`), plots (`plotters`, SVG and PNG with an embedded font) and an XLSX
//! report (`rust_xlsxwriter`).
//!
//! Pure and synchronous: no I/O beyond the buffers it is handed, no async, no framework. It may
//! depend on `triage-domain` (report rows), `triage-report`, calamine, csv, rust_xlsxwriter, plotters, png, dejavu, rand_chacha,
//! rayon (bootstrap resamples in parallel), libm, serde and thiserror. Degenerate input (nothing,
//! one class only, a NaN score, a study twice) is an [`EvalError`], never a panic or a NaN in the
//! output.

mod bootstrap;
mod confusion;
mod delong;
mod error;
mod evaluation;
mod labels;
mod lct;
mod plot;
mod roc;
mod sample;
mod timing;
mod wilson;
mod xlsx;

pub use bootstrap::{BootstrapOptions, bootstrap_auc_ci};
pub use confusion::{Confusion, OperatingPoint, operating_point};
pub use delong::{DeLong, PairedComparison, delong, paired_delong};
pub use error::EvalError;
pub use evaluation::{
    CalibrationBin, Evaluation, EvaluationInput, EvaluationOptions, RuleOut, StudyScore, compare,
    evaluate,
};
pub use labels::{Label, parse_labels};
pub use lct::{ReportStudies, read_lct_report, study_scores};
pub use plot::{calibration_svg, roc_png, roc_svg};
pub use roc::{RocPoint, auc, roc_curve, threshold_for_sensitivity, youden_threshold};
pub use sample::Sample;
pub use timing::{TimePerStudy, time_per_study};
pub use wilson::{Interval, wilson};
pub use xlsx::report_xlsx;

/// The two-sided 95 % quantile of the standard normal distribution.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Ten minutes, the LCT limit of time per study, in seconds.
pub const TEN_MINUTES_SECS: f64 = 600.0;
