//! The confusion matrix at a threshold and the rates derived from it, with Wilson intervals.

use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::sample::Sample;
use crate::wilson::{Interval, wilson};

/// Counts at a threshold: a study is called positive when `score >= threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub tn: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
}

/// Everything measured at one threshold. A rate whose denominator is zero (PPV when nothing
/// is called positive, NPV when nothing is called negative) is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    pub threshold: f64,
    pub confusion: Confusion,
    pub sensitivity: f64,
    pub sensitivity_ci: Interval,
    pub specificity: f64,
    pub specificity_ci: Interval,
    pub ppv: Option<f64>,
    pub ppv_ci: Option<Interval>,
    pub npv: Option<f64>,
    pub npv_ci: Option<Interval>,
    pub accuracy: f64,
    pub accuracy_ci: Interval,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// The operating point of `sample` at `threshold`.
///
/// # Errors
/// [`EvalError::InvalidParameter`] for a threshold that is not a finite number.
pub fn operating_point(sample: &Sample, threshold: f64) -> Result<OperatingPoint, EvalError> {
    if !threshold.is_finite() {
        return Err(EvalError::InvalidParameter {
            field: "threshold",
            reason: "must be a finite number".into(),
        });
    }
    let at_or_above =
        |sorted: &[f64]| (sorted.len() - sorted.partition_point(|&x| x < threshold)) as u64;
    let tp = at_or_above(sample.positives());
    let fp = at_or_above(sample.negatives());
    let fn_ = sample.positives().len() as u64 - tp;
    let tn = sample.negatives().len() as u64 - fp;
    let confusion = Confusion { tp, fp, tn, fn_ };
    let both = |a: u64, b: u64| -> Result<(f64, Interval), EvalError> {
        match (ratio(a, b), wilson(a, b)) {
            (Some(rate), Some(ci)) => Ok((rate, ci)),
            _ => Err(EvalError::Empty),
        }
    };
    // A sample holds both classes, so these denominators are positive.
    let (sensitivity, sensitivity_ci) = both(tp, tp + fn_)?;
    let (specificity, specificity_ci) = both(tn, tn + fp)?;
    let (accuracy, accuracy_ci) = both(tp + tn, tp + tn + fp + fn_)?;
    Ok(OperatingPoint {
        threshold,
        confusion,
        sensitivity,
        sensitivity_ci,
        specificity,
        specificity_ci,
        ppv: ratio(tp, tp + fp),
        ppv_ci: wilson(tp, tp + fp),
        npv: ratio(tn, tn + fn_),
        npv_ci: wilson(tn, tn + fn_),
        accuracy,
        accuracy_ci,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_at_a_threshold_include_equal_scores() {
        let s = Sample::new([
            (0.9, true),
            (0.5, true),
            (0.2, true),
            (0.5, false),
            (0.1, false),
        ])
        .unwrap();
        let op = operating_point(&s, 0.5).unwrap();
        assert_eq!(
            op.confusion,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 1,
                fn_: 1
            }
        );
        assert!((op.sensitivity - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(op.specificity, 0.5);
        assert!((op.ppv.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(op.npv, Some(0.5));
        assert_eq!(op.accuracy, 0.6);
    }

    #[test]
    fn nothing_called_positive_leaves_ppv_undefined_not_nan() {
        let s = Sample::new([(0.9, true), (0.1, false)]).unwrap();
        let op = operating_point(&s, 2.0).unwrap();
        assert_eq!((op.ppv, op.ppv_ci), (None, None));
        let json = serde_json::to_string(&op).unwrap();
        assert!(json.contains("\"ppv\":null") && json.contains("\"fn\":1"));
        assert!(operating_point(&s, f64::NAN).is_err());
    }
}
