//! Pictures and mask files of the engine's findings, from a [`triage_engine::SeriesMasks`]:
//!
//! - key images ([`key_images`]): the axial slices with the largest abnormal area and one
//!   coronal reformat in the lung window (W 1500 / L −600), the masks overlaid in translucent
//!   colours, a legend strip below, and a thumbnail; PNG encoded by the `png` crate;
//! - the label volume as compressed NIfTI-1 ([`nifti_gz`]) with the series geometry;
//! - a DICOM Segmentation instance referencing the source series ([`segmentation`]).
//!
//! Pure and synchronous: no I/O, no async runtime, no framework. Callers on tokio run it on a
//! blocking thread.

mod error;
mod font;
mod nifti;
mod render;
mod seg;

pub use error::VisualError;
pub use nifti::{nifti_gz, write_nifti_gz};
pub use render::{
    ArtefactKind, COLOUR_HIGH_ATTENUATION, COLOUR_LOW_ATTENUATION, COLOUR_LUNG, Image,
    LEGEND_HEIGHT, RenderOptions, key_images,
};
pub use seg::{SegOptions, new_uid, segmentation};

/// One file made from a series' masks.
#[derive(Debug, Clone, PartialEq)]
pub struct Artefact {
    /// File name, e.g. `axial-0012.png`, `mask.nii.gz`, `seg.dcm`.
    pub name: String,
    pub kind: ArtefactKind,
    pub bytes: Vec<u8>,
}
