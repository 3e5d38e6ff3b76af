//! A DICOM Segmentation (SEG, BINARY) of the label volume, referencing the source series: three
//! segments (lung; low attenuation; high attenuation), one frame per segment and slice that
//! holds any of it, built with dicom-object (explicit VR little endian).
//!
//! Modules written (PS3.3 A.51): Patient, General Study, General Series, Segmentation Series,
//! Frame of Reference, General Equipment, Enhanced General Equipment, General Image, Image
//! Pixel, Segmentation Image, Multi-frame Functional Groups, Multi-frame Dimension, Common
//! Instance Reference, SOP Common. Patient and study attributes are copied from the source's
//! first slice. Each frame's Derivation Image Sequence names its source slice.
//!
//! The segment property codes are SNOMED CT concepts written from memory (no internet access
//! here): Lung 39607008, Pulmonary emphysema 87433001, Lung consolidation 95436008; check them
//! before relying on them in a clinical archive.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use triage_engine::{LABEL_BACKGROUND, LABEL_HIGH_ATTENUATION, LABEL_LOW_ATTENUATION, SeriesMasks};

use crate::{Artefact, ArtefactKind, VisualError};

const SEGMENTATION_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.66.4";
const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";
/// triage's implementation class UID (a UUID-derived 2.25 root).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.186578312926329837745823404402613938301";

/// What the SEG says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct SegOptions {
    pub series_instance_uid: String,
    pub sop_instance_uid: String,
    pub series_number: u32,
    /// Content date and time (DA `YYYYMMDD`, TM `HHMMSS`).
    pub content_date: String,
    pub content_time: String,
    pub manufacturer: String,
    pub software_version: String,
}

impl Default for SegOptions {
    /// Fresh UIDs, series number 9901, a fixed content date (callers set the real one).
    fn default() -> Self {
        Self {
            series_instance_uid: new_uid(),
            sop_instance_uid: new_uid(),
            series_number: 9901,
            content_date: "20260101".to_owned(),
            content_time: "000000".to_owned(),
            manufacturer: "triage".to_owned(),
            software_version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// A new UID under the UUID-derived root `2.25` (PS3.5 B.2).
pub fn new_uid() -> String {
    format!("2.25.{}", uuid::Uuid::new_v4().as_u128())
}

/// A segment: its number, label, which voxels belong, and its property codes.
struct Segment {
    number: u16,
    label: &'static str,
    includes: fn(u8) -> bool,
    category: (&'static str, &'static str),
    kind: (&'static str, &'static str),
    colour_lab: [u16; 3],
}

const SEGMENTS: [Segment; 3] = [
    Segment {
        number: 1,
        label: "Lung",
        includes: |l| l != LABEL_BACKGROUND,
        category: ("123037004", "Anatomical Structure"),
        kind: ("39607008", "Lung"),
        colour_lab: [49512, 12143, 46154],
    },
    Segment {
        number: 2,
        label: "Low attenuation (< -950 HU)",
        includes: |l| l == LABEL_LOW_ATTENUATION,
        category: ("49755003", "Morphologically Altered Structure"),
        kind: ("87433001", "Pulmonary emphysema"),
        colour_lab: [35000, 40000, 10000],
    },
    Segment {
        number: 3,
        label: "High attenuation (>= -700 HU)",
        includes: |l| l == LABEL_HIGH_ATTENUATION,
        category: ("49755003", "Morphologically Altered Structure"),
        kind: ("95436008", "Lung consolidation"),
        colour_lab: [45000, 45000, 55000],
    },
];

fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

fn sequence(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::from(items))
}

fn item(elements: Vec<DataElement<InMemDicomObject>>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elements)
}

fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    item(vec![
        text(tags::CODE_VALUE, VR::SH, value),
        text(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        text(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

fn ds(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| {
            let s = format!("{v:.6}");
            let s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
            if s == "-0" { "0".to_owned() } else { s }
        })
        .collect::<Vec<_>>()
        .join("\\")
}

/// The SEG instance of `masks` as a DICOM file (`seg.dcm`).
pub fn segmentation(masks: &SeriesMasks, options: &SegOptions) -> Result<Artefact, VisualError> {
    let first = masks
        .instances
        .first()
        .ok_or(VisualError::Empty("no slices"))?;
    let (rows, columns) = (masks.rows, masks.columns);
    let geometry = &masks.geometry;
    let position = |z: usize| -> [f64; 3] {
        let along = z as f64 * geometry.slice_spacing;
        [0, 1, 2].map(|a| geometry.origin[a] + geometry.normal[a] * along)
    };

    // Frames: segment by segment, slices in order, only where the segment has voxels.
    let mut frames: Vec<(usize, usize)> = Vec::new();
    for (s, segment) in SEGMENTS.iter().enumerate() {
        for (z, labels) in masks.labels.iter().enumerate() {
            if labels.iter().any(|l| (segment.includes)(*l)) {
                frames.push((s, z));
            }
        }
    }
    if frames.is_empty() {
        return Err(VisualError::Empty("no lung voxel"));
    }
    let frame_pixels = rows * columns;
    let mut pixels = vec![
        0u8;
        (frames.len() * frame_pixels)
            .div_ceil(8)
            .next_multiple_of(2)
    ];
    for (f, &(s, z)) in frames.iter().enumerate() {
        for (i, label) in masks.labels[z].iter().enumerate() {
            if (SEGMENTS[s].includes)(*label) {
                let bit = f * frame_pixels + i;
                pixels[bit / 8] |= 1 << (bit % 8);
            }
        }
    }

    let dimension_uid = new_uid();
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |e: DataElement<InMemDicomObject>| {
        obj.put(e);
    };
    // SOP Common
    put(text(tags::SOP_CLASS_UID, VR::UI, SEGMENTATION_STORAGE));
    put(text(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        &options.sop_instance_uid,
    ));
    // Patient, General Study (copied from the source)
    put(text(tags::PATIENT_NAME, VR::PN, &first.patient_name));
    put(text(tags::PATIENT_ID, VR::LO, &first.patient_id));
    put(text(
        tags::PATIENT_BIRTH_DATE,
        VR::DA,
        &first.patient_birth_date,
    ));
    put(text(tags::PATIENT_SEX, VR::CS, &first.patient_sex));
    put(text(tags::STUDY_INSTANCE_UID, VR::UI, &masks.study_uid));
    put(text(tags::STUDY_DATE, VR::DA, &first.study_date));
    put(text(tags::STUDY_TIME, VR::TM, &first.study_time));
    put(text(
        tags::REFERRING_PHYSICIAN_NAME,
        VR::PN,
        &first.referring_physician_name,
    ));
    put(text(tags::STUDY_ID, VR::SH, &first.study_id));
    put(text(
        tags::ACCESSION_NUMBER,
        VR::SH,
        &first.accession_number,
    ));
    // General Series, Segmentation Series
    put(text(tags::MODALITY, VR::CS, "SEG"));
    put(text(
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        &options.series_instance_uid,
    ));
    put(text(
        tags::SERIES_NUMBER,
        VR::IS,
        &options.series_number.to_string(),
    ));
    put(text(
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "triage lung and finding masks",
    ));
    // Frame of Reference
    put(text(
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        &first.frame_of_reference_uid,
    ));
    put(text(tags::POSITION_REFERENCE_INDICATOR, VR::LO, ""));
    // General and Enhanced General Equipment
    put(text(tags::MANUFACTURER, VR::LO, &options.manufacturer));
    put(text(tags::MANUFACTURER_MODEL_NAME, VR::LO, "triage-engine"));
    put(text(tags::DEVICE_SERIAL_NUMBER, VR::LO, "1"));
    put(text(
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        &options.software_version,
    ));
    // General Image, Segmentation Image, Image Pixel
    put(text(tags::INSTANCE_NUMBER, VR::IS, "1"));
    put(text(tags::CONTENT_DATE, VR::DA, &options.content_date));
    put(text(tags::CONTENT_TIME, VR::TM, &options.content_time));
    put(text(tags::IMAGE_TYPE, VR::CS, "DERIVED\\PRIMARY"));
    put(text(tags::CONTENT_LABEL, VR::CS, "LUNG_FINDINGS"));
    put(text(
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        "Lung and attenuation masks",
    ));
    put(text(tags::CONTENT_CREATOR_NAME, VR::PN, ""));
    put(DataElement::new(
        tags::SAMPLES_PER_PIXEL,
        VR::US,
        PrimitiveValue::from(1_u16),
    ));
    put(text(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2",
    ));
    let us = |v: usize| PrimitiveValue::from(u16::try_from(v).unwrap_or(u16::MAX));
    put(DataElement::new(tags::ROWS, VR::US, us(rows)));
    put(DataElement::new(tags::COLUMNS, VR::US, us(columns)));
    put(DataElement::new(tags::BITS_ALLOCATED, VR::US, us(1)));
    put(DataElement::new(tags::BITS_STORED, VR::US, us(1)));
    put(DataElement::new(tags::HIGH_BIT, VR::US, us(0)));
    put(DataElement::new(tags::PIXEL_REPRESENTATION, VR::US, us(0)));
    put(text(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00"));
    put(text(tags::SEGMENTATION_TYPE, VR::CS, "BINARY"));
    put(text(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &frames.len().to_string(),
    ));
    put(sequence(
        tags::SEGMENT_SEQUENCE,
        SEGMENTS
            .iter()
            .map(|s| {
                item(vec![
                    DataElement::new(tags::SEGMENT_NUMBER, VR::US, PrimitiveValue::from(s.number)),
                    text(tags::SEGMENT_LABEL, VR::LO, s.label),
                    text(tags::SEGMENT_ALGORITHM_TYPE, VR::CS, "AUTOMATIC"),
                    text(
                        tags::SEGMENT_ALGORITHM_NAME,
                        VR::LO,
                        "triage-engine densitometry",
                    ),
                    sequence(
                        tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                        vec![code(s.category.0, "SCT", s.category.1)],
                    ),
                    sequence(
                        tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                        vec![code(s.kind.0, "SCT", s.kind.1)],
                    ),
                    DataElement::new(
                        tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
                        VR::US,
                        PrimitiveValue::U16(s.colour_lab.to_vec().into()),
                    ),
                ])
            })
            .collect(),
    ));
    // Multi-frame Dimension
    put(sequence(
        tags::DIMENSION_ORGANIZATION_SEQUENCE,
        vec![item(vec![text(
            tags::DIMENSION_ORGANIZATION_UID,
            VR::UI,
            &dimension_uid,
        )])],
    ));
    let dimension = |index: Tag, group: Tag, description: &str| {
        item(vec![
            text(tags::DIMENSION_ORGANIZATION_UID, VR::UI, &dimension_uid),
            DataElement::new(
                tags::DIMENSION_INDEX_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![index].into()),
            ),
            DataElement::new(
                tags::FUNCTIONAL_GROUP_POINTER,
                VR::AT,
                PrimitiveValue::Tags(vec![group].into()),
            ),
            text(tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, description),
        ])
    };
    put(sequence(
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dimension(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "ReferencedSegmentNumber",
            ),
            dimension(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "ImagePositionPatient",
            ),
        ],
    ));
    // Multi-frame Functional Groups
    let [row_spacing, column_spacing] = geometry.pixel_spacing;
    put(sequence(
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        vec![item(vec![
            sequence(
                tags::PIXEL_MEASURES_SEQUENCE,
                vec![item(vec![
                    text(
                        tags::PIXEL_SPACING,
                        VR::DS,
                        &ds(&[row_spacing, column_spacing]),
                    ),
                    text(
                        tags::SLICE_THICKNESS,
                        VR::DS,
                        &ds(&[geometry.slice_spacing]),
                    ),
                    text(
                        tags::SPACING_BETWEEN_SLICES,
                        VR::DS,
                        &ds(&[geometry.slice_spacing]),
                    ),
                ])],
            ),
            sequence(
                tags::PLANE_ORIENTATION_SEQUENCE,
                vec![item(vec![text(
                    tags::IMAGE_ORIENTATION_PATIENT,
                    VR::DS,
                    &ds(&geometry.orientation),
                )])],
            ),
        ])],
    ));
    put(sequence(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        frames
            .iter()
            .map(|&(s, z)| {
                let source = &masks.instances[z];
                let index = [SEGMENTS[s].number as u32, z as u32 + 1];
                item(vec![
                    sequence(
                        tags::DERIVATION_IMAGE_SEQUENCE,
                        vec![item(vec![
                            sequence(
                                tags::SOURCE_IMAGE_SEQUENCE,
                                vec![item(vec![
                                    text(
                                        tags::REFERENCED_SOP_CLASS_UID,
                                        VR::UI,
                                        &source.sop_class_uid,
                                    ),
                                    text(
                                        tags::REFERENCED_SOP_INSTANCE_UID,
                                        VR::UI,
                                        &source.sop_instance_uid,
                                    ),
                                    sequence(
                                        tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
                                        vec![code(
                                            "121322",
                                            "DCM",
                                            "Source image for image processing operation",
                                        )],
                                    ),
                                ])],
                            ),
                            sequence(
                                tags::DERIVATION_CODE_SEQUENCE,
                                vec![code("113076", "DCM", "Segmentation")],
                            ),
                        ])],
                    ),
                    sequence(
                        tags::FRAME_CONTENT_SEQUENCE,
                        vec![item(vec![DataElement::new(
                            tags::DIMENSION_INDEX_VALUES,
                            VR::UL,
                            PrimitiveValue::U32(index.to_vec().into()),
                        )])],
                    ),
                    sequence(
                        tags::PLANE_POSITION_SEQUENCE,
                        vec![item(vec![text(
                            tags::IMAGE_POSITION_PATIENT,
                            VR::DS,
                            &ds(&position(z)),
                        )])],
                    ),
                    sequence(
                        tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                        vec![item(vec![DataElement::new(
                            tags::REFERENCED_SEGMENT_NUMBER,
                            VR::US,
                            PrimitiveValue::from(SEGMENTS[s].number),
                        )])],
                    ),
                ])
            })
            .collect(),
    ));
    // Common Instance Reference: every source slice.
    put(sequence(
        tags::REFERENCED_SERIES_SEQUENCE,
        vec![item(vec![
            text(tags::SERIES_INSTANCE_UID, VR::UI, &masks.series_uid),
            sequence(
                tags::REFERENCED_INSTANCE_SEQUENCE,
                masks
                    .instances
                    .iter()
                    .map(|i| {
                        item(vec![
                            text(tags::REFERENCED_SOP_CLASS_UID, VR::UI, &i.sop_class_uid),
                            text(
                                tags::REFERENCED_SOP_INSTANCE_UID,
                                VR::UI,
                                &i.sop_instance_uid,
                            ),
                        ])
                    })
                    .collect(),
            ),
        ])],
    ));
    put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OB,
        PrimitiveValue::from(pixels),
    ));

    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(EXPLICIT_VR_LITTLE_ENDIAN)
                .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                .implementation_version_name("TRIAGE"),
        )
        .map_err(|e| VisualError::Dicom(e.to_string()))?;
    let mut bytes = Vec::new();
    file.write_all(&mut bytes)
        .map_err(|e| VisualError::Dicom(e.to_string()))?;
    Ok(Artefact {
        name: "seg.dcm".to_owned(),
        kind: ArtefactKind::Segmentation,
        bytes,
    })
}
