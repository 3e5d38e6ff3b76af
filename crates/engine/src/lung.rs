//! The per-slice lung mask: air-like pixels (below −400 HU) that are not connected to the image
//! border, without small connected components.
//!
//! Flood filling from the border removes the air around the patient (and anything open to it)
//! without a body model. Components smaller than [`MIN_COMPONENT_MM2`] are bowel gas, noise or
//! the thin tips of the lungs at the apex and base, whose contribution to the indices is
//! negligible. 4-connectivity throughout: a diagonal gap in the body outline must not let the
//! outside air into the mask. The mask is 2D per slice, so memory does not grow with the series.

use crate::hounsfield::HuImage;

/// Pixels below this are air-like (lung parenchyma included); above it, soft tissue.
pub(crate) const AIR_BELOW_HU: f32 = -400.0;
/// Connected air regions smaller than this (mm²) are not lung.
pub(crate) const MIN_COMPONENT_MM2: f64 = 100.0;
/// Pixel area assumed when a series has no PixelSpacing (0.7 mm: a 350 mm field on 512 pixels).
pub(crate) const FALLBACK_PIXEL_MM2: f64 = 0.49;

const NOT_AIR: u8 = 0;
const AIR: u8 = 1;
const OUTSIDE: u8 = 2;
const LUNG: u8 = 3;
const DROPPED: u8 = 4;

/// The smallest component kept, in pixels, for a pixel area in mm².
pub(crate) fn min_component_pixels(pixel_mm2: f64) -> usize {
    (MIN_COMPONENT_MM2 / pixel_mm2).ceil().max(1.0) as usize
}

/// `true` for lung pixels, row-major like the image.
pub(crate) fn lung_mask(image: &HuImage, min_pixels: usize) -> Vec<bool> {
    let (rows, columns) = (image.rows, image.columns);
    if rows == 0 || columns == 0 || image.hu.len() != rows * columns {
        return vec![false; image.hu.len()];
    }
    let mut state: Vec<u8> = image
        .hu
        .iter()
        .map(|&v| if v < AIR_BELOW_HU { AIR } else { NOT_AIR })
        .collect();
    let mut stack = Vec::new();

    // Everything air-like reachable from the border is outside the body.
    let border = (0..columns)
        .flat_map(|c| [c, (rows - 1) * columns + c])
        .chain((0..rows).flat_map(|r| [r * columns, r * columns + columns - 1]));
    for start in border {
        if state[start] == AIR {
            fill(&mut state, &mut stack, rows, columns, start, OUTSIDE);
        }
    }

    // The remaining air regions are lung candidates; small ones are dropped.
    for start in 0..state.len() {
        if state[start] == AIR {
            let size = fill(&mut state, &mut stack, rows, columns, start, LUNG);
            if size < min_pixels {
                fill_from(&mut state, &mut stack, rows, columns, start, LUNG, DROPPED);
            }
        }
    }
    state.into_iter().map(|s| s == LUNG).collect()
}

/// Marks the `AIR` region containing `start` as `to`; returns its size.
fn fill(
    state: &mut [u8],
    stack: &mut Vec<usize>,
    rows: usize,
    columns: usize,
    start: usize,
    to: u8,
) -> usize {
    fill_from(state, stack, rows, columns, start, AIR, to)
}

/// Iterative 4-connected flood fill of the `from` region containing `start` (no recursion, so
/// no stack overflow on large regions).
fn fill_from(
    state: &mut [u8],
    stack: &mut Vec<usize>,
    rows: usize,
    columns: usize,
    start: usize,
    from: u8,
    to: u8,
) -> usize {
    let mut size = 0;
    state[start] = to;
    stack.push(start);
    while let Some(at) = stack.pop() {
        size += 1;
        let (r, c) = (at / columns, at % columns);
        let neighbours = [
            (r > 0).then(|| at - columns),
            (r + 1 < rows).then(|| at + columns),
            (c > 0).then(|| at - 1),
            (c + 1 < columns).then(|| at + 1),
        ];
        for next in neighbours.into_iter().flatten() {
            if state[next] == from {
                state[next] = to;
                stack.push(next);
            }
        }
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 20×20 slice: outside air, a body ring, one 6×6 "lung" and one 2×2 gas bubble.
    fn phantom() -> HuImage {
        let mut hu = vec![-1000.0_f32; 400];
        for r in 2..18 {
            for c in 2..18 {
                hu[r * 20 + c] = 40.0;
            }
        }
        for r in 5..11 {
            for c in 5..11 {
                hu[r * 20 + c] = -850.0;
            }
        }
        for r in 13..15 {
            for c in 13..15 {
                hu[r * 20 + c] = -990.0;
            }
        }
        HuImage {
            rows: 20,
            columns: 20,
            hu,
        }
    }

    #[test]
    fn outside_air_and_small_components_are_not_lung() {
        let mask = lung_mask(&phantom(), 5);
        assert_eq!(mask.iter().filter(|m| **m).count(), 36);
        assert!(mask[5 * 20 + 5] && !mask[0] && !mask[13 * 20 + 13]);
        // With no size limit the bubble counts.
        assert_eq!(lung_mask(&phantom(), 1).iter().filter(|m| **m).count(), 40);
    }

    #[test]
    fn air_open_to_the_border_is_outside_even_when_deep_inside() {
        let mut image = phantom();
        // A channel from the lung to the left border.
        for c in 0..5 {
            image.hu[7 * 20 + c] = -1000.0;
        }
        assert!(lung_mask(&image, 5).iter().all(|m| !m));
    }

    #[test]
    fn minimum_component_follows_pixel_area() {
        assert_eq!(min_component_pixels(0.49), 205);
        assert_eq!(min_component_pixels(1.0), 100);
    }
}
