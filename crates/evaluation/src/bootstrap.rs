//! The stratified bootstrap interval of the AUC: positives and negatives are resampled with
//! replacement separately (so every resample keeps both classes and their sizes), the AUC of
//! each resample computed, and the 2.5 % and 97.5 % percentiles reported.
//!
//! Each resample is O(n): negatives are sorted once, and for each positive we know once how
//! many negatives lie below it and at or below it; a resample only needs the running count of
//! drawn negatives along the sorted order. Resample `b` draws from its own ChaCha8 stream
//! (`seed`, stream `b`), so the result does not depend on how rayon splits the work.

use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::sample::{Sample, below_and_at_most};
use crate::timing::quantile;
use crate::wilson::Interval;

/// How many resamples, from which seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapOptions {
    pub resamples: u32,
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            resamples: 2000,
            seed: 20_261_204,
        }
    }
}

/// The stratified bootstrap 95 % percentile interval of the AUC.
///
/// # Errors
/// [`EvalError::InvalidParameter`] for fewer than 10 or more than 100 000 resamples.
pub fn bootstrap_auc_ci(sample: &Sample, options: BootstrapOptions) -> Result<Interval, EvalError> {
    if !(10..=100_000).contains(&options.resamples) {
        return Err(EvalError::InvalidParameter {
            field: "bootstrap_resamples",
            reason: "must be between 10 and 100000".into(),
        });
    }
    let negatives = sample.negatives();
    let n0 = negatives.len();
    let n1 = sample.positives().len();
    // Twice the position bounds, so that one tie counts 1 in integers: below + at_most.
    let bounds: Vec<(u32, u32)> = sample
        .positives()
        .iter()
        .map(|&x| {
            let (below, at_most) = below_and_at_most(negatives, x);
            (below as u32, at_most as u32)
        })
        .collect();
    let pairs = n1 as f64 * n0 as f64;
    let mut aucs: Vec<f64> = (0..options.resamples)
        .into_par_iter()
        .map_init(
            || vec![0u32; n0 + 1],
            |cumulative, b| {
                let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
                rng.set_stream(u64::from(b));
                // Multiplicities of the sorted negatives, then their prefix sums in place:
                // cumulative[k] = how many drawn negatives sit at sorted positions < k.
                cumulative.fill(0);
                for _ in 0..n0 {
                    cumulative[rng.gen_range(0..n0) + 1] += 1;
                }
                for k in 1..=n0 {
                    cumulative[k] += cumulative[k - 1];
                }
                let mut twice_u: u64 = 0;
                for _ in 0..n1 {
                    let (below, at_most) = bounds[rng.gen_range(0..n1)];
                    twice_u += u64::from(cumulative[below as usize])
                        + u64::from(cumulative[at_most as usize]);
                }
                twice_u as f64 / 2.0 / pairs
            },
        )
        .collect();
    aucs.sort_by(f64::total_cmp);
    Ok(Interval::clipped(
        quantile(&aucs, 0.025),
        quantile(&aucs, 0.975),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_interval_and_resamples_are_bounded() {
        let s = Sample::new((0..60).map(|i| (f64::from(i % 17), i % 3 == 0))).unwrap();
        let options = BootstrapOptions {
            resamples: 200,
            seed: 7,
        };
        let a = bootstrap_auc_ci(&s, options).unwrap();
        assert_eq!(a, bootstrap_auc_ci(&s, options).unwrap());
        assert!(a.low < a.high);
        let too_few = BootstrapOptions {
            resamples: 5,
            seed: 7,
        };
        assert!(bootstrap_auc_ci(&s, too_few).is_err());
    }
}
