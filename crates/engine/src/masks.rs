//! What the engine keeps of a series for visualisation (when `Options::masks` is set): the
//! label volume, the geometry to place it in patient space, the references a derived DICOM
//! object needs, and lung-windowed grey images for the key slices and a coronal reformat.
//!
//! One `u8` label per voxel ([`crate::LABEL_LUNG`] …): 134 MB for 512 slices of 512×512. The
//! grey images come from a second decode of the few key slices and from every few rows kept
//! during the pass, so the HU volume is never held.

use std::fmt;

pub use crate::dicom_file::InstanceAttributes;
use crate::finding::LABEL_LOW_ATTENUATION;

/// Lung window (W 1500 / L −600): HU mapped to grey 0–255.
pub const LUNG_WINDOW: (f32, f32) = (1500.0, -600.0);

/// The grey level of `hu` in the lung window.
pub fn lung_window(hu: f32) -> u8 {
    let (width, level) = LUNG_WINDOW;
    let low = level - width / 2.0;
    ((hu - low) / width * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Masks and pictures of one analysed series.
#[derive(Clone)]
pub struct SeriesMasks {
    pub columns: usize,
    pub rows: usize,
    /// One label image per slice in series order (row-major, `rows × columns`); empty for
    /// slices the profile skipped.
    pub labels: Vec<Vec<u8>>,
    pub geometry: VolumeGeometry,
    /// Per slice in series order: the source instance (SOP class/instance UIDs) and the
    /// patient/study attributes it states.
    pub instances: Vec<InstanceAttributes>,
    pub study_uid: String,
    pub series_uid: String,
    /// The slices with the largest abnormal area (largest lung area when there is none), largest
    /// first.
    pub key_slices: Vec<GreySlice>,
    /// The coronal plane through the row with the most findings (of every few rows kept).
    pub coronal: Option<CoronalPlane>,
}

impl fmt::Debug for SeriesMasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SeriesMasks")
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .field("slices", &self.labels.len())
            .field(
                "key_slices",
                &self.key_slices.iter().map(|k| k.z).collect::<Vec<_>>(),
            )
            .field("coronal_row", &self.coronal.as_ref().map(|c| c.row))
            .finish_non_exhaustive()
    }
}

impl SeriesMasks {
    /// Voxels carrying `label` (or any finding for [`LABEL_LOW_ATTENUATION`]`..`).
    pub fn count(&self, label: u8) -> usize {
        self.labels
            .iter()
            .flatten()
            .filter(|l| **l == label)
            .count()
    }

    /// Label of voxel (x, y, z), background for skipped slices.
    pub fn label(&self, x: usize, y: usize, z: usize) -> u8 {
        self.labels
            .get(z)
            .and_then(|s| s.get(y * self.columns + x))
            .copied()
            .unwrap_or(0)
    }

    /// Abnormal voxels of slice `z`.
    pub fn abnormal_in_slice(&self, z: usize) -> usize {
        self.labels.get(z).map_or(0, |s| {
            s.iter().filter(|l| **l >= LABEL_LOW_ATTENUATION).count()
        })
    }
}

/// Where the voxel grid sits in patient space (DICOM LPS, mm).
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeGeometry {
    /// Row spacing (between rows), column spacing (between columns); 0.7 mm each when the
    /// series states no PixelSpacing (`pixel_spacing_stated` is then false).
    pub pixel_spacing: [f64; 2],
    pub pixel_spacing_stated: bool,
    /// Between slice centres (mm); the slice thickness or 1 mm when nothing better is known.
    pub slice_spacing: f64,
    /// ImageOrientationPatient: row direction cosines, then column direction cosines.
    pub orientation: [f64; 6],
    /// Unit normal, the direction slices advance in.
    pub normal: [f64; 3],
    /// ImagePositionPatient of the first slice: the centre of its first voxel.
    pub origin: [f64; 3],
}

impl VolumeGeometry {
    /// The 4×4 voxel (column x, row y, slice z) → LPS mm matrix, row-major.
    pub fn affine_lps(&self) -> [[f64; 4]; 4] {
        let [row_spacing, column_spacing] = self.pixel_spacing;
        let o = self.orientation;
        let mut m = [[0.0; 4]; 4];
        for axis in 0..3 {
            m[axis][0] = o[axis] * column_spacing;
            m[axis][1] = o[3 + axis] * row_spacing;
            m[axis][2] = self.normal[axis] * self.slice_spacing;
            m[axis][3] = self.origin[axis];
        }
        m[3][3] = 1.0;
        m
    }
}

/// A lung-windowed axial slice.
#[derive(Debug, Clone, PartialEq)]
pub struct GreySlice {
    pub z: usize,
    /// Row-major `rows × columns`.
    pub grey: Vec<u8>,
}

/// A lung-windowed coronal reformat: image row = slice (z), image column = x.
#[derive(Debug, Clone, PartialEq)]
pub struct CoronalPlane {
    /// The axial row (y) the plane passes through.
    pub row: usize,
    /// `slices × columns`, slice 0 first.
    pub grey: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lung_window_spans_minus_1350_to_150() {
        assert_eq!(lung_window(-2000.0), 0);
        assert_eq!(lung_window(-1350.0), 0);
        assert_eq!(lung_window(-600.0), 128);
        assert_eq!(lung_window(150.0), 255);
        assert_eq!(lung_window(1000.0), 255);
    }

    #[test]
    fn affine_maps_voxel_indices_to_patient_space() {
        let geometry = VolumeGeometry {
            pixel_spacing: [0.5, 0.7],
            pixel_spacing_stated: true,
            slice_spacing: 2.5,
            orientation: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            normal: [0.0, 0.0, 1.0],
            origin: [-100.0, -120.0, 30.0],
        };
        let m = geometry.affine_lps();
        // Voxel (x 10, y 4, z 2).
        let p: Vec<f64> = (0..3)
            .map(|a| m[a][0] * 10.0 + m[a][1] * 4.0 + m[a][2] * 2.0 + m[a][3])
            .collect();
        assert_eq!(p, [-93.0, -118.0, 35.0]);
    }
}
