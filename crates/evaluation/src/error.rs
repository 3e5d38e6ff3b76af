//! The one error type of the crate.

/// Why an evaluation could not be computed. The messages are for humans; the variants let
/// callers map them to machine-readable codes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// No (score, label) pair at all.
    #[error("there is nothing to evaluate: no study has both a score and a label")]
    Empty,
    /// Only positives or only negatives: AUC, sensitivity or specificity is undefined.
    #[error(
        "the labels have only one class ({positives} positive, {negatives} negative); both are needed"
    )]
    OneClass { positives: usize, negatives: usize },
    /// A score that is NaN or infinite.
    #[error("the score of study {study} is not a finite number")]
    NonFiniteScore { study: String },
    /// The same study twice (in the labels, or in the scores).
    #[error("study {study} appears more than once in the {source_name}")]
    DuplicateStudy {
        study: String,
        source_name: &'static str,
    },
    /// A threshold or target outside its domain.
    #[error("invalid {field}: {reason}")]
    InvalidParameter { field: &'static str, reason: String },
    /// The labels file could not be read; `line` is 1-based where known.
    #[error("labels file: {message}")]
    Labels { line: Option<u64>, message: String },
    /// The LCT report could not be read.
    #[error("report: {0}")]
    Report(String),
    /// Two score sets compared on different studies or labels.
    #[error("the two evaluations cannot be paired: {0}")]
    NotPaired(String),
    /// The variance of a statistic is zero where a test needs it positive.
    #[error("{0}")]
    Degenerate(String),
    /// Drawing a plot or writing the workbook failed.
    #[error("rendering failed: {0}")]
    Render(String),
}

impl EvalError {
    /// A short, stable, machine-readable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "evaluation_empty",
            Self::OneClass { .. } => "evaluation_one_class",
            Self::NonFiniteScore { .. } => "evaluation_non_finite_score",
            Self::DuplicateStudy { .. } => "evaluation_duplicate_study",
            Self::InvalidParameter { .. } => "evaluation_invalid_parameter",
            Self::Labels { .. } => "labels_unreadable",
            Self::Report(_) => "report_unreadable",
            Self::NotPaired(_) => "evaluations_not_paired",
            Self::Degenerate(_) => "evaluation_degenerate",
            Self::Render(_) => "evaluation_render_failed",
        }
    }

    pub(crate) fn labels(line: Option<u64>, message: impl Into<String>) -> Self {
        Self::Labels {
            line,
            message: message.into(),
        }
    }
}
