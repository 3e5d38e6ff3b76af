//! Grouping files into series, putting slices in anatomical order, and refusing series the
//! densitometry cannot be trusted on.

use std::collections::HashMap;

use crate::dicom_file::SliceHeader;

/// Series with fewer slices than this are refused: they cannot cover the lungs of a chest CT.
pub const MIN_SLICES: usize = 20;
/// Largest accepted image (pixels per slice): bounds what one decode may allocate.
pub(crate) const MAX_PIXELS: usize = 4096 * 4096;

/// A series that passed the checks, slices in order along the slice normal.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub study_uid: String,
    pub series_uid: String,
    pub slices: Vec<SliceHeader>,
    pub rows: usize,
    pub columns: usize,
    /// Row and column spacing (mm), if the files state it.
    pub pixel_spacing: Option<[f64; 2]>,
    /// Distance between slice centres (mm): from positions, else the spacing or thickness tags.
    pub slice_spacing: Option<f64>,
}

/// A series that will not be analysed, and why.
#[derive(Debug, Clone)]
pub(crate) struct Rejected {
    pub study_uid: String,
    pub series_uid: String,
    pub names: Vec<String>,
    pub reason: String,
}

/// Groups by (StudyInstanceUID, SeriesInstanceUID) in order of first appearance, then checks
/// and orders each group.
pub(crate) fn group(slices: Vec<SliceHeader>) -> Vec<Result<Series, Rejected>> {
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut groups: Vec<Vec<SliceHeader>> = Vec::new();
    for slice in slices {
        let key = (slice.study_uid.clone(), slice.series_uid.clone());
        let at = *index.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[at].push(slice);
    }
    groups.into_iter().filter_map(build).collect()
}

fn build(mut slices: Vec<SliceHeader>) -> Option<Result<Series, Rejected>> {
    let first = slices.first()?.clone();
    let reject = |slices: &[SliceHeader], reason: String| Rejected {
        study_uid: first.study_uid.clone(),
        series_uid: first.series_uid.clone(),
        names: slices.iter().map(|s| s.name.clone()).collect(),
        reason,
    };
    if let Err(reason) = check(&slices) {
        return Some(Err(reject(&slices, reason)));
    }
    let slice_spacing = order(&mut slices);
    Some(Ok(Series {
        study_uid: first.study_uid.clone(),
        series_uid: first.series_uid.clone(),
        rows: usize::from(first.rows.unwrap_or(0)),
        columns: usize::from(first.columns.unwrap_or(0)),
        pixel_spacing: first.pixel_spacing.filter(|s| s.iter().all(|v| *v > 0.0)),
        slice_spacing: slice_spacing.or_else(|| {
            [first.spacing_between_slices, first.slice_thickness]
                .into_iter()
                .flatten()
                .find(|v| v.is_finite() && *v > 0.0)
        }),
        slices,
    }))
}

/// The reasons a series is not analysed, most fundamental first.
fn check(slices: &[SliceHeader]) -> Result<(), String> {
    let mut modalities: Vec<&str> = slices
        .iter()
        .map(|s| s.modality.as_deref().unwrap_or("none"))
        .collect();
    modalities.sort_unstable();
    modalities.dedup();
    if modalities != ["CT"] {
        return Err(format!(
            "not a CT series (Modality {})",
            modalities.join(", ")
        ));
    }
    if slices.iter().any(|s| s.frames != 1) {
        return Err("multi-frame images are not supported".to_owned());
    }
    let without_pixels = slices.iter().filter(|s| !s.has_pixel_data).count();
    if without_pixels > 0 {
        return Err(format!(
            "{without_pixels} of {} files have no pixel data",
            slices.len()
        ));
    }
    let mut sizes: Vec<(u16, u16)> = slices
        .iter()
        .map(|s| (s.rows.unwrap_or(0), s.columns.unwrap_or(0)))
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    match sizes.as_slice() {
        [(rows, columns)] if *rows == 0 || *columns == 0 => {
            return Err("the images state no Rows/Columns".to_owned());
        }
        [(rows, columns)] if usize::from(*rows) * usize::from(*columns) > MAX_PIXELS => {
            return Err(format!("images of {rows}×{columns} pixels are too large"));
        }
        [_] => {}
        _ => {
            let listed: Vec<String> = sizes.iter().map(|(r, c)| format!("{r}×{c}")).collect();
            return Err(format!(
                "inconsistent image sizes ({}) within one series",
                listed.join(", ")
            ));
        }
    }
    if slices.len() < MIN_SLICES {
        return Err(format!("too few slices ({} < {MIN_SLICES})", slices.len()));
    }
    Ok(())
}

/// Sorts slices along the slice normal when every slice has a position (returning the median
/// gap as the slice spacing), else by InstanceNumber, else by file name.
fn order(slices: &mut [SliceHeader]) -> Option<f64> {
    if slices.iter().all(|s| s.position.is_some()) {
        let normal = slices
            .iter()
            .find_map(|s| s.orientation)
            .and_then(slice_normal)
            .unwrap_or([0.0, 0.0, 1.0]);
        let along = |s: &SliceHeader| {
            let p = s.position.unwrap_or_default();
            p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]
        };
        slices.sort_by(|a, b| {
            along(a)
                .total_cmp(&along(b))
                .then(a.instance_number.cmp(&b.instance_number))
        });
        let mut gaps: Vec<f64> = slices
            .windows(2)
            .map(|w| along(&w[1]) - along(&w[0]))
            .filter(|gap| *gap > 1e-3)
            .collect();
        gaps.sort_by(f64::total_cmp);
        return gaps.get(gaps.len() / 2).copied();
    }
    if slices.iter().all(|s| s.instance_number.is_some()) {
        slices.sort_by_key(|s| s.instance_number);
    } else {
        slices.sort_by(|a, b| a.name.cmp(&b.name));
    }
    None
}

/// The cross product of the row and column direction cosines, if they are not degenerate.
pub(crate) fn slice_normal(o: [f64; 6]) -> Option<[f64; 3]> {
    let n = [
        o[1] * o[5] - o[2] * o[4],
        o[2] * o[3] - o[0] * o[5],
        o[0] * o[4] - o[1] * o[3],
    ];
    let length = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
    (length > 1e-6).then(|| n.map(|v| v / length))
}

#[cfg(test)]
#[path = "series_tests.rs"]
mod tests;
