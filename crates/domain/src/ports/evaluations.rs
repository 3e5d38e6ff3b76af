use async_trait::async_trait;

use crate::error::DomainResult;
use crate::evaluation::StoredEvaluation;
use crate::ids::{EvaluationId, UserId};

/// Evaluations against ground truth, per owner. Deleting a user deletes theirs.
#[async_trait]
pub trait EvaluationStore: Send + Sync + 'static {
    /// Inserts an evaluation.
    ///
    /// # Errors
    /// - `NotFound("user")` if the owner does not exist.
    /// - `Conflict(AlreadyExists)` if the id is taken.
    /// - `Unavailable`.
    async fn create_evaluation(
        &self,
        evaluation: StoredEvaluation,
    ) -> DomainResult<StoredEvaluation>;

    /// # Errors
    /// `Unavailable`. A missing evaluation is `Ok(None)`; ownership is the caller's check.
    async fn get_evaluation(&self, id: EvaluationId) -> DomainResult<Option<StoredEvaluation>>;

    /// The owner's evaluations, newest first.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list_evaluations(
        &self,
        owner: UserId,
        skip: u64,
        limit: u64,
    ) -> DomainResult<Vec<StoredEvaluation>>;

    /// # Errors
    /// `NotFound("evaluation")`, `Unavailable`.
    async fn delete_evaluation(&self, id: EvaluationId) -> DomainResult<()>;
}
