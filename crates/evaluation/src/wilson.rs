//! Wilson's score interval for a proportion: Wilson (1927), recommended by Newcombe (1998).

use serde::{Deserialize, Serialize};

use crate::Z95;

/// A confidence interval, serialised as `[low, high]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(from = "[f64; 2]", into = "[f64; 2]")]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// `[low, high]` clipped to [0, 1].
    pub fn clipped(low: f64, high: f64) -> Self {
        Self {
            low: low.clamp(0.0, 1.0),
            high: high.clamp(0.0, 1.0),
        }
    }

    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

impl From<[f64; 2]> for Interval {
    fn from([low, high]: [f64; 2]) -> Self {
        Self { low, high }
    }
}

impl From<Interval> for [f64; 2] {
    fn from(interval: Interval) -> Self {
        [interval.low, interval.high]
    }
}

/// The Wilson 95 % interval of `successes` out of `trials`; `None` when `trials` is zero
/// (the proportion is undefined, which the output says with `null`, never NaN).
pub fn wilson(successes: u64, trials: u64) -> Option<Interval> {
    if trials == 0 || successes > trials {
        return None;
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 / denominator * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval::clipped(centre - half, centre + half))
}
