//! The label volume as compressed NIfTI-1 (`.nii.gz`): a 348-byte header ([`Header`]), four
//! zero extension bytes, then one `uint8` label per voxel (x = column fastest, then row, then
//! slice), gzip-compressed as it is written (flate2).
//!
//! The voxel → world transform is the series geometry (ImagePositionPatient of the first slice,
//! ImageOrientationPatient, PixelSpacing, slice spacing) converted from DICOM's LPS to NIfTI's
//! RAS (x and y negated); it is written both as the sform and, as a rotation plus qfac, as the
//! qform (code 1, scanner anatomical), so nibabel, ITK-SNAP and 3D Slicer place it alike. The
//! intent is `NIFTI_INTENT_LABEL` (labels 1 lung, 2 low, 3 high attenuation).

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use triage_engine::SeriesMasks;

use crate::{Artefact, ArtefactKind, VisualError};

const HEADER_SIZE: i32 = 348;
/// Header plus the 4-byte extension flag.
const VOX_OFFSET: f32 = 352.0;
const DT_UINT8: i16 = 2;
const NIFTI_INTENT_LABEL: i16 = 1002;
/// Units: millimetres.
const NIFTI_UNITS_MM: u8 = 2;
/// Scanner-based anatomical coordinates.
const NIFTI_XFORM_SCANNER_ANAT: i16 = 1;

/// The fields of the NIfTI-1 header this writer sets; everything else is zero.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    /// Voxels along x (columns), y (rows), z (slices).
    pub dims: [usize; 3],
    /// Voxel size in mm along x, y, z.
    pub pixdim: [f64; 3],
    /// ±1: the handedness of the qform rotation.
    pub qfac: f64,
    /// Quaternion b, c, d of the qform rotation.
    pub quatern: [f64; 3],
    /// RAS position of voxel (0, 0, 0).
    pub offset: [f64; 3],
    /// The voxel → RAS affine, first three rows.
    pub srow: [[f64; 4]; 3],
}

impl Header {
    /// From the series geometry.
    pub fn of(masks: &SeriesMasks) -> Self {
        let lps = masks.geometry.affine_lps();
        // RAS = diag(-1, -1, 1) · LPS.
        let mut srow = [[0.0; 4]; 3];
        for (r, row) in srow.iter_mut().enumerate() {
            let sign = if r < 2 { -1.0 } else { 1.0 };
            for c in 0..4 {
                row[c] = sign * lps[r][c];
            }
        }
        let [row_spacing, column_spacing] = masks.geometry.pixel_spacing;
        let pixdim = [column_spacing, row_spacing, masks.geometry.slice_spacing];
        // The rotation: each axis column divided by its voxel size.
        let mut rotation = [[0.0; 3]; 3];
        for r in 0..3 {
            for c in 0..3 {
                rotation[r][c] = srow[r][c] / pixdim[c];
            }
        }
        let (qfac, quatern) = quaternion(rotation);
        Self {
            dims: [masks.columns, masks.rows, masks.labels.len()],
            pixdim,
            qfac,
            quatern,
            offset: [srow[0][3], srow[1][3], srow[2][3]],
            srow,
        }
    }

    /// The 348 header bytes, little endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_SIZE as usize];
        let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
        put(0, &HEADER_SIZE.to_le_bytes());
        put(38, b"r");
        let dim = |n: usize| i16::try_from(n).unwrap_or(i16::MAX).to_le_bytes();
        put(40, &3i16.to_le_bytes());
        for (i, n) in self.dims.iter().enumerate() {
            put(42 + 2 * i, &dim(*n));
        }
        for i in 3..7 {
            put(42 + 2 * i, &1i16.to_le_bytes());
        }
        put(68, &NIFTI_INTENT_LABEL.to_le_bytes());
        put(70, &DT_UINT8.to_le_bytes());
        put(72, &8i16.to_le_bytes());
        let f = |v: f64| (v as f32).to_le_bytes();
        put(76, &f(self.qfac));
        for (i, v) in self.pixdim.iter().enumerate() {
            put(80 + 4 * i, &f(*v));
        }
        put(108, &VOX_OFFSET.to_le_bytes());
        put(112, &1f32.to_le_bytes());
        put(123, &[NIFTI_UNITS_MM]);
        put(124, &3f32.to_le_bytes()); // cal_max: the largest label
        put(
            148,
            b"triage-engine lung (1), low (2) and high (3) attenuation",
        );
        put(252, &NIFTI_XFORM_SCANNER_ANAT.to_le_bytes());
        put(254, &NIFTI_XFORM_SCANNER_ANAT.to_le_bytes());
        for (i, v) in self.quatern.iter().chain(&self.offset).enumerate() {
            put(256 + 4 * i, &f(*v));
        }
        for (r, row) in self.srow.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                put(280 + 16 * r + 4 * c, &f(*v));
            }
        }
        put(328, b"labels");
        put(344, b"n+1\0");
        b
    }
}

/// qfac and quaternion (b, c, d) of a 3×3 orthonormal matrix, as in nifti1_io's
/// `nifti_mat44_to_quatern`: a left-handed matrix gets qfac −1 and its third column negated.
fn quaternion(mut r: [[f64; 3]; 3]) -> (f64, [f64; 3]) {
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1])
        - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    let qfac = if det < 0.0 { -1.0 } else { 1.0 };
    if det < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
    }
    let trace = r[0][0] + r[1][1] + r[2][2] + 1.0;
    let (a, b, c, d);
    if trace > 0.5 {
        let a0 = 0.5 * trace.sqrt();
        a = a0;
        b = 0.25 * (r[2][1] - r[1][2]) / a0;
        c = 0.25 * (r[0][2] - r[2][0]) / a0;
        d = 0.25 * (r[1][0] - r[0][1]) / a0;
    } else {
        let xd = 1.0 + r[0][0] - (r[1][1] + r[2][2]);
        let yd = 1.0 + r[1][1] - (r[0][0] + r[2][2]);
        let zd = 1.0 + r[2][2] - (r[0][0] + r[1][1]);
        if xd > 1.0 {
            let b0 = 0.5 * xd.sqrt();
            b = b0;
            c = 0.25 * (r[0][1] + r[1][0]) / b0;
            d = 0.25 * (r[0][2] + r[2][0]) / b0;
            a = 0.25 * (r[2][1] - r[1][2]) / b0;
        } else if yd > 1.0 {
            let c0 = 0.5 * yd.sqrt();
            c = c0;
            b = 0.25 * (r[0][1] + r[1][0]) / c0;
            d = 0.25 * (r[1][2] + r[2][1]) / c0;
            a = 0.25 * (r[0][2] - r[2][0]) / c0;
        } else {
            let d0 = 0.5 * zd.sqrt();
            d = d0;
            b = 0.25 * (r[0][2] + r[2][0]) / d0;
            c = 0.25 * (r[1][2] + r[2][1]) / d0;
            a = 0.25 * (r[1][0] - r[0][1]) / d0;
        }
    }
    // The qform stores b, c, d with a ≥ 0.
    let sign = if a < 0.0 { -1.0 } else { 1.0 };
    (qfac, [sign * b, sign * c, sign * d])
}

/// Writes the compressed NIfTI of `masks` to `out`, one slice at a time.
pub fn write_nifti_gz<W: Write>(masks: &SeriesMasks, out: W) -> Result<W, VisualError> {
    let mut gz = GzEncoder::new(out, Compression::fast());
    gz.write_all(&Header::of(masks).to_bytes())?;
    gz.write_all(&[0; 4])?;
    let empty = vec![0u8; masks.columns * masks.rows];
    for slice in &masks.labels {
        gz.write_all(if slice.is_empty() { &empty } else { slice })?;
    }
    Ok(gz.finish()?)
}

/// `mask.nii.gz`: the compressed NIfTI of `masks` (labels compress to a few percent of the
/// voxel count).
pub fn nifti_gz(masks: &SeriesMasks) -> Result<Artefact, VisualError> {
    Ok(Artefact {
        name: "mask.nii.gz".to_owned(),
        kind: ArtefactKind::Mask,
        bytes: write_nifti_gz(masks, Vec::new())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_lps_flips_give_the_expected_quaternions() {
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert_eq!(quaternion(identity), (1.0, [0.0, 0.0, 0.0]));
        // An axial DICOM series in RAS: x and y flipped, a rotation by 180° about z.
        let axial = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]];
        assert_eq!(quaternion(axial), (1.0, [0.0, 0.0, 1.0]));
        // A reflection: qfac −1.
        let flipped = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]];
        assert_eq!(quaternion(flipped).0, -1.0);
    }
}
