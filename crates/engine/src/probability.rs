//! `probability_of_pathology` from the densitometry: a fixed, documented, monotone function, not a
//! trained model. The formula, its constants and their sources are in docs/engine.md.
//!
//! Each index gets a logistic that is 0.5 at its literature cut-off and σ(−4) ≈ 0.018 at 0 %;
//! the two are combined as "at least one finding" (noisy-OR), so the result never decreases when
//! either index grows.

/// LAA-950 ≥ 5 % is the usual CT definition of emphysema (COPDGene); healthy never-smokers can
/// reach about 5–6 %, so the 0.5 point sits just above, at 6 %.
pub const LAA950_CUTOFF_PERCENT: f64 = 6.0;
/// HAA has no consensus cut-off; 5 % follows the Fleischner Society's extent rule for
/// interstitial lung abnormalities (at least 5 % of a lung zone), applied to the whole lung.
pub const HAA_CUTOFF_PERCENT: f64 = 5.0;
/// Logistic steepness relative to the cut-off: value 0 lies 4 logits below the cut-off.
const STEEPNESS: f64 = 4.0;

/// The combined probability and its two components.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathologyProbability {
    /// `1 − (1 − emphysema)(1 − high_attenuation)`.
    pub overall: f64,
    /// From LAA-950.
    pub emphysema: f64,
    /// From HAA.
    pub high_attenuation: f64,
}

impl PathologyProbability {
    /// The name of the larger component, for `most_dangerous_pathology_type`.
    pub fn dominant_finding(&self) -> &'static str {
        if self.emphysema >= self.high_attenuation {
            "emphysema"
        } else {
            "high_attenuation"
        }
    }
}

/// The engine's probability of pathology for a series' LAA-950 % and HAA %.
pub fn probability_of_pathology(laa950_percent: f64, haa_percent: f64) -> PathologyProbability {
    let emphysema = component(laa950_percent, LAA950_CUTOFF_PERCENT);
    let high_attenuation = component(haa_percent, HAA_CUTOFF_PERCENT);
    PathologyProbability {
        overall: 1.0 - (1.0 - emphysema) * (1.0 - high_attenuation),
        emphysema,
        high_attenuation,
    }
}

/// σ(k · (value − cutoff) / cutoff): 0.5 at the cut-off, σ(−k) at 0.
fn component(value: f64, cutoff: f64) -> f64 {
    let x = STEEPNESS * (value - cutoff) / cutoff;
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_give_one_half_and_zero_gives_a_small_value() {
        assert!((component(6.0, 6.0) - 0.5).abs() < 1e-12);
        let clean = probability_of_pathology(0.0, 0.0);
        assert!(clean.overall > 0.03 && clean.overall < 0.04, "{clean:?}");
        let emphysema = probability_of_pathology(LAA950_CUTOFF_PERCENT, 0.0);
        assert!(emphysema.overall > 0.5 && emphysema.dominant_finding() == "emphysema");
    }

    #[test]
    fn monotone_in_both_indices_and_bounded() {
        let grid: Vec<f64> = (0..=40).map(|i| f64::from(i) * 2.5).collect();
        for &laa in &grid {
            for pair in grid.windows(2) {
                let low = probability_of_pathology(laa, pair[0]).overall;
                let high = probability_of_pathology(laa, pair[1]).overall;
                assert!(low <= high && (0.0..=1.0).contains(&high));
                let low = probability_of_pathology(pair[0], laa).overall;
                let high = probability_of_pathology(pair[1], laa).overall;
                assert!(low <= high);
            }
        }
    }
}
