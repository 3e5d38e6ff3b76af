//! The whole evaluation of one set of scored studies against labels: the resource the CLI
//! prints and the API stores, with every figure under the names the issue fixes.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::EvalError;
use crate::bootstrap::{BootstrapOptions, bootstrap_auc_ci};
use crate::confusion::{Confusion, operating_point};
use crate::delong::{PairedComparison, delong, paired_delong};
use crate::labels::Label;
use crate::roc::{RocPoint, roc_curve, threshold_for_sensitivity, youden_threshold};
use crate::sample::Sample;
use crate::timing::{TimePerStudy, time_per_study};
use crate::wilson::Interval;

/// Most ROC points kept in the resource (and drawn): enough for any screen, bounded for
/// 100 000 studies.
const MAX_ROC_POINTS: usize = 1000;
const CALIBRATION_BINS: usize = 10;

/// The score of one study (the highest of its series) and, where known, its processing time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudyScore {
    pub study_uid: String,
    pub score: f64,
    pub seconds: Option<f64>,
}

/// What is evaluated: scored studies and labels, matched by study UID.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvaluationInput {
    pub scores: Vec<StudyScore>,
    pub labels: Vec<Label>,
}

/// How it is evaluated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvaluationOptions {
    /// The operating point; `None` = the Youden-optimal threshold.
    pub threshold: Option<f64>,
    /// The sensitivity the rule-out operating point must reach.
    pub target_sensitivity: f64,
    pub bootstrap: BootstrapOptions,
}

impl Default for EvaluationOptions {
    fn default() -> Self {
        Self {
            threshold: None,
            target_sensitivity: 0.95,
            bootstrap: BootstrapOptions::default(),
        }
    }
}

/// The operating point with the highest threshold reaching the target sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RuleOut {
    pub target_sensitivity: f64,
    pub threshold: f64,
    pub sensitivity: f64,
    pub specificity: f64,
    pub specificity_ci: Interval,
}

/// Studies whose scores fall in `[low, high)` (the last bin includes `high`): their mean
/// score against the share that is pathology.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub low: f64,
    pub high: f64,
    pub n: usize,
    pub mean_score: f64,
    pub observed_rate: f64,
}

/// One matched study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatedStudy {
    pub study_uid: String,
    pub score: f64,
    pub pathology: bool,
}

/// Every figure of one evaluation. Field names are the JSON keys of the CLI and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub n: usize,
    pub positives: usize,
    pub negatives: usize,
    pub auc: f64,
    pub auc_se: f64,
    pub auc_ci_delong: Interval,
    pub auc_ci_bootstrap: Interval,
    pub bootstrap_resamples: u32,
    pub bootstrap_seed: u64,
    pub threshold: f64,
    /// `given` or `youden`.
    pub threshold_source: String,
    pub sensitivity: f64,
    pub sensitivity_ci: Interval,
    pub specificity: f64,
    pub specificity_ci: Interval,
    pub ppv: Option<f64>,
    pub ppv_ci: Option<Interval>,
    pub npv: Option<f64>,
    pub npv_ci: Option<Interval>,
    pub accuracy: f64,
    pub accuracy_ci: Interval,
    pub confusion: Confusion,
    pub youden_threshold: f64,
    pub rule_out: Option<RuleOut>,
    pub unmatched_labels: Vec<String>,
    pub unlabelled_studies: Vec<String>,
    pub time_per_study: Option<TimePerStudy>,
    pub roc: Vec<RocPoint>,
    pub calibration: Vec<CalibrationBin>,
    pub studies: Vec<EvaluatedStudy>,
}

/// Matches scores to labels by study UID and computes everything.
///
/// # Errors
/// [`EvalError::DuplicateStudy`] when a study is scored twice; [`EvalError::NonFiniteScore`]
/// naming the study; the [`Sample::new`] errors for the matched studies (nothing matched, one
/// class only); [`EvalError::InvalidParameter`] for a non-finite threshold, a target outside
/// (0, 1] or a bad number of resamples.
pub fn evaluate(
    input: &EvaluationInput,
    options: EvaluationOptions,
) -> Result<Evaluation, EvalError> {
    let mut seen = HashSet::new();
    for score in &input.scores {
        if !seen.insert(score.study_uid.as_str()) {
            return Err(EvalError::DuplicateStudy {
                study: score.study_uid.clone(),
                source_name: "scores",
            });
        }
        if !score.score.is_finite() {
            return Err(EvalError::NonFiniteScore {
                study: score.study_uid.clone(),
            });
        }
    }
    let labels: HashMap<&str, bool> = input
        .labels
        .iter()
        .map(|l| (l.study_uid.as_str(), l.pathology))
        .collect();
    if labels.len() != input.labels.len() {
        let mut names = HashSet::new();
        let twice = input.labels.iter().find(|l| !names.insert(&l.study_uid));
        return Err(EvalError::DuplicateStudy {
            study: twice.map(|l| l.study_uid.clone()).unwrap_or_default(),
            source_name: "labels",
        });
    }
    let mut studies: Vec<EvaluatedStudy> = input
        .scores
        .iter()
        .filter_map(|s| {
            labels
                .get(s.study_uid.as_str())
                .map(|&pathology| EvaluatedStudy {
                    study_uid: s.study_uid.clone(),
                    score: s.score,
                    pathology,
                })
        })
        .collect();
    studies.sort_by(|a, b| a.study_uid.cmp(&b.study_uid));
    let mut unmatched_labels: Vec<String> = input
        .labels
        .iter()
        .filter(|l| !seen.contains(l.study_uid.as_str()))
        .map(|l| l.study_uid.clone())
        .collect();
    unmatched_labels.sort();
    let mut unlabelled_studies: Vec<String> = input
        .scores
        .iter()
        .filter(|s| !labels.contains_key(s.study_uid.as_str()))
        .map(|s| s.study_uid.clone())
        .collect();
    unlabelled_studies.sort();

    let sample = Sample::new(studies.iter().map(|s| (s.score, s.pathology)))?;
    let curve = roc_curve(&sample);
    let youden = youden_threshold(&curve)
        .ok_or_else(|| EvalError::Degenerate("the ROC curve has no threshold".into()))?;
    let (threshold, threshold_source) = match options.threshold {
        Some(t) => (t, "given"),
        None => (youden, "youden"),
    };
    let op = operating_point(&sample, threshold)?;
    let d = delong(&sample);
    let bootstrap = bootstrap_auc_ci(&sample, options.bootstrap)?;
    let rule_out = match threshold_for_sensitivity(&curve, options.target_sensitivity) {
        Ok(t) => {
            let at = operating_point(&sample, t)?;
            Some(RuleOut {
                target_sensitivity: options.target_sensitivity,
                threshold: t,
                sensitivity: at.sensitivity,
                specificity: at.specificity,
                specificity_ci: at.specificity_ci,
            })
        }
        Err(EvalError::InvalidParameter { field, reason }) => {
            return Err(EvalError::InvalidParameter { field, reason });
        }
        Err(_) => None,
    };
    let matched: HashSet<&str> = studies.iter().map(|s| s.study_uid.as_str()).collect();
    let times: Vec<f64> = input
        .scores
        .iter()
        .filter(|s| matched.contains(s.study_uid.as_str()))
        .filter_map(|s| s.seconds)
        .collect();
    Ok(Evaluation {
        n: sample.len(),
        positives: sample.positives().len(),
        negatives: sample.negatives().len(),
        auc: d.auc,
        auc_se: d.se,
        auc_ci_delong: d.ci,
        auc_ci_bootstrap: bootstrap,
        bootstrap_resamples: options.bootstrap.resamples,
        bootstrap_seed: options.bootstrap.seed,
        threshold,
        threshold_source: threshold_source.to_owned(),
        sensitivity: op.sensitivity,
        sensitivity_ci: op.sensitivity_ci,
        specificity: op.specificity,
        specificity_ci: op.specificity_ci,
        ppv: op.ppv,
        ppv_ci: op.ppv_ci,
        npv: op.npv,
        npv_ci: op.npv_ci,
        accuracy: op.accuracy,
        accuracy_ci: op.accuracy_ci,
        confusion: op.confusion,
        youden_threshold: youden,
        rule_out,
        unmatched_labels,
        unlabelled_studies,
        time_per_study: time_per_study(&times),
        roc: thin(curve),
        calibration: calibration(&studies),
        studies,
    })
}

/// Keeps at most [`MAX_ROC_POINTS`] evenly spaced points, always the first and the last.
fn thin(curve: Vec<RocPoint>) -> Vec<RocPoint> {
    if curve.len() <= MAX_ROC_POINTS {
        return curve;
    }
    let step = curve.len().div_ceil(MAX_ROC_POINTS - 1);
    let last = curve.len() - 1;
    curve
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == last)
        .map(|(_, p)| p)
        .collect()
}

fn calibration(studies: &[EvaluatedStudy]) -> Vec<CalibrationBin> {
    let (min, max) = studies
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), s| {
            (lo.min(s.score), hi.max(s.score))
        });
    // Probabilities get the fixed deciles; other scores are binned over their own range.
    let (low, high) = if min >= 0.0 && max <= 1.0 {
        (0.0, 1.0)
    } else {
        (min, max)
    };
    let width = (high - low) / CALIBRATION_BINS as f64;
    let mut bins: BTreeMap<usize, (usize, f64, usize)> = BTreeMap::new();
    for s in studies {
        let index = if width > 0.0 {
            (((s.score - low) / width) as usize).min(CALIBRATION_BINS - 1)
        } else {
            0
        };
        let bin = bins.entry(index).or_default();
        bin.0 += 1;
        bin.1 += s.score;
        bin.2 += usize::from(s.pathology);
    }
    bins.into_iter()
        .map(|(index, (n, sum, positive))| CalibrationBin {
            low: low + width * index as f64,
            high: low + width * (index + 1) as f64,
            n,
            mean_score: sum / n as f64,
            observed_rate: positive as f64 / n as f64,
        })
        .collect()
}

/// The paired DeLong test of `a` against `b` on the studies both evaluated.
///
/// # Errors
/// [`EvalError::NotPaired`] when a common study has different labels in the two;
/// [`EvalError::Empty`] / [`EvalError::OneClass`] when the common studies do not hold both
/// classes; [`EvalError::Degenerate`] (see [`paired_delong`]).
pub fn compare(a: &Evaluation, b: &Evaluation) -> Result<PairedComparison, EvalError> {
    let in_b: HashMap<&str, &EvaluatedStudy> = b
        .studies
        .iter()
        .map(|s| (s.study_uid.as_str(), s))
        .collect();
    let mut labels = Vec::new();
    let mut scores_a = Vec::new();
    let mut scores_b = Vec::new();
    for study in &a.studies {
        let Some(other) = in_b.get(study.study_uid.as_str()) else {
            continue;
        };
        if other.pathology != study.pathology {
            return Err(EvalError::NotPaired(format!(
                "study {} has different labels in the two evaluations",
                study.study_uid
            )));
        }
        labels.push(study.pathology);
        scores_a.push(study.score);
        scores_b.push(other.score);
    }
    paired_delong(&labels, &scores_a, &scores_b)
}
