//! Parsing one DICOM file from memory, safely: the structural guard first, then dicom-object
//! inside `catch_unwind`, because a malformed file must fail its series, not the process.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, OpenFileOptions};

use crate::dicom_guard;

/// The attributes the engine needs from one file, read without its pixel data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SliceHeader {
    /// Index of the entry in the source.
    pub entry: usize,
    /// Path of the file inside the archive.
    pub name: String,
    pub study_uid: String,
    pub series_uid: String,
    pub modality: Option<String>,
    pub instance_number: Option<i64>,
    pub position: Option<[f64; 3]>,
    pub orientation: Option<[f64; 6]>,
    pub rows: Option<u16>,
    pub columns: Option<u16>,
    /// Row spacing, column spacing (mm).
    pub pixel_spacing: Option<[f64; 2]>,
    pub slice_thickness: Option<f64>,
    pub spacing_between_slices: Option<f64>,
    pub frames: u32,
    pub has_pixel_data: bool,
    /// What a derived object (the DICOM Segmentation) must reference and copy.
    pub reference: InstanceAttributes,
}

/// Identification of one file and the patient/study attributes a derived object copies; empty
/// when the file does not state them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceAttributes {
    pub instance_number: Option<i64>,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub frame_of_reference_uid: String,
    pub patient_name: String,
    pub patient_id: String,
    pub patient_birth_date: String,
    pub patient_sex: String,
    pub study_date: String,
    pub study_time: String,
    pub study_id: String,
    pub accession_number: String,
    pub referring_physician_name: String,
}

/// Parses a whole file (pixel data included) after the structural check.
pub(crate) fn parse(bytes: &[u8]) -> Result<DefaultDicomObject, String> {
    dicom_guard::check(bytes)?;
    open(bytes, false)
}

/// Reads the header attributes of one file.
pub(crate) fn read_header(bytes: &[u8], entry: usize, name: &str) -> Result<SliceHeader, String> {
    let structure = dicom_guard::check(bytes)?;
    let object = open(bytes, true)?;
    let text = |tag| {
        object
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let floats = |tag| object.get(tag).and_then(|e| e.to_multi_float64().ok());
    let float = |tag| object.get(tag).and_then(|e| e.to_float64().ok());
    let int = |tag| object.get(tag).and_then(|e| e.to_int::<i64>().ok());
    let study_uid = text(tags::STUDY_INSTANCE_UID).ok_or("no StudyInstanceUID")?;
    let series_uid = text(tags::SERIES_INSTANCE_UID).ok_or("no SeriesInstanceUID")?;
    Ok(SliceHeader {
        entry,
        name: name.to_owned(),
        study_uid,
        series_uid,
        modality: text(tags::MODALITY),
        instance_number: int(tags::INSTANCE_NUMBER),
        position: floats(tags::IMAGE_POSITION_PATIENT).and_then(|v| array(&v)),
        orientation: floats(tags::IMAGE_ORIENTATION_PATIENT).and_then(|v| array(&v)),
        rows: int(tags::ROWS).and_then(|v| u16::try_from(v).ok()),
        columns: int(tags::COLUMNS).and_then(|v| u16::try_from(v).ok()),
        pixel_spacing: floats(tags::PIXEL_SPACING).and_then(|v| array(&v)),
        slice_thickness: float(tags::SLICE_THICKNESS),
        spacing_between_slices: float(tags::SPACING_BETWEEN_SLICES),
        frames: int(tags::NUMBER_OF_FRAMES)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1),
        has_pixel_data: structure.has_pixel_data,
        reference: {
            let text = |tag| text(tag).unwrap_or_default();
            InstanceAttributes {
                instance_number: int(tags::INSTANCE_NUMBER),
                sop_class_uid: text(tags::SOP_CLASS_UID),
                sop_instance_uid: text(tags::SOP_INSTANCE_UID),
                frame_of_reference_uid: text(tags::FRAME_OF_REFERENCE_UID),
                patient_name: text(tags::PATIENT_NAME),
                patient_id: text(tags::PATIENT_ID),
                patient_birth_date: text(tags::PATIENT_BIRTH_DATE),
                patient_sex: text(tags::PATIENT_SEX),
                study_date: text(tags::STUDY_DATE),
                study_time: text(tags::STUDY_TIME),
                study_id: text(tags::STUDY_ID),
                accession_number: text(tags::ACCESSION_NUMBER),
                referring_physician_name: text(tags::REFERRING_PHYSICIAN_NAME),
            }
        },
    })
}

/// Exactly `N` finite values, or nothing.
fn array<const N: usize>(values: &[f64]) -> Option<[f64; N]> {
    let array = <[f64; N]>::try_from(values).ok()?;
    array.iter().all(|v| v.is_finite()).then_some(array)
}

fn open(bytes: &[u8], header_only: bool) -> Result<DefaultDicomObject, String> {
    guarded(|| {
        let options = OpenFileOptions::new().read_preamble(ReadPreamble::Always);
        let options = if header_only {
            options.read_until(tags::PIXEL_DATA)
        } else {
            options
        };
        options.from_reader(bytes).map_err(|e| e.to_string())
    })
}

/// Runs a third-party parsing or decoding step, turning a panic into an error text.
pub(crate) fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| Err(panic_text(&*payload)))
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".to_owned());
    format!("the DICOM library panicked: {detail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_in_the_library_becomes_an_error() {
        let result: Result<(), String> = guarded(|| panic!("index out of bounds"));
        assert_eq!(
            result.unwrap_err(),
            "the DICOM library panicked: index out of bounds"
        );
        let owned: Result<(), String> = guarded(|| panic!("{}", 7));
        assert!(owned.unwrap_err().ends_with(": 7"));
    }

    #[test]
    fn header_reading_refuses_what_is_not_a_dicom_structure() {
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(b"garbage");
        assert!(read_header(&bytes, 0, "x").is_err());
    }
}
