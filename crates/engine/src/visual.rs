//! Gathering a series' [`SeriesMasks`] after the measuring pass: the kept per-slice labels and
//! coronal candidate rows, the key slices chosen and decoded once more for their grey image.

use crate::finding::{
    LABEL_BACKGROUND, LABEL_HIGH_ATTENUATION, LABEL_LOW_ATTENUATION, SliceFindings,
};
use crate::hounsfield::HuImage;
use crate::masks::{CoronalPlane, GreySlice, SeriesMasks, VolumeGeometry, lung_window};
use crate::series::{Series, slice_normal};
use crate::source::Source;

/// At most this many candidate rows are kept per slice for the coronal reformat.
const CORONAL_CANDIDATES: usize = 64;
/// Pixel size assumed when PixelSpacing is missing (as in `lung`).
const FALLBACK_PIXEL_MM: f64 = 0.7;

/// Every `coronal_stride(rows)`-th row is a candidate for the coronal plane.
pub(crate) fn coronal_stride(rows: usize) -> usize {
    rows.div_ceil(CORONAL_CANDIDATES).max(1)
}

/// What one measured slice leaves for the masks.
#[derive(Debug)]
pub(crate) struct SliceKeep {
    labels: Vec<u8>,
    abnormal: usize,
    lung: usize,
    /// The lung-windowed candidate rows (rows 0, stride, 2·stride, …), each `columns` long.
    candidate_rows: Vec<u8>,
}

impl SliceKeep {
    pub fn new(image: &HuImage, found: SliceFindings, stride: usize) -> Self {
        let candidate_rows = (0..image.rows)
            .step_by(stride)
            .flat_map(|y| &image.hu[y * image.columns..(y + 1) * image.columns])
            .map(|&hu| lung_window(hu))
            .collect();
        Self {
            lung: found
                .labels
                .iter()
                .filter(|l| **l != LABEL_BACKGROUND)
                .count(),
            abnormal: found.abnormal,
            labels: found.labels,
            candidate_rows,
        }
    }
}

impl SliceKeep {
    /// Marks pixels the through-plane recovery found as lung with a high-attenuation finding.
    pub fn add_recovered(&mut self, pixels: &[usize]) {
        for &p in pixels {
            if let Some(label) = self.labels.get_mut(p) {
                if *label == LABEL_BACKGROUND {
                    self.lung += 1;
                }
                if *label < LABEL_LOW_ATTENUATION {
                    self.abnormal += 1;
                }
                *label = LABEL_HIGH_ATTENUATION;
            }
        }
    }
}

/// Assembles the masks of a measured series and decodes its `key_slices` key slices again.
pub(crate) fn collect(
    source: &Source,
    series: &Series,
    kept: Vec<Option<SliceKeep>>,
    key_slices: usize,
) -> Result<SeriesMasks, String> {
    let (rows, columns) = (series.rows, series.columns);
    let stride = coronal_stride(rows);

    // Key slices: most abnormal voxels, then most lung.
    let mut ranked: Vec<(usize, usize, usize)> = kept
        .iter()
        .enumerate()
        .filter_map(|(z, k)| k.as_ref().map(|k| (z, k.abnormal, k.lung)))
        .filter(|(_, _, lung)| *lung > 0)
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    let mut reader = source.reader().map_err(|e| e.to_string())?;
    let mut key = Vec::new();
    for &(z, _, _) in ranked.iter().take(key_slices) {
        let image = crate::analysis::decode_slice(&mut reader, &series.slices[z], series)?;
        key.push(GreySlice {
            z,
            grey: image.hu.iter().map(|&hu| lung_window(hu)).collect(),
        });
    }

    // The coronal plane: the candidate row with the most findings, else the most lung.
    let candidates: Vec<usize> = (0..rows).step_by(stride).collect();
    let score = |y: usize| -> (usize, usize) {
        kept.iter().flatten().fold((0, 0), |(abnormal, lung), k| {
            let row = &k.labels[y * columns..(y + 1) * columns];
            (
                abnormal + row.iter().filter(|l| **l >= LABEL_LOW_ATTENUATION).count(),
                lung + row.iter().filter(|l| **l != LABEL_BACKGROUND).count(),
            )
        })
    };
    let best = candidates
        .iter()
        .enumerate()
        .map(|(i, &y)| (i, y, score(y)))
        .max_by(|a, b| a.2.cmp(&b.2).then(b.1.cmp(&a.1)));
    let coronal = best.map(|(i, y, _)| CoronalPlane {
        row: y,
        grey: kept
            .iter()
            .flat_map(|k| match k {
                Some(k) => k.candidate_rows[i * columns..(i + 1) * columns].to_vec(),
                None => vec![0; columns],
            })
            .collect(),
    });

    let first = series.slices.first().ok_or("an empty series")?;
    let orientation = first.orientation.unwrap_or([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let geometry = VolumeGeometry {
        pixel_spacing: series
            .pixel_spacing
            .unwrap_or([FALLBACK_PIXEL_MM, FALLBACK_PIXEL_MM]),
        pixel_spacing_stated: series.pixel_spacing.is_some(),
        slice_spacing: series.slice_spacing.unwrap_or(1.0),
        normal: slice_normal(orientation).unwrap_or([0.0, 0.0, 1.0]),
        orientation,
        origin: first.position.unwrap_or_default(),
    };
    Ok(SeriesMasks {
        columns,
        rows,
        labels: kept
            .into_iter()
            .map(|k| k.map(|k| k.labels).unwrap_or_default())
            .collect(),
        geometry,
        instances: series.slices.iter().map(|s| s.reference.clone()).collect(),
        study_uid: series.study_uid.clone(),
        series_uid: series.series_uid.clone(),
        key_slices: key,
        coronal,
    })
}
