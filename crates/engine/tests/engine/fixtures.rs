//! The shared CT phantoms: normal, emphysema, opacity, a two-study PACS export, no DICOM.

use std::collections::BTreeSet;

use dicom_dictionary_std::tags;
use triage_engine::{EngineError, Profile, SeriesOutcome, analyse_path};

use crate::support::{dicom, entries, fixture, only_series, options, success};

#[test]
fn normal_phantom_is_one_successful_row_without_pathology() {
    let analysis = analyse_path(&fixture("ct-normal.zip"), &options(Profile::Production)).unwrap();
    let series = only_series(&analysis);
    let (probability, pathology, slices) = success(series);
    assert!(probability < 0.25, "{probability}");
    assert!(!pathology);
    assert_eq!(slices, 48);
    let SeriesOutcome::Success { metrics, .. } = &series.outcome else {
        unreachable!()
    };
    assert!(metrics.laa950_percent < 1.0 && metrics.haa_percent < 1.0);
    assert!((-900.0..-800.0).contains(&metrics.mean_lung_hu));
    // Two ellipses of about 2000 pixels, 0.49 mm², 48 slices of 1 mm: ≈ 94 ml.
    let volume = metrics.lung_volume_ml.unwrap();
    assert!((85.0..105.0).contains(&volume), "{volume}");
}

#[test]
fn emphysema_and_opacity_phantoms_are_pathological_at_threshold_0_25() {
    for (name, finding) in [
        ("ct-emphysema.zip", "emphysema"),
        ("ct-opacity.zip", "high_attenuation"),
    ] {
        let analysis = analyse_path(&fixture(name), &options(Profile::Production)).unwrap();
        let series = only_series(&analysis);
        let (probability, pathology, _) = success(series);
        assert!(probability >= 0.25 && pathology, "{name}: {probability}");
        let SeriesOutcome::Success { probability, .. } = &series.outcome else {
            unreachable!()
        };
        assert_eq!(probability.dominant_finding(), finding, "{name}");
    }
}

#[test]
fn two_study_pacs_export_without_extensions_gives_both_series_with_their_uids() {
    let path = fixture("ct-two-studies-pacs.zip");
    // What dicom-object itself reads from every file, independently of the engine.
    let expected: BTreeSet<(String, String)> = entries(&path)
        .iter()
        .map(|(_, bytes)| {
            let object = dicom(bytes);
            let uid = |tag| {
                object
                    .element(tag)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .trim()
                    .to_owned()
            };
            (
                uid(tags::STUDY_INSTANCE_UID),
                uid(tags::SERIES_INSTANCE_UID),
            )
        })
        .collect();
    assert_eq!(expected.len(), 2);

    let analysis = analyse_path(&path, &options(Profile::Production)).unwrap();
    let found: BTreeSet<(String, String)> = analysis
        .series
        .iter()
        .map(|s| (s.study_uid.clone(), s.series_uid.clone()))
        .collect();
    assert_eq!(found, expected);
    for series in &analysis.series {
        assert_eq!(success(series).2, 32);
        // The study folder is where its files are, e.g. P00400/382488284034/24922942.
        assert!(
            series.path_to_study.starts_with("P004"),
            "{}",
            series.path_to_study
        );
    }
}

#[test]
fn fast_debug_analyses_every_fourth_slice_and_research_every_slice() {
    let path = fixture("ct-emphysema.zip");
    let fast = analyse_path(&path, &options(Profile::FastDebug)).unwrap();
    let research = analyse_path(&path, &options(Profile::Research)).unwrap();
    assert_eq!(success(only_series(&fast)).2, 12);
    assert_eq!(success(only_series(&research)).2, 48);
    // The extrapolated volume of the sparse pass stays close to the full one.
    let volume = |a: &triage_engine::Analysis| match &a.series[0].outcome {
        SeriesOutcome::Success { metrics, .. } => metrics.lung_volume_ml.unwrap(),
        SeriesOutcome::Failure { .. } => unreachable!(),
    };
    assert!((volume(&fast) / volume(&research) - 1.0).abs() < 0.05);
}

#[test]
fn an_archive_without_dicom_is_an_error() {
    let result = analyse_path(&fixture("not-dicom.zip"), &options(Profile::Production));
    assert!(matches!(result, Err(EngineError::NoDicom)), "{result:?}");
}

#[test]
fn a_single_dicom_file_is_accepted_but_is_too_short_a_series() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = entries(&fixture("ct-normal.zip")).remove(0);
    let path = dir.path().join("IM00001");
    std::fs::write(&path, bytes).unwrap();
    let analysis = analyse_path(&path, &options(Profile::Production)).unwrap();
    let reason = crate::support::failure(only_series(&analysis));
    assert_eq!(reason, "too few slices (1 < 20)");
}

#[test]
fn neither_zip_nor_dicom_and_bad_options_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello").unwrap();
    let result = analyse_path(&path, &options(Profile::Production));
    assert!(matches!(result, Err(EngineError::UnrecognisedInput(_))));
    let mut bad = options(Profile::Production);
    bad.threshold = 2.0;
    let result = analyse_path(&fixture("ct-normal.zip"), &bad);
    assert!(matches!(result, Err(EngineError::InvalidThreshold(_))));
}
