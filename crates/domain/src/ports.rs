//! The ports: what the use cases need from the outside world. Adapters implement them; the
//! server wires one adapter per port and hands them around as `Arc<dyn _>`. Every port has a
//! contract test suite (in `triage-testkit`) that each adapter must pass.

mod blobs;
mod evaluations;
mod events;
mod inference;
mod jobs;
mod studies;
mod users;

pub use blobs::{BlobBody, BlobMeta, BlobReader, BlobStore, ByteStream};
pub use evaluations::EvaluationStore;
pub use events::{EventStream, JobEvents};
pub use inference::{
    Completion, CompletionStatus, HealthReport, Inference, InferenceRequest, Submission,
};
pub use jobs::JobStore;
pub use studies::{AuditStore, StudyStore};
pub use users::UserStore;
