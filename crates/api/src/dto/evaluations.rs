//! Evaluation resources: the stored figures with their id, name and time; list items; the
//! paired comparison; the multipart form's schema for the docs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use triage_app::PairedComparison;
use triage_domain::StoredEvaluation;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::QueryChecks;

/// An evaluation: `id`, `name`, `created_at`, then every figure under the names of
/// docs/evaluation.md (`n`, `positives`, `negatives`, `auc`, `auc_ci_delong`,
/// `auc_ci_bootstrap`, `threshold`, `sensitivity`, `sensitivity_ci`, `specificity`,
/// `specificity_ci`, `ppv`, `npv`, `accuracy`, `confusion`, `youden_threshold`, `rule_out`,
/// `unmatched_labels`, `unlabelled_studies`, `time_per_study`, `roc`, `calibration`,
/// `studies`, `jobs`, …).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EvaluationResponse {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub figures: Value,
}

impl From<StoredEvaluation> for EvaluationResponse {
    fn from(e: StoredEvaluation) -> Self {
        Self {
            id: e.id.0,
            name: e.name,
            created_at: e.created_at,
            figures: e.body,
        }
    }
}

/// One evaluation in a list: the headline figures only.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EvaluationSummary {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub n: Option<u64>,
    pub auc: Option<f64>,
    pub auc_ci_delong: Option<[f64; 2]>,
    pub threshold: Option<f64>,
    pub sensitivity: Option<f64>,
    pub specificity: Option<f64>,
}

impl From<StoredEvaluation> for EvaluationSummary {
    fn from(e: StoredEvaluation) -> Self {
        let body = &e.body;
        Self {
            n: body["n"].as_u64(),
            auc: body["auc"].as_f64(),
            auc_ci_delong: serde_json::from_value(body["auc_ci_delong"].clone()).ok(),
            threshold: body["threshold"].as_f64(),
            sensitivity: body["sensitivity"].as_f64(),
            specificity: body["specificity"].as_f64(),
            id: e.id.0,
            name: e.name,
            created_at: e.created_at,
        }
    }
}

/// The paired DeLong test of `a` against `b` on the studies both evaluated.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ComparisonResponse {
    pub a: Uuid,
    pub b: Uuid,
    /// Common studies compared.
    pub n: usize,
    pub auc_a: f64,
    pub auc_b: f64,
    /// `auc_a − auc_b`.
    pub difference: f64,
    pub se: f64,
    pub difference_ci: [f64; 2],
    pub z: f64,
    /// Two-sided p-value of "the AUCs are equal".
    pub p_value: f64,
}

impl ComparisonResponse {
    pub(crate) fn new(a: Uuid, b: Uuid, c: PairedComparison) -> Self {
        Self {
            a,
            b,
            n: c.n,
            auc_a: c.auc_a,
            auc_b: c.auc_b,
            difference: c.difference,
            se: c.se,
            difference_ci: c.difference_ci.into(),
            z: c.z,
            p_value: c.p_value,
        }
    }
}

/// The multipart form of `POST /evaluations` (for the docs; parts are read one by one).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct EvaluationForm {
    /// The labels file: CSV or XLSX with `study_uid` and `label` (or `pathology`,
    /// `ground_truth`), values 0/1, true/false, normal/pathology, да/нет; optional `finding`.
    #[schema(value_type = String, format = Binary)]
    labels: Option<Vec<u8>>,
    /// `file` (default: the `labels` part) or `reviews` (the current review label of each of the
    /// caller's reviewed studies; none reviewed: 422 `reviews_not_available`).
    source: Option<String>,
    /// Job ids to evaluate, comma-separated (or the part repeated). Without them: every
    /// succeeded job of the caller, optionally within `from`/`to`.
    job_ids: Option<String>,
    /// RFC 3339: only jobs created at or after this instant.
    from: Option<String>,
    /// RFC 3339: only jobs created before this instant.
    to: Option<String>,
    /// The operating point; by default the Youden-optimal threshold.
    threshold: Option<f64>,
    name: Option<String>,
}

/// `?skip&limit` of GET /evaluations.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EvaluationListQuery {
    /// Evaluations to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub skip: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

impl EvaluationListQuery {
    pub(crate) fn check(&self) -> Result<(u64, u64), triage_app::AppError> {
        let mut checks = QueryChecks::default();
        let skip = checks.number("skip", self.skip.as_deref(), 0, 0, u64::MAX);
        let limit = checks.number("limit", self.limit.as_deref(), 100, 1, 1000);
        checks.finish()?;
        Ok((skip, limit))
    }
}
