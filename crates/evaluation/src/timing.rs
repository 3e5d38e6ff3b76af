//! The distribution of processing time per study (LCT allowed at most ten minutes).

use serde::{Deserialize, Serialize};

use crate::TEN_MINUTES_SECS;

/// Seconds per study: median, 95th percentile (linear interpolation between order
/// statistics), maximum, and the share of studies done in at most ten minutes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TimePerStudy {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
    pub share_under_10_min: f64,
}

/// The distribution of `seconds`; non-finite and negative values are ignored. `None` when no
/// study has a time.
pub fn time_per_study(seconds: &[f64]) -> Option<TimePerStudy> {
    let mut times: Vec<f64> = seconds
        .iter()
        .copied()
        .filter(|t| t.is_finite() && *t >= 0.0)
        .collect();
    if times.is_empty() {
        return None;
    }
    times.sort_by(f64::total_cmp);
    let under = times.iter().filter(|&&t| t <= TEN_MINUTES_SECS).count();
    Some(TimePerStudy {
        n: times.len(),
        p50: quantile(&times, 0.5),
        p95: quantile(&times, 0.95),
        max: times[times.len() - 1],
        share_under_10_min: under as f64 / times.len() as f64,
    })
}

/// The `q` quantile of ascending, non-empty `sorted`, interpolating linearly (Hyndman & Fan
/// type 7, the default of R and numpy).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_share_under_ten_minutes() {
        let t = time_per_study(&[10.0, 20.0, 30.0, 40.0, 700.0, f64::NAN]).unwrap();
        assert_eq!(t.n, 5);
        assert_eq!(t.p50, 30.0);
        assert!((t.p95 - (40.0 + 0.8 * 660.0)).abs() < 1e-9);
        assert_eq!(t.max, 700.0);
        assert_eq!(t.share_under_10_min, 0.8);
        assert_eq!(time_per_study(&[]), None);
    }
}
