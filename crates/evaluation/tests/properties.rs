//! Properties that must hold on any data.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use triage_evaluation::{BootstrapOptions, Sample, auc, bootstrap_auc_ci, delong};

/// Scores from a small set of values (many ties) with random labels, both classes present.
fn tied_pairs() -> impl Strategy<Value = Vec<(f64, bool)>> {
    prop::collection::vec((0u8..6, any::<bool>()), 2..120)
        .prop_map(|v| {
            v.into_iter()
                .map(|(s, l)| (f64::from(s) / 5.0, l))
                .collect::<Vec<_>>()
        })
        .prop_filter("both classes", |v| {
            v.iter().any(|p| p.1) && v.iter().any(|p| !p.1)
        })
}

/// The Mann–Whitney U counted pair by pair.
fn mann_whitney_u(pairs: &[(f64, bool)]) -> f64 {
    let mut u = 0.0;
    for &(x, _) in pairs.iter().filter(|p| p.1) {
        for &(y, _) in pairs.iter().filter(|p| !p.1) {
            u += if x > y {
                1.0
            } else if x == y {
                0.5
            } else {
                0.0
            };
        }
    }
    u
}

proptest! {
    #[test]
    fn auc_is_mann_whitney_u_over_n1_n0_with_ties(pairs in tied_pairs()) {
        let sample = Sample::new(pairs.iter().copied()).unwrap();
        let n1 = pairs.iter().filter(|p| p.1).count() as f64;
        let n0 = pairs.len() as f64 - n1;
        prop_assert!((auc(&sample) - mann_whitney_u(&pairs) / (n1 * n0)).abs() < 1e-12);
        prop_assert!((delong(&sample).auc - auc(&sample)).abs() < 1e-12);
    }

    #[test]
    fn swapping_labels_gives_one_minus_auc(pairs in tied_pairs()) {
        let sample = Sample::new(pairs.iter().copied()).unwrap();
        let swapped = Sample::new(pairs.iter().map(|&(s, l)| (s, !l))).unwrap();
        prop_assert!((auc(&swapped) - (1.0 - auc(&sample))).abs() < 1e-12);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// n = 200 (100 + 100) with normally distributed scores, separation `shift`: the stratified
    /// bootstrap percentile interval and DeLong's interval agree within 0.02 at both ends.
    #[test]
    fn bootstrap_and_delong_intervals_agree_within_0_02_on_n_200(seed in any::<u64>(), shift in 0.3f64..1.5) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut normal = || {
            // Box–Muller
            let (u1, u2): (f64, f64) = (rng.r#gen::<f64>().max(1e-300), rng.r#gen());
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        };
        let pairs: Vec<(f64, bool)> = (0..200).map(|i| {
            let positive = i % 2 == 0;
            (normal() + if positive { shift } else { 0.0 }, positive)
        }).collect();
        let sample = Sample::new(pairs).unwrap();
        let d = delong(&sample).ci;
        let b = bootstrap_auc_ci(&sample, BootstrapOptions { resamples: 2000, seed }).unwrap();
        prop_assert!((d.low - b.low).abs() < 0.02 && (d.high - b.high).abs() < 0.02, "DeLong {:?}, bootstrap {:?}", d, b);
    }
}
