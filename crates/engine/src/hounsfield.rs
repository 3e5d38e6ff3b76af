//! Pixel data → Hounsfield units: decode with dicom-pixeldata (raw stored values, no LUT), keep
//! the BitsStored bits, then HU = stored · RescaleSlope + RescaleIntercept (PS3.3 C.11.1).
//!
//! Rescaling here rather than through the library's modality LUT keeps the one formula the
//! densitometry depends on visible and tested.

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder, PixelRepresentation};

use crate::dicom_file::guarded;

/// One decoded slice in HU, row-major.
#[derive(Debug, Clone)]
pub(crate) struct HuImage {
    pub rows: usize,
    pub columns: usize,
    pub hu: Vec<f32>,
}

/// Decodes a single-frame, single-sample slice of the expected size.
pub(crate) fn decode(
    object: &DefaultDicomObject,
    rows: usize,
    columns: usize,
) -> Result<HuImage, String> {
    // Checked before decoding: codecs allocate what Rows × Columns × frames declare.
    let int = |tag| object.get(tag).and_then(|e| e.to_int::<i64>().ok());
    let stated = (int(tags::ROWS), int(tags::COLUMNS));
    if stated != (Some(rows as i64), Some(columns as i64)) {
        return Err(format!(
            "image size {stated:?} differs from the series' {rows}×{columns}"
        ));
    }
    if int(tags::SAMPLES_PER_PIXEL).unwrap_or(1) != 1
        || int(tags::NUMBER_OF_FRAMES).unwrap_or(1) != 1
    {
        return Err("not a single-frame greyscale image".to_owned());
    }
    guarded(|| {
        let undecodable = |e: dicom_pixeldata::Error| format!("cannot decode pixel data: {e}");
        let decoded = object.decode_pixel_data().map_err(undecodable)?;
        // i32 holds every 8/16-bit sample exactly at half the memory of f64.
        let raw: Vec<i32> = decoded
            .to_vec_frame_with_options(
                0,
                &ConvertOptions::new().with_modality_lut(ModalityLutOption::None),
            )
            .map_err(undecodable)?;
        if raw.len() != rows * columns {
            return Err(format!(
                "decoded {} samples for a {rows}×{columns} image",
                raw.len()
            ));
        }
        let rescale = decoded
            .rescale()
            .map_err(|e| e.to_string())?
            .first()
            .map_or((1.0, 0.0), |r| (r.slope, r.intercept));
        let stored = StoredBits {
            bits: decoded.bits_stored(),
            allocated: decoded.bits_allocated(),
            signed: decoded.pixel_representation() == PixelRepresentation::Signed,
        };
        let hu = to_hounsfield(&raw, stored, rescale.0, rescale.1)?;
        Ok(HuImage { rows, columns, hu })
    })
}

/// How stored values sit in their allocated bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoredBits {
    pub bits: u16,
    pub allocated: u16,
    pub signed: bool,
}

impl StoredBits {
    /// Keeps the low `bits` (bits above BitsStored may hold unrelated data) and sign-extends.
    fn value(self, raw: i32) -> f64 {
        if self.bits == 0 || self.bits >= self.allocated || self.bits >= 32 {
            return f64::from(raw);
        }
        let mask = (1_i64 << self.bits) - 1;
        let kept = i64::from(raw) & mask;
        let value = if self.signed && kept >> (self.bits - 1) == 1 {
            kept - (1_i64 << self.bits)
        } else {
            kept
        };
        value as f64
    }
}

/// HU = stored · slope + intercept, for every sample.
pub(crate) fn to_hounsfield(
    raw: &[i32],
    stored: StoredBits,
    slope: f64,
    intercept: f64,
) -> Result<Vec<f32>, String> {
    if !(slope.is_finite() && intercept.is_finite()) || slope == 0.0 {
        return Err(format!(
            "unusable RescaleSlope {slope} / RescaleIntercept {intercept}"
        ));
    }
    Ok(raw
        .iter()
        .map(|&v| (stored.value(v) * slope + intercept) as f32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNED_16: StoredBits = StoredBits {
        bits: 16,
        allocated: 16,
        signed: true,
    };

    #[test]
    fn rescale_is_slope_times_stored_plus_intercept() {
        let hu = to_hounsfield(&[0, 1024, 1064], SIGNED_16, 1.0, -1024.0).unwrap();
        assert_eq!(hu, [-1024.0, 0.0, 40.0]);
        let hu = to_hounsfield(&[-500], SIGNED_16, 2.0, 0.0).unwrap();
        assert_eq!(hu, [-1000.0]);
    }

    #[test]
    fn bits_above_bits_stored_are_ignored_and_sign_is_extended() {
        let unsigned_12 = StoredBits {
            bits: 12,
            allocated: 16,
            signed: false,
        };
        // 0xF000 set above a 12-bit value of 24.
        let hu = to_hounsfield(&[0xF018], unsigned_12, 1.0, -1024.0).unwrap();
        assert_eq!(hu, [-1000.0]);
        let signed_12 = StoredBits {
            signed: true,
            ..unsigned_12
        };
        // 0xFFF is -1 in 12-bit two's complement.
        let hu = to_hounsfield(&[0x0FFF], signed_12, 1.0, 0.0).unwrap();
        assert_eq!(hu, [-1.0]);
    }

    #[test]
    fn a_zero_or_non_finite_slope_is_an_error() {
        assert!(to_hounsfield(&[1], SIGNED_16, 0.0, 0.0).is_err());
        assert!(to_hounsfield(&[1], SIGNED_16, f64::NAN, 0.0).is_err());
    }
}
