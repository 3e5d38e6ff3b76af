//! The masks and localisation against the phantoms' planted truth (`ct-*.truth.npz`: per series
//! UID, `<uid>/lungs` and `<uid>/finding`, bool `[slice, row, column]`, slice i = InstanceNumber
//! i + 1).

use std::io::Read;

use triage_engine::{
    BoundingBox, LABEL_BACKGROUND, LABEL_HIGH_ATTENUATION, LABEL_LOW_ATTENUATION, Profile,
    SeriesMasks, SeriesOutcome, analyse_path,
};

use crate::support::{fixture, only_series, options};

/// A boolean volume `[slice][row][column]`, flattened.
struct Volume {
    shape: [usize; 3],
    voxels: Vec<bool>,
}

impl Volume {
    fn at(&self, z: usize, y: usize, x: usize) -> bool {
        self.voxels[(z * self.shape[1] + y) * self.shape[2] + x]
    }

    fn bounds(&self) -> BoundingBox {
        let mut b: Option<BoundingBox> = None;
        for z in 0..self.shape[0] {
            for y in 0..self.shape[1] {
                for x in 0..self.shape[2] {
                    if self.at(z, y, x) {
                        let v = BoundingBox {
                            x: (x, x),
                            y: (y, y),
                            z: (z, z),
                        };
                        b = Some(b.map_or(v, |b| b.union(v)));
                    }
                }
            }
        }
        b.expect("an empty truth mask")
    }
}

/// Reads `<series>/<name>` from an npz (a zip of .npy files).
fn truth(npz: &str, key: &str) -> Volume {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(fixture(npz)).unwrap()).unwrap();
    let mut bytes = Vec::new();
    archive
        .by_name(&format!("{key}.npy"))
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let npy = npyz::NpyFile::new(bytes.as_slice()).unwrap();
    let shape: Vec<usize> = npy.shape().iter().map(|&n| n as usize).collect();
    assert_eq!(npy.order(), npyz::Order::C);
    let voxels: Vec<bool> = npy.into_vec::<bool>().unwrap();
    Volume {
        shape: [shape[0], shape[1], shape[2]],
        voxels,
    }
}

/// The engine's masks and localisation of the single series of `zip`.
fn analysed(zip: &str) -> (Box<SeriesMasks>, Option<BoundingBox>, String) {
    let analysis = analyse_path(&fixture(zip), &options(Profile::Production)).unwrap();
    let series = only_series(&analysis);
    // The report row carries the box exactly when the series is called pathological.
    let row = &analysis.rows()[0];
    match &series.outcome {
        SeriesOutcome::Success {
            localization: Some(b),
            pathology: true,
            ..
        } => assert_eq!(row.pathology_localization, Some(b.to_report())),
        _ => assert_eq!(row.pathology_localization, None),
    }
    match &series.outcome {
        SeriesOutcome::Success {
            masks: Some(masks),
            localization,
            ..
        } => (masks.clone(), *localization, series.series_uid.clone()),
        other => panic!("no masks: {other:?}"),
    }
}

/// Dice of the engine voxels `wanted(label)` with the truth, slices matched by InstanceNumber.
fn dice(masks: &SeriesMasks, truth: &Volume, wanted: impl Fn(u8) -> bool) -> f64 {
    let (mut both, mut ours, mut theirs) = (0usize, 0usize, 0usize);
    for (z, instance) in masks.instances.iter().enumerate() {
        let slice = usize::try_from(instance.instance_number.unwrap() - 1).unwrap();
        for y in 0..masks.rows {
            for x in 0..masks.columns {
                let a = wanted(masks.label(x, y, z));
                let b = truth.at(slice, y, x);
                both += usize::from(a && b);
                ours += usize::from(a);
                theirs += usize::from(b);
            }
        }
    }
    2.0 * both as f64 / (ours + theirs) as f64
}

fn is_lung(label: u8) -> bool {
    label != LABEL_BACKGROUND
}

#[test]
fn lung_masks_match_the_planted_lungs() {
    for kind in ["normal", "emphysema", "opacity"] {
        let (masks, _, uid) = analysed(&format!("ct-{kind}.zip"));
        let lungs = truth(&format!("ct-{kind}.truth.npz"), &format!("{uid}/lungs"));
        assert_eq!(lungs.shape, [masks.labels.len(), masks.rows, masks.columns]);
        let score = dice(&masks, &lungs, is_lung);
        eprintln!("{kind}: lung Dice {score:.3}");
        assert!(score >= 0.9, "{kind}: lung Dice {score:.3}");
    }
}

#[test]
fn finding_masks_match_the_planted_findings_and_localise_them() {
    for (kind, label) in [
        ("emphysema", LABEL_LOW_ATTENUATION),
        ("opacity", LABEL_HIGH_ATTENUATION),
    ] {
        let (masks, localization, uid) = analysed(&format!("ct-{kind}.zip"));
        let finding = truth(&format!("ct-{kind}.truth.npz"), &format!("{uid}/finding"));
        let score = dice(&masks, &finding, |l| l == label);
        eprintln!("{kind}: finding Dice {score:.3}");
        assert!(score >= 0.7, "{kind}: finding Dice {score:.3}");

        // The box holds the planted one, within 5 voxels on every side.
        let ours = localization.unwrap();
        let planted = finding.bounds();
        eprintln!(
            "{kind}: localisation {} vs planted {}",
            ours.to_report(),
            planted.to_report()
        );
        for (a, b) in [
            (ours.x, planted.x),
            (ours.y, planted.y),
            (ours.z, planted.z),
        ] {
            assert!(
                a.0 <= b.0 + 5 && a.1 + 5 >= b.1,
                "{ours:?} misses {planted:?}"
            );
            assert!(
                a.0 + 5 >= b.0 && a.1 <= b.1 + 5,
                "{ours:?} is much larger than {planted:?}"
            );
        }
    }
}

#[test]
fn the_normal_phantom_has_almost_no_finding() {
    let (masks, _, _) = analysed("ct-normal.zip");
    let lung = masks
        .labels
        .iter()
        .flatten()
        .filter(|l| is_lung(**l))
        .count();
    let abnormal = masks.count(LABEL_LOW_ATTENUATION) + masks.count(LABEL_HIGH_ATTENUATION);
    let share = abnormal as f64 / lung as f64;
    eprintln!("normal: {abnormal} abnormal of {lung} lung voxels");
    assert!(share < 0.005, "{share}");
}
