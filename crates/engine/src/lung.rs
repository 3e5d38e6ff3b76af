//! The per-slice lung mask: air-like pixels (below −400 HU) that are not connected to the image
//! border, without small connected components, each component then closed with a disk and its
//! holes filled so that dense findings inside or at the edge of the lung (consolidation,
//! nodules) belong to the lung.
//!
//! Flood filling from the border removes the air around the patient (and anything open to it)
//! without a body model. Components smaller than [`MIN_COMPONENT_MM2`] are bowel gas, noise or
//! the thin tips of the lungs at the apex and base, whose contribution to the indices is
//! negligible. Each kept component is closed on its own (so the two lungs are never bridged
//! across the mediastinum) with a disk of [`CLOSING_RADIUS_MM`]. 4-connectivity throughout: a diagonal gap in the body outline must not let the
//! outside air into the mask. The mask is 2D per slice, so memory does not grow with the series.

use crate::hounsfield::HuImage;
use crate::morphology::Grid;

/// Pixels below this are air-like (lung parenchyma included); above it, soft tissue.
pub(crate) const AIR_BELOW_HU: f32 = -400.0;
/// Connected air regions smaller than this (mm²) are not lung.
pub(crate) const MIN_COMPONENT_MM2: f64 = 100.0;
/// Radius of the disk each lung component is closed with: dense findings up to about twice
/// this across at the lung's edge are given back to the lung.
pub(crate) const CLOSING_RADIUS_MM: f64 = 10.0;
/// Pixel area assumed when a series has no PixelSpacing (0.7 mm: a 350 mm field on 512 pixels).
pub(crate) const FALLBACK_PIXEL_MM2: f64 = 0.49;

const NOT_AIR: u8 = 0;
const AIR: u8 = 1;
const OUTSIDE: u8 = 2;
const LUNG: u8 = 3;
const DROPPED: u8 = 4;
/// The component being closed.
const CURRENT: u8 = 5;
/// Tissue (or dropped air) inside a closed lung component.
const ADDED: u8 = 6;

/// How a slice's lung mask is built, from the series' pixel size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MaskParams {
    pub min_pixels: usize,
    pub closing_radius_px: f64,
}

impl MaskParams {
    /// From PixelSpacing (row, column in mm), or the fallback pixel when it is missing.
    pub fn for_spacing(pixel_spacing: Option<[f64; 2]>) -> Self {
        let (area, side) = pixel_spacing
            .map_or((FALLBACK_PIXEL_MM2, FALLBACK_PIXEL_MM2.sqrt()), |[r, c]| {
                (r * c, (r * c).sqrt())
            });
        Self {
            min_pixels: min_component_pixels(area),
            closing_radius_px: CLOSING_RADIUS_MM / side,
        }
    }
}

/// The smallest component kept, in pixels, for a pixel area in mm².
pub(crate) fn min_component_pixels(pixel_mm2: f64) -> usize {
    (MIN_COMPONENT_MM2 / pixel_mm2).ceil().max(1.0) as usize
}

/// `true` for lung pixels, row-major like the image.
pub(crate) fn lung_mask(image: &HuImage, params: MaskParams) -> Vec<bool> {
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
            let _ = fill(&mut state, &mut stack, rows, columns, start, OUTSIDE);
        }
    }

    // The remaining air regions are lung candidates; small ones are dropped, the others closed.
    for start in 0..state.len() {
        if state[start] == AIR {
            let (size, bounds) = fill(&mut state, &mut stack, rows, columns, start, CURRENT);
            if size < params.min_pixels {
                fill_from(
                    &mut state, &mut stack, rows, columns, start, CURRENT, DROPPED,
                );
            } else {
                close_component(&mut state, columns, rows, bounds, params.closing_radius_px);
            }
        }
    }
    state.into_iter().map(|s| s == LUNG || s == ADDED).collect()
}

/// Row and column ranges (inclusive) of a component.
#[derive(Debug, Clone, Copy)]
struct Bounds {
    rows: (usize, usize),
    columns: (usize, usize),
}

/// Closes the `CURRENT` component within its padded bounding box and fills its holes; its own
/// pixels become `LUNG`, the tissue and dropped air it encloses `ADDED`.
fn close_component(state: &mut [u8], columns: usize, rows: usize, bounds: Bounds, radius: f64) {
    let pad = radius.ceil() as usize + 2;
    let (x0, x1) = (
        bounds.columns.0.saturating_sub(pad),
        (bounds.columns.1 + pad).min(columns - 1),
    );
    let (y0, y1) = (
        bounds.rows.0.saturating_sub(pad),
        (bounds.rows.1 + pad).min(rows - 1),
    );
    let mut grid = Grid::new(x1 - x0 + 1, y1 - y0 + 1);
    for y in y0..=y1 {
        for x in x0..=x1 {
            grid.cells[(y - y0) * grid.width + (x - x0)] = state[y * columns + x] == CURRENT;
        }
    }
    let mut closed = grid.close(radius);
    for (cell, own) in closed.cells.iter_mut().zip(&grid.cells) {
        *cell |= own;
    }
    closed.fill_holes();
    for y in y0..=y1 {
        for x in x0..=x1 {
            let at = y * columns + x;
            let inside = closed.cells[(y - y0) * closed.width + (x - x0)];
            state[at] = match state[at] {
                CURRENT => LUNG,
                NOT_AIR | DROPPED | AIR if inside => ADDED,
                other => other,
            };
        }
    }
}

/// Marks the `AIR` region containing `start` as `to`; returns its size and bounds.
fn fill(
    state: &mut [u8],
    stack: &mut Vec<usize>,
    rows: usize,
    columns: usize,
    start: usize,
    to: u8,
) -> (usize, Bounds) {
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
) -> (usize, Bounds) {
    let mut size = 0;
    let (r, c) = (start / columns, start % columns);
    let mut bounds = Bounds {
        rows: (r, r),
        columns: (c, c),
    };
    state[start] = to;
    stack.push(start);
    while let Some(at) = stack.pop() {
        size += 1;
        let (r, c) = (at / columns, at % columns);
        bounds.rows = (bounds.rows.0.min(r), bounds.rows.1.max(r));
        bounds.columns = (bounds.columns.0.min(c), bounds.columns.1.max(c));
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
    (size, bounds)
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

    /// No closing: these tests are about the air mask.
    fn params(min_pixels: usize) -> MaskParams {
        MaskParams {
            min_pixels,
            closing_radius_px: 0.0,
        }
    }

    #[test]
    fn dense_finding_inside_and_at_the_edge_of_a_lung_belongs_to_it() {
        let mut image = phantom();
        image.hu[7 * 20 + 7] = 30.0; // a nodule inside
        for r in 7..9 {
            image.hu[r * 20 + 10] = 30.0; // consolidation at the edge
        }
        let closed = MaskParams {
            min_pixels: 5,
            closing_radius_px: 3.5,
        };
        let mask = lung_mask(&image, closed);
        assert!(mask[7 * 20 + 7] && mask[7 * 20 + 10] && mask[8 * 20 + 10]);
        // The body outside the lung stays out.
        assert!(!mask[3 * 20 + 3] && !mask[12 * 20 + 12]);
        // Without closing only the enclosed nodule is filled, not the bay at the edge.
        let holes_only = lung_mask(&image, params(5));
        assert!(holes_only[7 * 20 + 7] && !holes_only[7 * 20 + 10]);
    }

    #[test]
    fn outside_air_and_small_components_are_not_lung() {
        let mask = lung_mask(&phantom(), params(5));
        assert_eq!(mask.iter().filter(|m| **m).count(), 36);
        assert!(mask[5 * 20 + 5] && !mask[0] && !mask[13 * 20 + 13]);
        // With no size limit the bubble counts.
        assert_eq!(
            lung_mask(&phantom(), params(1))
                .iter()
                .filter(|m| **m)
                .count(),
            40
        );
    }

    #[test]
    fn air_open_to_the_border_is_outside_even_when_deep_inside() {
        let mut image = phantom();
        // A channel from the lung to the left border.
        for c in 0..5 {
            image.hu[7 * 20 + c] = -1000.0;
        }
        assert!(lung_mask(&image, params(5)).iter().all(|m| !m));
    }

    #[test]
    fn minimum_component_follows_pixel_area() {
        assert_eq!(min_component_pixels(0.49), 205);
        assert_eq!(min_component_pixels(1.0), 100);
    }
}
