//! Job change notifications, as they travel between replicas and to WebSocket watchers.

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, UserId};
use crate::job::JobStatus;

/// What happened to a job row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// A small notice that a job changed; watchers fetch the job itself. Small enough for a
/// PostgreSQL NOTIFY payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobChange {
    pub job_id: JobId,
    pub owner_id: UserId,
    pub kind: ChangeKind,
    pub status: JobStatus,
    pub version: i64,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    Changed(JobChange),
    /// Notices may have been lost (a lagging subscriber, a reconnected listener): re-read
    /// whatever you show.
    Resync,
}
