//! The evaluation as an XLSX workbook: a summary sheet (one figure per row, with its 95 %
//! interval), the ROC points, the calibration bins and the matched studies.

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::EvalError;
use crate::evaluation::Evaluation;
use crate::wilson::Interval;

/// Writes `evaluation` as XLSX bytes.
///
/// # Errors
/// [`EvalError::Render`].
pub fn report_xlsx(evaluation: &Evaluation) -> Result<Vec<u8>, EvalError> {
    build(evaluation).map_err(|e| EvalError::Render(e.to_string()))
}

fn build(e: &Evaluation) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    summary(workbook.add_worksheet().set_name("summary")?, e, &bold)?;

    let roc = workbook.add_worksheet().set_name("roc")?;
    roc.write_row_with_format(0, 0, ["threshold", "fpr", "tpr"], &bold)?;
    for (i, p) in e.roc.iter().enumerate() {
        let row = i as u32 + 1;
        if let Some(t) = p.threshold {
            roc.write_number(row, 0, t)?;
        }
        roc.write_number(row, 1, p.fpr)?;
        roc.write_number(row, 2, p.tpr)?;
    }

    let calibration = workbook.add_worksheet().set_name("calibration")?;
    calibration.write_row_with_format(
        0,
        0,
        ["low", "high", "n", "mean_score", "observed_rate"],
        &bold,
    )?;
    for (i, b) in e.calibration.iter().enumerate() {
        let row = i as u32 + 1;
        calibration.write_row(
            row,
            0,
            [b.low, b.high, b.n as f64, b.mean_score, b.observed_rate],
        )?;
    }

    let studies = workbook.add_worksheet().set_name("studies")?;
    studies.write_row_with_format(0, 0, ["study_uid", "score", "label", "called"], &bold)?;
    for (i, s) in e.studies.iter().enumerate() {
        let row = i as u32 + 1;
        studies.write_string(row, 0, &s.study_uid)?;
        studies.write_number(row, 1, s.score)?;
        studies.write_number(row, 2, f64::from(u8::from(s.pathology)))?;
        studies.write_number(row, 3, f64::from(u8::from(s.score >= e.threshold)))?;
    }
    workbook.save_to_buffer()
}

fn summary(sheet: &mut Worksheet, e: &Evaluation, bold: &Format) -> Result<(), XlsxError> {
    sheet.write_row_with_format(0, 0, ["figure", "value", "ci_low", "ci_high"], bold)?;
    let rows: Vec<(&str, Option<f64>, Option<Interval>)> = vec![
        ("n", Some(e.n as f64), None),
        ("positives", Some(e.positives as f64), None),
        ("negatives", Some(e.negatives as f64), None),
        ("auc (DeLong CI)", Some(e.auc), Some(e.auc_ci_delong)),
        ("auc (bootstrap CI)", Some(e.auc), Some(e.auc_ci_bootstrap)),
        ("threshold", Some(e.threshold), None),
        ("sensitivity", Some(e.sensitivity), Some(e.sensitivity_ci)),
        ("specificity", Some(e.specificity), Some(e.specificity_ci)),
        ("ppv", e.ppv, e.ppv_ci),
        ("npv", e.npv, e.npv_ci),
        ("accuracy", Some(e.accuracy), Some(e.accuracy_ci)),
        ("tp", Some(e.confusion.tp as f64), None),
        ("fp", Some(e.confusion.fp as f64), None),
        ("tn", Some(e.confusion.tn as f64), None),
        ("fn", Some(e.confusion.fn_ as f64), None),
        ("youden_threshold", Some(e.youden_threshold), None),
        ("rule_out_threshold", e.rule_out.map(|r| r.threshold), None),
        (
            "rule_out_specificity",
            e.rule_out.map(|r| r.specificity),
            e.rule_out.map(|r| r.specificity_ci),
        ),
        ("time_p50_s", e.time_per_study.map(|t| t.p50), None),
        ("time_p95_s", e.time_per_study.map(|t| t.p95), None),
        ("time_max_s", e.time_per_study.map(|t| t.max), None),
        (
            "share_under_10_min",
            e.time_per_study.map(|t| t.share_under_10_min),
            None,
        ),
        (
            "unmatched_labels",
            Some(e.unmatched_labels.len() as f64),
            None,
        ),
        (
            "unlabelled_studies",
            Some(e.unlabelled_studies.len() as f64),
            None,
        ),
    ];
    for (i, (name, value, ci)) in rows.into_iter().enumerate() {
        let row = i as u32 + 1;
        sheet.write_string(row, 0, name)?;
        if let Some(v) = value {
            sheet.write_number(row, 1, v)?;
        }
        if let Some(ci) = ci {
            sheet.write_number(row, 2, ci.low)?;
            sheet.write_number(row, 3, ci.high)?;
        }
    }
    sheet.set_column_width(0, 24)?;
    Ok(())
}
