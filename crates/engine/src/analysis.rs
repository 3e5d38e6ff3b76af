//! The whole analysis of one input: scan, group, then each series slice by slice.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::dicom_file::{self, SliceHeader};
use crate::finding::{self, BoundingBox};
use crate::hounsfield;
use crate::lung::{self, FALLBACK_PIXEL_MM2, MaskParams};
use crate::masks::SeriesMasks;
use crate::metrics::{Geometry, LungAccumulator, LungMetrics};
use crate::parallel;
use crate::probability::{PathologyProbability, probability_of_pathology};
use crate::scan::{Unreadable, scan};
use crate::series::{self, Series};
use crate::source::{EntryError, EntryReader, Member, Source};
use crate::through_plane::{self, LungBits, THROUGH_PLANE_MM};
use crate::visual::{self, SliceKeep};
use crate::{EngineError, Options, Profile};

/// The result of analysing one archive or file: one entry per series, in archive order, then
/// one per folder of unreadable files.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub profile: Profile,
    pub threshold: f64,
    pub series: Vec<SeriesResult>,
    /// Wall-clock time of the whole analysis.
    pub duration: Duration,
}

/// One report row's worth of result.
#[derive(Debug, Clone)]
pub struct SeriesResult {
    /// The folder holding the study's files inside the archive (`.` at its root).
    pub path_to_study: String,
    /// Empty for files whose UIDs could not be read.
    pub study_uid: String,
    pub series_uid: String,
    /// Time spent on this series (decoding and measuring its slices).
    pub duration: Duration,
    pub outcome: SeriesOutcome,
}

#[derive(Debug, Clone)]
pub enum SeriesOutcome {
    Success {
        metrics: LungMetrics,
        probability: PathologyProbability,
        /// `probability.overall >= threshold`.
        pathology: bool,
        /// Bounding box of the low- and high-attenuation masks; `None` when they are empty.
        localization: Option<BoundingBox>,
        /// The masks and key images, when `Options::masks` asked for them.
        masks: Option<Box<SeriesMasks>>,
    },
    Failure {
        reason: String,
    },
}

/// Analyses every CT series of a ZIP archive or a single DICOM file at `path`.
///
/// Series that cannot be analysed become [`SeriesOutcome::Failure`]; the error is reserved for
/// inputs that cannot be read at all, hold no DICOM file, or invalid options.
pub fn analyse_path(path: &Path, options: &Options) -> Result<Analysis, EngineError> {
    options.validate()?;
    analyse_source(&Source::open(path)?, options)
}

/// Analyses the files `members` gathered from loose files and ZIP entries anywhere (one study
/// split across inputs, a PACS export without file extensions), exactly as if they were the
/// entries of one archive named by their `name`s. Members that are not DICOM are ignored.
pub fn analyse_members(members: Vec<Member>, options: &Options) -> Result<Analysis, EngineError> {
    options.validate()?;
    analyse_source(&Source::Members(members.into()), options)
}

fn analyse_source(source: &Source, options: &Options) -> Result<Analysis, EngineError> {
    let started = Instant::now();
    let threads = options.threads.max(1);

    let mut slices = Vec::new();
    let mut unreadable = Vec::new();
    for scanned in scan(source, threads)? {
        match scanned {
            Ok(header) => slices.push(header),
            Err(file) => unreadable.push(file),
        }
    }
    if slices.is_empty() && unreadable.is_empty() {
        return Err(EngineError::NoDicom);
    }

    let study_paths = study_paths(&slices);
    let mut results = Vec::new();
    for group in series::group(slices) {
        let result = match group {
            Ok(series) => {
                let path = study_paths
                    .get(&series.study_uid)
                    .cloned()
                    .unwrap_or_else(|| common_folder(series.slices.iter().map(|s| &s.name)));
                analyse_series(source, &series, path, options, threads)?
            }
            Err(rejected) => SeriesResult {
                path_to_study: study_paths
                    .get(&rejected.study_uid)
                    .cloned()
                    .unwrap_or_else(|| common_folder(&rejected.names)),
                study_uid: rejected.study_uid,
                series_uid: rejected.series_uid,
                duration: Duration::ZERO,
                outcome: SeriesOutcome::Failure {
                    reason: rejected.reason,
                },
            },
        };
        results.push(result);
    }
    results.extend(unreadable_results(unreadable));
    Ok(Analysis {
        profile: options.profile,
        threshold: options.threshold,
        series: results,
        duration: started.elapsed(),
    })
}

fn analyse_series(
    source: &Source,
    series: &Series,
    path_to_study: String,
    options: &Options,
    threads: usize,
) -> Result<SeriesResult, EngineError> {
    let started = Instant::now();
    let selected: Vec<(usize, &SliceHeader)> = series
        .slices
        .iter()
        .enumerate()
        .step_by(options.profile.slice_stride())
        .collect();
    let pixel_mm2 = series.pixel_spacing.map(|[r, c]| r * c);
    let params = SliceParams {
        mask: MaskParams::for_spacing(series.pixel_spacing),
        min_finding: finding::min_finding_pixels(pixel_mm2.unwrap_or(FALLBACK_PIXEL_MM2)),
        coronal_stride: visual::coronal_stride(series.rows),
    };
    // Filled by whichever worker measures the slice; only when masks are wanted.
    let kept: Vec<OnceLock<SliceKeep>> = if options.masks {
        (0..series.slices.len()).map(|_| OnceLock::new()).collect()
    } else {
        Vec::new()
    };
    let lungs: Vec<OnceLock<LungBits>> =
        (0..series.slices.len()).map(|_| OnceLock::new()).collect();
    let (parts, failed) = parallel::fold(
        source,
        &selected,
        threads,
        LungAccumulator::new,
        |sum, reader, &(z, slice)| {
            let slots = Slots {
                lungs: &lungs,
                kept: &kept,
            };
            measure_slice(sum, reader, slice, z, series, params, slots)
                .map_err(|reason| format!("slice {}: {reason}", slice.name))
        },
    )?;
    let outcome = match failed {
        Some(reason) => SeriesOutcome::Failure { reason },
        None => {
            let sum = parts
                .iter()
                .fold(LungAccumulator::new(), LungAccumulator::merge);
            let geometry = Geometry {
                pixel_mm2,
                slice_spacing_mm: series.slice_spacing,
                slices_in_series: series.slices.len(),
            };
            match LungMetrics::from_accumulator(&sum, geometry) {
                Some(metrics) => {
                    let probability =
                        probability_of_pathology(metrics.laa950_percent, metrics.haa_percent);
                    let lungs: Vec<(usize, LungBits)> = lungs
                        .into_iter()
                        .enumerate()
                        .filter_map(|(z, bits)| bits.into_inner().map(|b| (z, b)))
                        .collect();
                    let step_mm =
                        series.slice_spacing.unwrap_or(0.0) * options.profile.slice_stride() as f64;
                    let window = if step_mm > 0.0 {
                        (THROUGH_PLANE_MM / step_mm).floor() as usize
                    } else {
                        0
                    };
                    let (recovered, recovered_bounds) = through_plane::recover(
                        &lungs,
                        series.columns,
                        series.rows,
                        window,
                        params.min_finding,
                    );
                    drop(lungs);
                    let mut kept: Vec<Option<SliceKeep>> =
                        kept.into_iter().map(OnceLock::into_inner).collect();
                    for found in recovered {
                        if let Some(Some(slice)) = kept.get_mut(found.z) {
                            slice.add_recovered(&found.pixels);
                        }
                    }
                    let masks = if options.masks {
                        match visual::collect(source, series, kept, options.key_slices) {
                            Ok(masks) => Some(Box::new(masks)),
                            Err(reason) => {
                                return Ok(failed_series(series, path_to_study, started, reason));
                            }
                        }
                    } else {
                        None
                    };
                    SeriesOutcome::Success {
                        pathology: probability.overall >= options.threshold,
                        localization: finding::merge_boxes(sum.finding_bounds, recovered_bounds),
                        metrics,
                        probability,
                        masks,
                    }
                }
                None => SeriesOutcome::Failure {
                    reason: "no lung found: no air-like region (below −400 HU) inside the body"
                        .to_owned(),
                },
            }
        }
    };
    Ok(SeriesResult {
        path_to_study,
        study_uid: series.study_uid.clone(),
        series_uid: series.series_uid.clone(),
        duration: started.elapsed(),
        outcome,
    })
}

fn failed_series(
    series: &Series,
    path_to_study: String,
    started: Instant,
    reason: String,
) -> SeriesResult {
    SeriesResult {
        path_to_study,
        study_uid: series.study_uid.clone(),
        series_uid: series.series_uid.clone(),
        duration: started.elapsed(),
        outcome: SeriesOutcome::Failure { reason },
    }
}

/// Per-series constants of the slice measurement.
#[derive(Debug, Clone, Copy)]
struct SliceParams {
    mask: MaskParams,
    min_finding: usize,
    coronal_stride: usize,
}

/// Where a measured slice leaves what the series needs after the pass, by slice index.
#[derive(Clone, Copy)]
struct Slots<'a> {
    /// Always: the lung bits, for the through-plane recovery.
    lungs: &'a [OnceLock<LungBits>],
    /// Empty unless masks are kept.
    kept: &'a [OnceLock<SliceKeep>],
}

/// Reads, decodes and measures slice `z`; only one slice per worker is in memory at a time,
/// plus its lung bits (and its labels when masks are kept).
fn measure_slice(
    sum: &mut LungAccumulator,
    reader: &mut EntryReader,
    slice: &SliceHeader,
    z: usize,
    series: &Series,
    params: SliceParams,
    slots: Slots<'_>,
) -> Result<(), String> {
    let image = decode_slice(reader, slice, series)?;
    let mask = lung::lung_mask(&image, params.mask);
    let found = finding::label_slice(&image, &mask, z, params.min_finding);
    sum.add_slice(&image, &mask);
    sum.add_findings(found.bounds);
    if let Some(slot) = slots.lungs.get(z) {
        let _ = slot.set(LungBits::new(&mask));
    }
    if let Some(slot) = slots.kept.get(z) {
        let _ = slot.set(SliceKeep::new(&image, found, params.coronal_stride));
    }
    Ok(())
}

/// Reads and decodes one slice to HU.
pub(crate) fn decode_slice(
    reader: &mut EntryReader,
    slice: &SliceHeader,
    series: &Series,
) -> Result<hounsfield::HuImage, String> {
    let bytes = reader.read_dicom(slice.entry).map_err(|e| match e {
        EntryError::NotDicom => "no longer a DICOM file".to_owned(),
        EntryError::Unreadable(reason) => reason,
    })?;
    let object = dicom_file::parse(&bytes)?;
    drop(bytes);
    hounsfield::decode(&object, series.rows, series.columns)
}

/// The common folder of every file of each study, so all series of a study share one path.
fn study_paths(slices: &[SliceHeader]) -> HashMap<String, String> {
    let mut names: HashMap<&str, Vec<&str>> = HashMap::new();
    for slice in slices {
        names
            .entry(slice.study_uid.as_str())
            .or_default()
            .push(slice.name.as_str());
    }
    names
        .into_iter()
        .map(|(study, names)| (study.to_owned(), common_folder(names)))
        .collect()
}

/// The deepest folder containing all `names` (`/`-separated archive paths); `.` for the root.
fn common_folder<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    let mut common: Option<Vec<String>> = None;
    for name in names {
        let mut parts: Vec<&str> = name.as_ref().split('/').collect();
        parts.pop();
        common = Some(match common {
            None => parts.into_iter().map(str::to_owned).collect(),
            Some(mut prefix) => {
                let shared = prefix
                    .iter()
                    .zip(&parts)
                    .take_while(|(a, b)| a == b)
                    .count();
                prefix.truncate(shared);
                prefix
            }
        });
    }
    match common.map(|parts| parts.join("/")) {
        Some(folder) if !folder.is_empty() => folder,
        _ => ".".to_owned(),
    }
}

/// One failure per folder of files that could not be read.
fn unreadable_results(files: Vec<Unreadable>) -> Vec<SeriesResult> {
    let mut folders: Vec<(String, Vec<Unreadable>)> = Vec::new();
    for file in files {
        let folder = common_folder([&file.name]);
        match folders.iter_mut().find(|(f, _)| *f == folder) {
            Some((_, list)) => list.push(file),
            None => folders.push((folder, vec![file])),
        }
    }
    folders
        .into_iter()
        .map(|(folder, list)| {
            let Unreadable { name, reason } = &list[0];
            SeriesResult {
                path_to_study: folder,
                study_uid: String::new(),
                series_uid: String::new(),
                duration: Duration::ZERO,
                outcome: SeriesOutcome::Failure {
                    reason: format!(
                        "{} DICOM file(s) could not be read, e.g. {name}: {reason}",
                        list.len()
                    ),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_folder_of_archive_paths() {
        assert_eq!(common_folder(["P1/st/se1/IM1", "P1/st/se2/IM1"]), "P1/st");
        assert_eq!(
            common_folder(["P1/st/se1/IM1", "P1/st/se1/IM2"]),
            "P1/st/se1"
        );
        assert_eq!(common_folder(["IM1", "IM2"]), ".");
        assert_eq!(common_folder(["a/IM1", "b/IM1"]), ".");
    }
}
