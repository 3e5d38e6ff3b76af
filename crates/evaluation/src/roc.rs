//! The ROC curve, the AUC as the Mann–Whitney statistic, and thresholds picked from the curve.

use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::sample::{Sample, below_and_at_most};

/// One point of the empirical ROC curve: calling every study with `score >= threshold`
/// positive gives these rates. The first point, (0, 0), has no threshold (nothing is called
/// positive).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RocPoint {
    pub threshold: Option<f64>,
    pub fpr: f64,
    pub tpr: f64,
}

/// The AUC: the probability that a random positive scores above a random negative, ties
/// counting one half — the Mann–Whitney U divided by `n1·n0`, equal to the trapezoidal area
/// under the empirical ROC curve. O(n log n).
pub fn auc(sample: &Sample) -> f64 {
    let negatives = sample.negatives();
    let mut twice_u: u128 = 0;
    for &x in sample.positives() {
        let (below, at_most) = below_and_at_most(negatives, x);
        // Twice the count, so that ties (one half each) stay integral.
        twice_u += (below + at_most) as u128;
    }
    let pairs = sample.positives().len() as f64 * negatives.len() as f64;
    twice_u as f64 / 2.0 / pairs
}

/// The empirical ROC curve, one point per distinct score from the highest down, starting at
/// (0, 0) and ending at (1, 1).
pub fn roc_curve(sample: &Sample) -> Vec<RocPoint> {
    let mut scores: Vec<f64> = sample
        .positives()
        .iter()
        .chain(sample.negatives())
        .copied()
        .collect();
    scores.sort_by(|a, b| b.total_cmp(a));
    scores.dedup();
    let n1 = sample.positives().len() as f64;
    let n0 = sample.negatives().len() as f64;
    let mut points = Vec::with_capacity(scores.len() + 1);
    points.push(RocPoint {
        threshold: None,
        fpr: 0.0,
        tpr: 0.0,
    });
    for threshold in scores {
        let called = |sorted: &[f64]| sorted.len() - sorted.partition_point(|&x| x < threshold);
        points.push(RocPoint {
            threshold: Some(threshold),
            fpr: called(sample.negatives()) as f64 / n0,
            tpr: called(sample.positives()) as f64 / n1,
        });
    }
    points
}

/// The threshold maximising Youden's J = sensitivity + specificity − 1 (the highest such
/// threshold when several tie).
pub fn youden_threshold(curve: &[RocPoint]) -> Option<f64> {
    let mut best: Option<(f64, f64)> = None;
    for point in curve {
        let Some(threshold) = point.threshold else {
            continue;
        };
        let j = point.tpr - point.fpr;
        if best.is_none_or(|(best_j, _)| j > best_j) {
            best = Some((j, threshold));
        }
    }
    best.map(|(_, threshold)| threshold)
}

/// The highest threshold whose sensitivity reaches `target` (e.g. 0.95 for a rule-out
/// operating point: the most normal studies set aside while missing at most 5 % of
/// pathology).
///
/// # Errors
/// [`EvalError::InvalidParameter`] unless `0 < target <= 1`.
pub fn threshold_for_sensitivity(curve: &[RocPoint], target: f64) -> Result<f64, EvalError> {
    if !(target > 0.0 && target <= 1.0) {
        return Err(EvalError::InvalidParameter {
            field: "target_sensitivity",
            reason: "must be in (0, 1]".into(),
        });
    }
    curve
        .iter()
        .find(|point| point.tpr >= target && point.threshold.is_some())
        .and_then(|point| point.threshold)
        .ok_or_else(|| EvalError::Degenerate("no threshold reaches the target sensitivity".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(pairs: &[(f64, bool)]) -> Sample {
        Sample::new(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn perfect_and_reversed_separation() {
        let s = sample(&[(0.9, true), (0.8, true), (0.1, false), (0.2, false)]);
        assert_eq!(auc(&s), 1.0);
        assert_eq!(auc(&s.swapped()), 0.0);
        let curve = roc_curve(&s);
        assert_eq!(curve.first().unwrap().tpr, 0.0);
        assert_eq!(
            (curve.last().unwrap().fpr, curve.last().unwrap().tpr),
            (1.0, 1.0)
        );
        assert_eq!(youden_threshold(&curve), Some(0.8));
        assert_eq!(threshold_for_sensitivity(&curve, 0.5).unwrap(), 0.9);
    }

    #[test]
    fn all_tied_scores_give_one_half() {
        let s = sample(&[(0.5, true), (0.5, false), (0.5, true)]);
        assert_eq!(auc(&s), 0.5);
    }

    #[test]
    fn a_target_outside_zero_one_is_refused() {
        let s = sample(&[(0.9, true), (0.1, false)]);
        assert!(threshold_for_sensitivity(&roc_curve(&s), 1.5).is_err());
        assert!(threshold_for_sensitivity(&roc_curve(&s), f64::NAN).is_err());
    }
}
