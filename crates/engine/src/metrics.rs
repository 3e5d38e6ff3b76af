//! Lung densitometry: per-slice counts summed into a series accumulator, then the indices.
//!
//! The accumulator is a few counters plus a 1-HU histogram, so it costs the same for 20 slices
//! or 2000; each worker keeps one and they are merged at the end.

use crate::finding::{BoundingBox, merge_boxes};
use crate::hounsfield::HuImage;
use crate::lung::AIR_BELOW_HU;

/// LAA-950: lung voxels below this are emphysema-like (Gevenois et al. 1996).
pub const LAA_BELOW_HU: f32 = -950.0;
/// HAA: lung voxels in this closed range are ground-glass/interstitial-like.
pub const HAA_RANGE_HU: (f32, f32) = (-700.0, -250.0);

/// Histogram range for percentiles: most lung voxels are below −400 HU (the closed mask adds
/// denser findings, clamped into the last bin); lower values are clamped into the first bin.
const HISTOGRAM_FROM_HU: f32 = -1100.0;
const HISTOGRAM_BINS: usize = (AIR_BELOW_HU - HISTOGRAM_FROM_HU) as usize;

/// Sums over the analysed slices of one series.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LungAccumulator {
    pub slices: usize,
    pub lung_voxels: u64,
    pub laa_voxels: u64,
    pub haa_voxels: u64,
    pub hu_sum: f64,
    /// Bounding box of the finding masks so far.
    pub finding_bounds: Option<BoundingBox>,
    histogram: Vec<u64>,
}

impl LungAccumulator {
    pub fn new() -> Self {
        Self {
            slices: 0,
            lung_voxels: 0,
            laa_voxels: 0,
            haa_voxels: 0,
            hu_sum: 0.0,
            finding_bounds: None,
            histogram: vec![0; HISTOGRAM_BINS],
        }
    }

    /// Adds the lung pixels of one slice.
    pub fn add_slice(&mut self, image: &HuImage, mask: &[bool]) {
        self.slices += 1;
        for (&hu, _) in image.hu.iter().zip(mask).filter(|(_, in_lung)| **in_lung) {
            self.lung_voxels += 1;
            self.hu_sum += f64::from(hu);
            if hu < LAA_BELOW_HU {
                self.laa_voxels += 1;
            }
            if (HAA_RANGE_HU.0..=HAA_RANGE_HU.1).contains(&hu) {
                self.haa_voxels += 1;
            }
            let bin = ((hu - HISTOGRAM_FROM_HU).max(0.0) as usize).min(HISTOGRAM_BINS - 1);
            self.histogram[bin] += 1;
        }
    }

    /// Widens the finding box by one slice's.
    pub fn add_findings(&mut self, bounds: Option<BoundingBox>) {
        self.finding_bounds = merge_boxes(self.finding_bounds, bounds);
    }

    pub fn merge(mut self, other: &Self) -> Self {
        self.finding_bounds = merge_boxes(self.finding_bounds, other.finding_bounds);
        self.slices += other.slices;
        self.lung_voxels += other.lung_voxels;
        self.laa_voxels += other.laa_voxels;
        self.haa_voxels += other.haa_voxels;
        self.hu_sum += other.hu_sum;
        for (mine, theirs) in self.histogram.iter_mut().zip(&other.histogram) {
            *mine += theirs;
        }
        self
    }

    /// The HU below which `fraction` of the lung voxels lie (bin centre, 1 HU resolution).
    pub fn percentile_hu(&self, fraction: f64) -> Option<f64> {
        let wanted = (fraction * self.lung_voxels as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bin, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return Some(f64::from(HISTOGRAM_FROM_HU) + bin as f64 + 0.5);
            }
        }
        None
    }
}

/// The densitometry of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct LungMetrics {
    /// % of lung voxels below −950 HU.
    pub laa950_percent: f64,
    /// % of lung voxels in −700 … −250 HU.
    pub haa_percent: f64,
    /// Mean density of the lung voxels (HU).
    pub mean_lung_hu: f64,
    /// 15th percentile of lung density (HU), written by the research profile.
    pub pd15_hu: Option<f64>,
    /// Lung volume in ml, extrapolated to the whole series when slices were skipped; `None`
    /// without PixelSpacing or a slice spacing.
    pub lung_volume_ml: Option<f64>,
    pub slices_analysed: usize,
    pub slices_in_series: usize,
    /// Distance between slice centres (mm).
    pub slice_spacing_mm: Option<f64>,
}

/// Geometry needed to turn voxel counts into a volume.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub pixel_mm2: Option<f64>,
    pub slice_spacing_mm: Option<f64>,
    pub slices_in_series: usize,
}

impl LungMetrics {
    /// `None` when the mask found no lung at all.
    pub(crate) fn from_accumulator(sum: &LungAccumulator, geometry: Geometry) -> Option<Self> {
        if sum.lung_voxels == 0 || sum.slices == 0 {
            return None;
        }
        let voxels = sum.lung_voxels as f64;
        let percent = |count: u64| 100.0 * count as f64 / voxels;
        // Each analysed slice stands for slices_in_series / slices_analysed slices.
        let represented = geometry.slices_in_series as f64 / sum.slices as f64;
        let lung_volume_ml = geometry
            .pixel_mm2
            .zip(geometry.slice_spacing_mm)
            .map(|(area, spacing)| voxels * area * spacing * represented / 1000.0);
        Some(Self {
            laa950_percent: percent(sum.laa_voxels),
            haa_percent: percent(sum.haa_voxels),
            mean_lung_hu: sum.hu_sum / voxels,
            pd15_hu: sum.percentile_hu(0.15),
            lung_volume_ml,
            slices_analysed: sum.slices,
            slices_in_series: geometry.slices_in_series,
            slice_spacing_mm: geometry.slice_spacing_mm,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(values: &[f32]) -> (HuImage, Vec<bool>) {
        let image = HuImage {
            rows: 1,
            columns: values.len(),
            hu: values.to_vec(),
        };
        (image, vec![true; values.len()])
    }

    #[test]
    fn indices_count_the_right_bands_and_merge_adds_up() {
        let (a, mask_a) = slice(&[-1000.0, -960.0, -950.0, -850.0]);
        let (b, mask_b) = slice(&[-700.0, -600.0, -401.0, -850.0]);
        let mut first = LungAccumulator::new();
        first.add_slice(&a, &mask_a);
        let mut second = LungAccumulator::new();
        second.add_slice(&b, &mask_b);
        let sum = first.merge(&second);
        let geometry = Geometry {
            pixel_mm2: Some(0.5),
            slice_spacing_mm: Some(2.0),
            slices_in_series: 4,
        };
        let m = LungMetrics::from_accumulator(&sum, geometry).unwrap();
        assert_eq!(m.laa950_percent, 25.0);
        assert_eq!(m.haa_percent, 37.5);
        assert_eq!(m.mean_lung_hu, -6311.0 / 8.0);
        // 8 voxels × 0.5 mm² × 2 mm × (4 slices / 2 analysed) = 16 mm³.
        assert_eq!(m.lung_volume_ml, Some(0.016));
        assert_eq!(m.slices_analysed, 2);
    }

    #[test]
    fn percentile_and_empty_lungs() {
        let (image, mask) = slice(&[-2000.0, -900.0, -800.0, -700.0]);
        let mut sum = LungAccumulator::new();
        sum.add_slice(&image, &mask);
        assert_eq!(sum.percentile_hu(0.25), Some(-1099.5));
        assert_eq!(sum.percentile_hu(0.5), Some(-899.5));
        let geometry = Geometry {
            pixel_mm2: None,
            slice_spacing_mm: None,
            slices_in_series: 1,
        };
        let m = LungMetrics::from_accumulator(&sum, geometry).unwrap();
        assert_eq!(m.lung_volume_ml, None);
        assert!(LungMetrics::from_accumulator(&LungAccumulator::new(), geometry).is_none());
    }
}
