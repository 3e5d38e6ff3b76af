//! Per-slice finding masks: each lung voxel labelled normal, low attenuation (emphysema-like,
//! below −950 HU) or high attenuation (ground glass and denser, from −700 HU up: consolidation
//! given back to the lung by the closing counts too), small findings dropped as noise; and the
//! bounding box of all findings (`pathology_localization`).

use crate::hounsfield::HuImage;
use crate::metrics::{HAA_RANGE_HU, LAA_BELOW_HU};
use crate::morphology::drop_small;

/// Outside the lungs.
pub const LABEL_BACKGROUND: u8 = 0;
/// Lung without a finding.
pub const LABEL_LUNG: u8 = 1;
/// Lung below −950 HU.
pub const LABEL_LOW_ATTENUATION: u8 = 2;
/// Lung at −700 HU or denser.
pub const LABEL_HIGH_ATTENUATION: u8 = 3;

/// Finding regions smaller than this (mm², per slice) are noise or partial volume at vessel and
/// lung walls, not findings.
pub(crate) const MIN_FINDING_MM2: f64 = 10.0;

/// Voxel index bounds, inclusive: x = column, y = row, z = slice in series order (along the
/// slice normal, 0 first; InstanceNumber − 1 for series numbered that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoundingBox {
    pub x: (usize, usize),
    pub y: (usize, usize),
    pub z: (usize, usize),
}

impl BoundingBox {
    pub fn union(self, other: Self) -> Self {
        let span = |a: (usize, usize), b: (usize, usize)| (a.0.min(b.0), a.1.max(b.1));
        Self {
            x: span(self.x, other.x),
            y: span(self.y, other.y),
            z: span(self.z, other.z),
        }
    }

    /// report.md's `x_min,x_max,y_min,y_max,z_min,z_max`.
    pub fn to_report(&self) -> String {
        format!(
            "{},{},{},{},{},{}",
            self.x.0, self.x.1, self.y.0, self.y.1, self.z.0, self.z.1
        )
    }
}

/// Unions two optional boxes.
pub(crate) fn merge_boxes(a: Option<BoundingBox>, b: Option<BoundingBox>) -> Option<BoundingBox> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.union(b)),
        (a, b) => a.or(b),
    }
}

/// One slice's labels and what the series needs of them.
#[derive(Debug, Clone)]
pub(crate) struct SliceFindings {
    pub labels: Vec<u8>,
    /// Voxels labelled low or high attenuation.
    pub abnormal: usize,
    pub bounds: Option<BoundingBox>,
}

/// Labels the lung voxels of slice `z`.
pub(crate) fn label_slice(
    image: &HuImage,
    lung: &[bool],
    z: usize,
    min_pixels: usize,
) -> SliceFindings {
    let mut labels: Vec<u8> = image
        .hu
        .iter()
        .zip(lung)
        .map(|(&hu, &in_lung)| match (in_lung, hu) {
            (false, _) => LABEL_BACKGROUND,
            (true, hu) if hu < LAA_BELOW_HU => LABEL_LOW_ATTENUATION,
            (true, hu) if hu >= HAA_RANGE_HU.0 => LABEL_HIGH_ATTENUATION,
            _ => LABEL_LUNG,
        })
        .collect();
    let (w, h) = (image.columns, image.rows);
    for label in [LABEL_LOW_ATTENUATION, LABEL_HIGH_ATTENUATION] {
        drop_small(&mut labels, w, h, label, LABEL_LUNG, min_pixels);
    }
    let mut abnormal = 0;
    let mut bounds: Option<BoundingBox> = None;
    for (at, _) in labels
        .iter()
        .enumerate()
        .filter(|(_, l)| **l >= LABEL_LOW_ATTENUATION)
    {
        abnormal += 1;
        let (x, y) = (at % w, at / w);
        let voxel = BoundingBox {
            x: (x, x),
            y: (y, y),
            z: (z, z),
        };
        bounds = Some(bounds.map_or(voxel, |b| b.union(voxel)));
    }
    SliceFindings {
        labels,
        abnormal,
        bounds,
    }
}

/// The smallest finding kept, in pixels, for a pixel area in mm².
pub(crate) fn min_finding_pixels(pixel_mm2: f64) -> usize {
    (MIN_FINDING_MM2 / pixel_mm2).ceil().max(1.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voxels_get_their_band_and_the_box_spans_the_findings() {
        let image = HuImage {
            rows: 2,
            columns: 4,
            hu: vec![-980.0, -980.0, -850.0, 30.0, -600.0, -850.0, -850.0, -990.0],
        };
        let lung = [true, true, true, true, true, true, true, false];
        let found = label_slice(&image, &lung, 7, 1);
        assert_eq!(found.labels, [2, 2, 1, 3, 3, 1, 1, 0]);
        assert_eq!(found.abnormal, 4);
        let bounds = found.bounds.unwrap();
        assert_eq!(bounds.to_report(), "0,3,0,1,7,7");
        // With a minimum of 2 pixels the lone high-attenuation voxels are dropped.
        let found = label_slice(&image, &lung, 7, 2);
        assert_eq!(found.labels, [2, 2, 1, 1, 1, 1, 1, 0]);
        assert_eq!(found.bounds.unwrap().to_report(), "0,1,0,0,7,7");
    }
}
