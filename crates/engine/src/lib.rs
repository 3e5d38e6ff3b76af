//! triage's own CT analysis engine: quantitative lung densitometry of every CT series in a ZIP
//! archive (or one DICOM file), and the per-study XLSX report of report.md.
//!
//! Per series: a per-slice lung mask (air below −400 HU not connected to the image border, small
//! components dropped, each lung closed and hole-filled so dense findings belong to it), the
//! finding masks (below −950 HU, from −700 HU up) and their bounding box, LAA-950, HAA, mean lung density, lung volume, and a documented monotone
//! `probability_of_pathology` of LAA-950 and HAA (docs/engine.md). It is a quantitative
//! baseline, not a trained model, and the report's `engine` column says so.
//!
//! A pure, synchronous library: no HTTP, storage, async runtime or framework. Callers on an async
//! runtime run [`analyse_path`] on a blocking thread. It may depend on `triage-report` (the
//! writer), dicom-rs (`dicom-object`, `dicom-core`, `dicom-dictionary-std`, `dicom-pixeldata`),
//! `zip` and `thiserror` only. Work is spread over `Options::threads` std threads, slice by
//! slice, so memory stays at one slice per thread whatever the series length.
//!
//! Robustness: series that are not CT, too short, inconsistent or undecodable become `Failure`
//! rows with a reason and never stop the other series. DICOM files pass an iterative structural
//! check before dicom-object sees them, and decoding runs under `catch_unwind`.

mod analysis;
mod dicom_file;
mod dicom_guard;
mod error;
mod finding;
mod hounsfield;
mod lung;
mod masks;
mod metrics;
mod morphology;
mod options;
mod parallel;
mod probability;
mod report;
mod scan;
mod series;
mod source;
mod through_plane;
mod visual;

pub use analysis::{Analysis, SeriesOutcome, SeriesResult, analyse_members, analyse_path};
pub use error::EngineError;
pub use finding::{
    BoundingBox, LABEL_BACKGROUND, LABEL_HIGH_ATTENUATION, LABEL_LOW_ATTENUATION, LABEL_LUNG,
};
pub use masks::{
    CoronalPlane, GreySlice, InstanceAttributes, LUNG_WINDOW, SeriesMasks, VolumeGeometry,
    lung_window,
};
pub use metrics::{HAA_RANGE_HU, LAA_BELOW_HU, LungMetrics};
pub use options::{DEFAULT_KEY_SLICES, Options, Profile};
pub use probability::{
    HAA_CUTOFF_PERCENT, LAA950_CUTOFF_PERCENT, PathologyProbability, probability_of_pathology,
};
pub use report::{engine_description, write_report};
pub use series::MIN_SLICES;
pub use source::{Location, Member};
