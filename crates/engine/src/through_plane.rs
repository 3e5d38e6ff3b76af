//! Dense findings the per-slice mask cannot see: consolidation that replaces the edge or tip of
//! a lung in one slice is indistinguishable from the chest wall in 2D, but the lung is still
//! there in the slices just below and above. A non-lung pixel that is lung in an analysed slice
//! within [`THROUGH_PLANE_MM`] below *and* one within that distance above is taken as lung with
//! a high-attenuation finding.
//!
//! Works on one bit per pixel and slice (16 MB for 512 slices of 512×512), after the measuring
//! pass. The densitometry indices are not changed by it (they come from the per-slice mask);
//! the finding masks and `pathology_localization` are.

use crate::finding::{BoundingBox, LABEL_HIGH_ATTENUATION, merge_boxes};
use crate::morphology::drop_small;

/// How far (mm) along the slice normal lung is looked for on either side.
pub(crate) const THROUGH_PLANE_MM: f64 = 15.0;

/// One slice's lung mask, one bit per pixel.
#[derive(Debug, Clone)]
pub(crate) struct LungBits(Vec<u64>);

impl LungBits {
    pub fn new(mask: &[bool]) -> Self {
        let mut words = vec![0u64; mask.len().div_ceil(64)];
        for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
            words[i / 64] |= 1 << (i % 64);
        }
        Self(words)
    }

    fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
}

/// Pixels recovered in one analysed slice.
#[derive(Debug, Clone)]
pub(crate) struct Recovered {
    /// The slice's index in the series.
    pub z: usize,
    /// Row-major pixel indices.
    pub pixels: Vec<usize>,
}

/// The recovered pixels of each analysed slice (`slices`: series index and lung bits, in series
/// order), dropping regions smaller than `min_pixels`, with their bounding box.
pub(crate) fn recover(
    slices: &[(usize, LungBits)],
    columns: usize,
    rows: usize,
    window: usize,
    min_pixels: usize,
) -> (Vec<Recovered>, Option<BoundingBox>) {
    let pixels = columns * rows;
    const NONE: usize = usize::MAX;
    // Pass 1, upwards: pixels with lung at most `window` analysed slices below.
    let mut last = vec![NONE; pixels];
    let mut below: Vec<Vec<usize>> = Vec::with_capacity(slices.len());
    for (k, (_, bits)) in slices.iter().enumerate() {
        let mut found = Vec::new();
        for (p, seen) in last.iter_mut().enumerate() {
            if bits.get(p) {
                *seen = k;
            } else if *seen != NONE && k - *seen <= window {
                found.push(p);
            }
        }
        below.push(found);
    }
    // Pass 2, downwards: of those, the ones with lung at most `window` slices above too.
    last.fill(NONE);
    let mut candidates: Vec<Vec<usize>> = vec![Vec::new(); slices.len()];
    for (k, (_, bits)) in slices.iter().enumerate().rev() {
        for (p, seen) in last.iter_mut().enumerate() {
            if bits.get(p) {
                *seen = k;
            }
        }
        candidates[k] = below[k]
            .iter()
            .copied()
            .filter(|&p| last[p] != NONE && last[p] - k <= window)
            .collect();
    }
    let mut recovered = Vec::new();
    let mut bounds = None;
    for (k, found) in candidates.into_iter().enumerate() {
        if found.is_empty() {
            continue;
        }
        let mut labels = vec![0u8; pixels];
        for &p in &found {
            labels[p] = LABEL_HIGH_ATTENUATION;
        }
        drop_small(
            &mut labels,
            columns,
            rows,
            LABEL_HIGH_ATTENUATION,
            0,
            min_pixels,
        );
        let z = slices[k].0;
        let kept: Vec<usize> = found
            .into_iter()
            .filter(|&p| labels[p] == LABEL_HIGH_ATTENUATION)
            .collect();
        for &p in &kept {
            let (x, y) = (p % columns, p / columns);
            let voxel = BoundingBox {
                x: (x, x),
                y: (y, y),
                z: (z, z),
            };
            bounds = merge_boxes(bounds, Some(voxel));
        }
        if !kept.is_empty() {
            recovered.push(Recovered { z, pixels: kept });
        }
    }
    (recovered, bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_closed_below_and_above_is_recovered_and_open_ends_are_not() {
        // 1×4 pixels over 5 slices: pixel 0 lung everywhere but slice 2; pixel 1 lung only
        // below; pixel 2 never; pixel 3 lung in slices 0 and 4 only.
        let lung = |z: usize| LungBits::new(&[z != 2, z < 2, false, z == 0 || z == 4]);
        let slices: Vec<(usize, LungBits)> = (0..5).map(|z| (z * 10, lung(z))).collect();
        let (found, bounds) = recover(&slices, 4, 1, 1, 1);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].z, found[0].pixels.clone()), (20, vec![0]));
        assert_eq!(bounds.unwrap().to_report(), "0,0,0,0,20,20");
        // Pixel 3's gap of three slices is recovered with a window of 3.
        let (found, _) = recover(&slices, 4, 1, 3, 1);
        let all: Vec<(usize, usize)> = found
            .iter()
            .flat_map(|r| r.pixels.iter().map(move |p| (r.z, *p)))
            .collect();
        assert_eq!(all, vec![(10, 3), (20, 0), (20, 3), (30, 3)]);
    }
}
