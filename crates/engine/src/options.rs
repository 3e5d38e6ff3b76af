//! What the caller chooses: the analysis profile, the pathology threshold, the worker count.

use std::fmt;
use std::str::FromStr;

use crate::EngineError;

/// How thoroughly a series is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// Every 4th slice: quick turnaround while developing; volumes are extrapolated.
    FastDebug,
    /// Every slice; the report.md metric columns.
    Production,
    /// Every slice, plus the 15th percentile of lung density (`pd15_hu`) and the slice spacing.
    Research,
}

impl Profile {
    /// The names accepted by [`FromStr`] and written into the report's `engine` column.
    pub const NAMES: [&'static str; 3] = ["fast_debug", "production", "research"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FastDebug => "fast_debug",
            Self::Production => "production",
            Self::Research => "research",
        }
    }

    /// Analyse slice 0, stride, 2·stride, … of each series (in anatomical order).
    pub fn slice_stride(self) -> usize {
        match self {
            Self::FastDebug => 4,
            Self::Production | Self::Research => 1,
        }
    }

    /// Whether the research-only columns are written.
    pub fn detailed(self) -> bool {
        self == Self::Research
    }
}

impl FromStr for Profile {
    type Err = EngineError;

    /// Exact, lower-case names only: a typo must not silently select another profile.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "fast_debug" => Ok(Self::FastDebug),
            "production" => Ok(Self::Production),
            "research" => Ok(Self::Research),
            other => Err(EngineError::UnknownProfile(other.to_owned())),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Axial key slices kept per series unless the caller says otherwise.
pub const DEFAULT_KEY_SLICES: usize = 3;

/// Parameters of one analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub profile: Profile,
    /// `pathology` is `probability_of_pathology >= threshold`; must lie in 0–1.
    pub threshold: f64,
    /// Worker threads per series (slices are spread over them); at least 1.
    pub threads: usize,
    /// Keep each series' label volume and key images ([`crate::SeriesMasks`]): one byte per
    /// voxel more memory, and a second decode of the key slices.
    pub masks: bool,
    /// How many axial key slices (largest abnormal area first) `masks` keeps.
    pub key_slices: usize,
}

impl Options {
    /// The given profile and threshold, with one worker per available core, without masks.
    pub fn new(profile: Profile, threshold: f64) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            profile,
            threshold,
            threads,
            masks: false,
            key_slices: DEFAULT_KEY_SLICES,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), EngineError> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(EngineError::InvalidThreshold(self.threshold));
        }
        Ok(())
    }
}

impl Default for Options {
    /// Production profile at report.md's example threshold of 0.25.
    fn default() -> Self {
        Self::new(Profile::Production, 0.25)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_names_round_trip_and_unknown_names_are_errors() {
        for name in Profile::NAMES {
            assert_eq!(name.parse::<Profile>().unwrap().as_str(), name);
        }
        assert!(matches!(
            "Production".parse::<Profile>(),
            Err(EngineError::UnknownProfile(n)) if n == "Production"
        ));
    }

    #[test]
    fn threshold_outside_0_1_or_nan_is_rejected() {
        for bad in [-0.1, 1.5, f64::NAN] {
            assert!(Options::new(Profile::Production, bad).validate().is_err());
        }
        assert!(Options::new(Profile::Production, 1.0).validate().is_ok());
    }
}
