//! The vocabulary of triage: entities (users, jobs, archive inventories, report rows, studies,
//! reviews, audit entries), the job
//! state machine, the domain error, and the ports every adapter implements.
//!
//! This crate does no I/O and knows no framework. It may depend on `async-trait`, `chrono`,
//! `uuid`, `serde`/`serde_json`, `thiserror`, `bytes`, `unicode-normalization` and the
//! runtime-neutral `futures-core` / `futures-io` traits — never on tokio, diesel, actix,
//! reqwest, rust-s3 or sqlite (CI checks this with `cargo tree`). Ports are `#[async_trait]` traits meant to be held as `Arc<dyn _>`.

pub mod audit;
pub mod clock;
pub mod error;
pub mod evaluation;
pub mod events;
pub mod ids;
pub mod inventory;
pub mod job;
pub mod ports;
pub mod report;
pub mod study;
pub mod user;

pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use clock::{Clock, SystemClock};
pub use error::{ConflictKind, DomainError, DomainResult};
pub use evaluation::StoredEvaluation;
pub use events::{ChangeKind, JobChange, JobEvent};
pub use ids::{BlobKey, EvaluationId, JobId, UserId};
pub use inventory::{
    ArchiveInventory, DicomSummary, SeriesSummary, StudySummary, ZipEntry, ZipSummary,
};
pub use job::{FileType, Job, JobFilter, JobStatus, NewJob, QueueEntry, check_transition};
pub use report::{ReportPayload, ReportRow, ReportSummary};
pub use study::{
    AnalysisStatus, NewReview, Review, ReviewLabel, Study, StudyAnalysis, StudyCursor, StudyDetail,
    StudyFilter, StudyPage, StudyResult, StudySource, priority_key, priority_rank, result_of_job,
};
pub use user::{NewUser, Role, User, UserChanges, username_key};
