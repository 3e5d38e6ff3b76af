//! A validated set of (score, label) pairs, split by class and sorted once: what every
//! statistic of the crate starts from.

use crate::EvalError;

/// Scores of the positive and the negative studies, each sorted ascending. Construction checks
/// what would otherwise surface as a NaN or a panic: emptiness, a missing class, non-finite
/// scores.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    positives: Vec<f64>,
    negatives: Vec<f64>,
}

impl Sample {
    /// Builds a sample from `(score, label)` pairs (`true` = pathology).
    ///
    /// # Errors
    /// [`EvalError::Empty`], [`EvalError::NonFiniteScore`] (the study is named by its
    /// position), [`EvalError::OneClass`].
    pub fn new(pairs: impl IntoIterator<Item = (f64, bool)>) -> Result<Self, EvalError> {
        let mut positives = Vec::new();
        let mut negatives = Vec::new();
        for (index, (score, label)) in pairs.into_iter().enumerate() {
            if !score.is_finite() {
                return Err(EvalError::NonFiniteScore {
                    study: format!("#{}", index + 1),
                });
            }
            if label {
                positives.push(score);
            } else {
                negatives.push(score);
            }
        }
        if positives.is_empty() && negatives.is_empty() {
            return Err(EvalError::Empty);
        }
        if positives.is_empty() || negatives.is_empty() {
            return Err(EvalError::OneClass {
                positives: positives.len(),
                negatives: negatives.len(),
            });
        }
        positives.sort_by(f64::total_cmp);
        negatives.sort_by(f64::total_cmp);
        Ok(Self {
            positives,
            negatives,
        })
    }

    /// Positive (pathology) scores, ascending.
    pub fn positives(&self) -> &[f64] {
        &self.positives
    }

    /// Negative (normal) scores, ascending.
    pub fn negatives(&self) -> &[f64] {
        &self.negatives
    }

    pub fn len(&self) -> usize {
        self.positives.len() + self.negatives.len()
    }

    /// Never true: a sample holds both classes.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The same studies with the labels swapped.
    pub fn swapped(&self) -> Self {
        Self {
            positives: self.negatives.clone(),
            negatives: self.positives.clone(),
        }
    }
}

/// For each value of `queries`, how many of `sorted` are below it and how many are at most it:
/// `(below, at_most)`. `sorted` must be ascending.
pub(crate) fn below_and_at_most(sorted: &[f64], value: f64) -> (usize, usize) {
    let below = sorted.partition_point(|&x| x < value);
    let at_most = below + sorted[below..].partition_point(|&x| x <= value);
    (below, at_most)
}
