//! DeLong, DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more correlated
//! receiver operating characteristic curves: a nonparametric approach", Biometrics 44:837–845:
//! the variance of the AUC from the structural components (placement values) of each study,
//! computed in O(n log n) by sorting (as Sun & Xu 2014 do), and the paired test of two AUCs on
//! the same studies.

use serde::{Deserialize, Serialize};

use crate::sample::{Sample, below_and_at_most};
use crate::wilson::Interval;
use crate::{EvalError, Z95};

/// The AUC with its DeLong standard error and 95 % interval (clipped to [0, 1]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DeLong {
    pub auc: f64,
    pub se: f64,
    pub ci: Interval,
}

/// The paired DeLong test of `auc_a − auc_b` on the same studies.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PairedComparison {
    pub n: usize,
    pub auc_a: f64,
    pub auc_b: f64,
    pub difference: f64,
    pub se: f64,
    pub difference_ci: Interval,
    pub z: f64,
    pub p_value: f64,
}

/// Placement values: for each positive, the share of negatives it beats (ties ½) — `V10` —
/// and for each negative, the share of positives that beat it — `V01`. Their means are the AUC.
struct Components {
    v10: Vec<f64>,
    v01: Vec<f64>,
}

fn components(positives: &[f64], negatives: &[f64]) -> Components {
    let n0 = negatives.len() as f64;
    let n1 = positives.len() as f64;
    let v10 = positives
        .iter()
        .map(|&x| {
            let (below, at_most) = below_and_at_most(negatives, x);
            (below + at_most) as f64 / 2.0 / n0
        })
        .collect();
    let v01 = negatives
        .iter()
        .map(|&y| {
            let (below, at_most) = below_and_at_most(positives, y);
            let above = positives.len() - at_most;
            let tied = at_most - below;
            (2 * above + tied) as f64 / 2.0 / n1
        })
        .collect();
    Components { v10, v01 }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample covariance (denominator n − 1); zero for a single value.
fn covariance(a: &[f64], b: &[f64]) -> f64 {
    if a.len() < 2 {
        return 0.0;
    }
    let (ma, mb) = (mean(a), mean(b));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / (a.len() - 1) as f64
}

/// The AUC of `sample` with DeLong's standard error and 95 % interval.
pub fn delong(sample: &Sample) -> DeLong {
    let c = components(sample.positives(), sample.negatives());
    let auc = mean(&c.v10);
    let variance = covariance(&c.v10, &c.v10) / c.v10.len() as f64
        + covariance(&c.v01, &c.v01) / c.v01.len() as f64;
    let se = variance.max(0.0).sqrt();
    DeLong {
        auc,
        se,
        ci: Interval::clipped(auc - Z95 * se, auc + Z95 * se),
    }
}

/// The paired DeLong test of two score sets on the same studies: `labels[i]` is the truth of
/// study `i`, `a[i]` and `b[i]` its two scores.
///
/// # Errors
/// [`EvalError::NotPaired`] if the lengths differ; the [`Sample::new`] errors for either set;
/// [`EvalError::Degenerate`] if the two differ in AUC while the difference has no variance.
pub fn paired_delong(labels: &[bool], a: &[f64], b: &[f64]) -> Result<PairedComparison, EvalError> {
    if labels.len() != a.len() || labels.len() != b.len() {
        return Err(EvalError::NotPaired(format!(
            "{} labels, {} and {} scores",
            labels.len(),
            a.len(),
            b.len()
        )));
    }
    // Validates both sets (finite, both classes) and gives the sorted classes.
    let sample_a = Sample::new(a.iter().copied().zip(labels.iter().copied()))?;
    let sample_b = Sample::new(b.iter().copied().zip(labels.iter().copied()))?;
    // Components per study, in the same study order for both score sets: compute them against
    // the sorted classes, then walk the studies in their given order.
    let per_study = |scores: &[f64], sample: &Sample| -> (Vec<f64>, Vec<f64>) {
        let (n1, n0) = (
            sample.positives().len() as f64,
            sample.negatives().len() as f64,
        );
        let mut v10 = Vec::new();
        let mut v01 = Vec::new();
        for (&score, &label) in scores.iter().zip(labels) {
            if label {
                let (below, at_most) = below_and_at_most(sample.negatives(), score);
                v10.push((below + at_most) as f64 / 2.0 / n0);
            } else {
                let (below, at_most) = below_and_at_most(sample.positives(), score);
                let above = sample.positives().len() - at_most;
                v01.push((2 * above + (at_most - below)) as f64 / 2.0 / n1);
            }
        }
        (v10, v01)
    };
    let (v10_a, v01_a) = per_study(a, &sample_a);
    let (v10_b, v01_b) = per_study(b, &sample_b);
    let (auc_a, auc_b) = (mean(&v10_a), mean(&v10_b));
    let (n1, n0) = (v10_a.len() as f64, v01_a.len() as f64);
    let variance = (covariance(&v10_a, &v10_a) + covariance(&v10_b, &v10_b)
        - 2.0 * covariance(&v10_a, &v10_b))
        / n1
        + (covariance(&v01_a, &v01_a) + covariance(&v01_b, &v01_b)
            - 2.0 * covariance(&v01_a, &v01_b))
            / n0;
    let difference = auc_a - auc_b;
    let se = variance.max(0.0).sqrt();
    let (z, p_value) = if se > 0.0 {
        let z = difference / se;
        (z, two_sided_p(z))
    } else if difference == 0.0 {
        // The same ranking twice: no evidence of any difference.
        (0.0, 1.0)
    } else {
        return Err(EvalError::Degenerate(
            "the AUCs differ but their difference has no variance".into(),
        ));
    };
    Ok(PairedComparison {
        n: labels.len(),
        auc_a,
        auc_b,
        difference,
        se,
        difference_ci: Interval {
            low: difference - Z95 * se,
            high: difference + Z95 * se,
        },
        z,
        p_value,
    })
}

/// P(|Z| ≥ |z|) for a standard normal Z.
pub(crate) fn two_sided_p(z: f64) -> f64 {
    libm::erfc(z.abs() / std::f64::consts::SQRT_2).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_sided_p_of_1_96_is_five_percent() {
        assert!((two_sided_p(Z95) - 0.05).abs() < 1e-12);
        assert_eq!(two_sided_p(0.0), 1.0);
    }

    #[test]
    fn identical_score_sets_do_not_differ() {
        let labels = [true, false, true, false, true];
        let s = [0.9, 0.2, 0.4, 0.5, 0.7];
        let c = paired_delong(&labels, &s, &s).unwrap();
        assert_eq!((c.difference, c.p_value), (0.0, 1.0));
    }

    #[test]
    fn unequal_lengths_are_refused() {
        assert!(matches!(
            paired_delong(&[true, false], &[0.1, 0.2], &[0.3]),
            Err(EvalError::NotPaired(_))
        ));
    }
}
