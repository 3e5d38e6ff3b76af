use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::DomainResult;
use crate::ids::{JobId, UserId};
use crate::inventory::ArchiveInventory;
use crate::job::{Job, JobFilter, JobStatus, NewJob, QueueEntry};

/// Jobs, their inventories and the dispatch queue.
#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// Inserts the job (status `queued`, version 1), its inventory and its queue entry
    /// (available at `created_at`) in one transaction: all or nothing.
    ///
    /// # Errors
    /// - `NotFound("user")` if the owner does not exist.
    /// - `Conflict(AlreadyExists)` if the id is taken.
    /// - `Unavailable`.
    async fn create(&self, job: NewJob) -> DomainResult<Job>;

    /// # Errors
    /// `Unavailable`. A missing job is `Ok(None)`.
    async fn get(&self, id: JobId) -> DomainResult<Option<Job>>;

    /// Jobs matching `filter`, newest first (ties broken by id).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list(&self, filter: &JobFilter) -> DomainResult<Vec<Job>>;

    /// Every job id of one owner (for deleting the owner's objects).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn ids_of_owner(&self, owner: UserId) -> DomainResult<Vec<JobId>>;

    /// The stored inventory of the job's upload.
    ///
    /// # Errors
    /// `Unavailable`. A missing job or a job without inventory is `Ok(None)`.
    async fn inventory(&self, id: JobId) -> DomainResult<Option<ArchiveInventory>>;

    /// Writes every mutable field of `job` if the stored version still equals `job.version`,
    /// and returns the stored job with its version bumped by one. In the same transaction,
    /// a terminal status removes the queue entry, and a `queued` job without an entry (a
    /// retry) gets a fresh one available at `job.updated_at`; an existing entry is untouched.
    ///
    /// # Errors
    /// - `NotFound("job")` if the job is gone.
    /// - `Conflict(StaleVersion)` if someone else wrote first.
    /// - `Unavailable`.
    async fn update(&self, job: &Job) -> DomainResult<Job>;

    /// Deletes the job, its inventory and its queue entry, returning the deleted row.
    ///
    /// # Errors
    /// `Unavailable`. A missing job is `Ok(None)`.
    async fn delete(&self, id: JobId) -> DomainResult<Option<Job>>;

    /// Number of jobs per status (for metrics).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn count_by_status(&self) -> DomainResult<Vec<(JobStatus, u64)>>;

    // --- the dispatch queue ---

    /// Puts the job in the queue (or moves its entry) so that it becomes claimable at
    /// `available_at`; any lease is dropped. `enqueued_at` is reset when `restart_clock`.
    ///
    /// # Errors
    /// `NotFound("job")`, `Unavailable`.
    async fn enqueue(
        &self,
        id: JobId,
        available_at: DateTime<Utc>,
        restart_clock: bool,
    ) -> DomainResult<()>;

    /// Leases up to `limit` entries of jobs in `status` that are available at `now` and not leased (or whose
    /// lease expired, e.g. after a crash), oldest `available_at` first, to `worker` until
    /// `lease_until`. Several workers may claim concurrently; no entry goes to two of them.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn claim(
        &self,
        worker: &str,
        status: JobStatus,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DomainResult<Vec<(Job, QueueEntry)>>;

    /// Removes the entry if `worker` holds its lease. Returns whether it did.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn release(&self, id: JobId, worker: &str) -> DomainResult<bool>;

    /// Drops `worker`'s lease and makes the entry claimable again at `available_at`. Returns
    /// whether `worker` held the lease.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn reschedule(
        &self,
        id: JobId,
        worker: &str,
        available_at: DateTime<Utc>,
    ) -> DomainResult<bool>;

    /// Drops every lease `worker` holds (graceful shutdown), leaving the entries claimable.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn release_all(&self, worker: &str) -> DomainResult<u64>;

    /// The queue entry of a job, if it has one.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn queue_entry(&self, id: JobId) -> DomainResult<Option<QueueEntry>>;

    /// Entries whose job is `queued`, and the oldest `enqueued_at` among them (for metrics).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn queue_depth(&self) -> DomainResult<(u64, Option<DateTime<Utc>>)>;

    /// Readiness probe: one cheap round trip.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn ping(&self) -> DomainResult<()>;
}
