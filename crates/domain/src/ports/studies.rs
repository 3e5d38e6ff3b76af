use async_trait::async_trait;

use crate::audit::{AuditEntry, AuditFilter, NewAuditEntry};
use crate::error::DomainResult;
use crate::ids::{JobId, UserId};
use crate::study::{NewReview, Study, StudyCursor, StudyDetail, StudyFilter, StudyPage};

/// Studies, their analysis versions and reviews.
///
/// Studies are written by `JobStore`: `JobStore::create` records the studies of the job's
/// inventory (source `upload`) with a pending analysis, and `JobStore::update` fans a terminal
/// job's report rows out to its studies in the same transaction as the job's terminal state
/// (a retry turns them back to pending). This port reads them and records reviews.
#[async_trait]
pub trait StudyStore: Send + Sync + 'static {
    /// One page of the worklist in priority order (`Study::sort_key`, then the study's id),
    /// starting after `after`; at most `limit` items.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list_studies(
        &self,
        filter: &StudyFilter,
        after: Option<&StudyCursor>,
        limit: u32,
    ) -> DomainResult<StudyPage>;

    /// The study `study_uid` of `owner` (or of anyone, the most recently received, for
    /// `None`) with its analyses and reviews.
    ///
    /// # Errors
    /// `Unavailable`. A missing study is `Ok(None)`.
    async fn study_detail(
        &self,
        owner: Option<UserId>,
        study_uid: &str,
    ) -> DomainResult<Option<StudyDetail>>;

    /// Records `review` as the current review of `owner`'s study (earlier ones are kept) and
    /// moves the study in the worklist; returns the study.
    ///
    /// # Errors
    /// `NotFound("study")`, `Unavailable`.
    async fn review_study(
        &self,
        owner: UserId,
        study_uid: &str,
        review: NewReview,
    ) -> DomainResult<Study>;

    /// The newest succeeded job of `owner` whose upload had `sha256`, with `profile` and
    /// `threshold` (deduplication).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn reusable_job(
        &self,
        owner: UserId,
        sha256: &str,
        profile: &str,
        threshold: f64,
    ) -> DomainResult<Option<JobId>>;

    /// Owners and UIDs of the studies `job` carries (for live updates).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn studies_of_job(&self, job: JobId) -> DomainResult<Vec<(UserId, String)>>;
}

/// The append-only audit trail. No method changes or deletes an entry.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// # Errors
    /// `Unavailable`.
    async fn append(&self, entry: NewAuditEntry) -> DomainResult<AuditEntry>;

    /// Entries matching `filter`, newest first (`at`, then id, descending).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list_audit(&self, filter: &AuditFilter) -> DomainResult<Vec<AuditEntry>>;
}
