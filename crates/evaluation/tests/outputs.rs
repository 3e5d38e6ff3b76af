//! The evaluation resource, its degenerate inputs, and the rendered figures.

#![allow(clippy::unwrap_used)]

use triage_evaluation::{
    EvalError, Evaluation, EvaluationInput, EvaluationOptions, Label, StudyScore, calibration_svg,
    compare, evaluate, read_lct_report, report_xlsx, roc_png, roc_svg,
};

fn study(uid: &str, score: f64, seconds: Option<f64>) -> StudyScore {
    StudyScore {
        study_uid: uid.into(),
        score,
        seconds,
    }
}

fn label(uid: &str, pathology: bool) -> Label {
    Label {
        study_uid: uid.into(),
        pathology,
        finding: None,
    }
}

fn input(n: usize) -> EvaluationInput {
    let scores = (0..n)
        .map(|i| {
            study(
                &format!("s{i}"),
                ((i * 37) % 100) as f64 / 100.0,
                Some(30.0 + i as f64),
            )
        })
        .collect();
    let labels = (0..n)
        .map(|i| {
            label(
                &format!("s{i}"),
                ((i * 37) % 100) as f64 / 100.0 + ((i % 7) as f64 / 10.0) > 0.6,
            )
        })
        .collect();
    EvaluationInput { scores, labels }
}

fn evaluation() -> Evaluation {
    let mut input = input(120);
    input.labels.push(label("only-labelled", true));
    input.scores.push(study("only-scored", 0.5, None));
    evaluate(&input, EvaluationOptions::default()).unwrap()
}

#[test]
fn the_resource_has_every_key_of_the_issue_and_no_nan() {
    let e = evaluation();
    let json = serde_json::to_value(&e).unwrap();
    for key in [
        "n",
        "positives",
        "negatives",
        "auc",
        "auc_ci_delong",
        "auc_ci_bootstrap",
        "threshold",
        "sensitivity",
        "sensitivity_ci",
        "specificity",
        "specificity_ci",
        "ppv",
        "npv",
        "accuracy",
        "confusion",
        "youden_threshold",
        "unmatched_labels",
        "unlabelled_studies",
        "time_per_study",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
    for key in ["tp", "fp", "tn", "fn"] {
        assert!(json["confusion"].get(key).is_some());
    }
    for key in ["p50", "p95", "max", "share_under_10_min"] {
        assert!(json["time_per_study"].get(key).is_some());
    }
    assert_eq!(json["auc_ci_delong"].as_array().unwrap().len(), 2);
    assert_eq!(e.n, 120);
    assert_eq!(e.unmatched_labels, ["only-labelled"]);
    assert_eq!(e.unlabelled_studies, ["only-scored"]);
    assert_eq!(e.threshold_source, "youden");
    assert_eq!(e.threshold, e.youden_threshold);
    let c = e.confusion;
    assert_eq!((c.tp + c.fn_) as usize, e.positives);
    assert_eq!((c.tn + c.fp) as usize, e.negatives);
    assert!(e.auc_ci_delong.contains(e.auc) && e.auc_ci_bootstrap.contains(e.auc));
    assert!(e.rule_out.unwrap().sensitivity >= 0.95);
    // serde_json writes NaN as null, which would not read back into an f64: a round trip
    // proves there is none, and that the stored resource reads back.
    let back: Evaluation = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
    assert_eq!(
        (back.n, back.studies.len(), back.roc.len()),
        (e.n, e.studies.len(), e.roc.len())
    );
    assert!((back.auc - e.auc).abs() < 1e-12);
}

#[test]
fn a_given_threshold_is_used() {
    let options = EvaluationOptions {
        threshold: Some(0.5),
        ..EvaluationOptions::default()
    };
    let e = evaluate(&input(50), options).unwrap();
    assert_eq!((e.threshold, e.threshold_source.as_str()), (0.5, "given"));
}

#[test]
fn degenerate_inputs_are_errors() {
    let options = EvaluationOptions::default();
    let empty = EvaluationInput::default();
    assert_eq!(evaluate(&empty, options).unwrap_err(), EvalError::Empty);
    let one_class = EvaluationInput {
        scores: vec![study("a", 0.1, None), study("b", 0.2, None)],
        labels: vec![label("a", true), label("b", true)],
    };
    assert!(matches!(
        evaluate(&one_class, options),
        Err(EvalError::OneClass {
            positives: 2,
            negatives: 0
        })
    ));
    let nan = EvaluationInput {
        scores: vec![study("a", f64::NAN, None), study("b", 0.2, None)],
        labels: vec![label("a", true), label("b", false)],
    };
    assert!(
        matches!(evaluate(&nan, options), Err(EvalError::NonFiniteScore { study }) if study == "a")
    );
    let twice = EvaluationInput {
        scores: vec![study("a", 0.1, None), study("a", 0.2, None)],
        labels: vec![label("a", true)],
    };
    assert!(matches!(
        evaluate(&twice, options),
        Err(EvalError::DuplicateStudy { .. })
    ));
    let no_match = EvaluationInput {
        scores: vec![study("a", 0.1, None)],
        labels: vec![label("b", true)],
    };
    assert_eq!(evaluate(&no_match, options).unwrap_err(), EvalError::Empty);
    let infinite = EvaluationOptions {
        threshold: Some(f64::INFINITY),
        ..options
    };
    assert!(matches!(
        evaluate(&input(20), infinite),
        Err(EvalError::InvalidParameter { .. })
    ));
}

#[test]
fn comparing_an_evaluation_with_itself_and_with_a_worse_one() {
    let good = evaluation();
    let same = compare(&good, &good).unwrap();
    assert_eq!((same.difference, same.p_value), (0.0, 1.0));
    let mut noisy_input = input(120);
    for (i, s) in noisy_input.scores.iter_mut().enumerate() {
        s.score = ((i * 53) % 97) as f64 / 97.0;
    }
    let noisy = evaluate(&noisy_input, EvaluationOptions::default()).unwrap();
    let c = compare(&good, &noisy).unwrap();
    assert_eq!(c.n, 120);
    assert!(c.difference > 0.0 && c.p_value < 0.05, "{c:?}");
}

#[test]
fn the_figures_are_valid_svg_png_and_xlsx() {
    let e = evaluation();
    for svg in [roc_svg(&e).unwrap(), calibration_svg(&e).unwrap()] {
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "svg");
        assert!(doc.descendants().any(|n| n.has_tag_name("text")));
    }
    let png = roc_png(&e).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png.as_slice()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().expect("buffer size")];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (720, 640));
    // Text and lines drew something dark on the white canvas.
    assert!(
        pixels
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 80))
            .count()
            > 500
    );
    let xlsx = report_xlsx(&e).unwrap();
    assert!(xlsx.starts_with(b"PK"));
}

#[test]
fn an_unreadable_report_is_an_error() {
    assert!(matches!(
        read_lct_report(b"not a workbook"),
        Err(EvalError::Report(_))
    ));
}
