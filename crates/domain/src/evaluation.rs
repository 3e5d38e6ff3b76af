//! A stored evaluation: the figures computed by the `evaluation` crate against ground truth,
//! kept as the JSON resource the API serves, with its owner, name and time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{EvaluationId, UserId};

/// One evaluation as stored. `body` is the evaluation resource (every figure, the ROC points,
/// the matched studies); the domain does not look inside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvaluation {
    pub id: EvaluationId,
    pub owner_id: UserId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub body: Value,
}
