//! The audit trail: who looked at or judged which study or job, append-only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{JobId, UserId};

/// One recorded access or review. Entries are never changed or deleted; a deleted user's
/// entries stay (`user_deleted` is then true when read back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub user_id: UserId,
    pub username: String,
    /// Whether the user no longer exists (computed when read).
    pub user_deleted: bool,
    /// What happened, e.g. `study.detail`, `job.report`, `study.review`.
    pub action: String,
    pub study_uid: Option<String>,
    pub job_id: Option<JobId>,
    pub at: DateTime<Utc>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// An entry to append (`user_deleted` is not stored).
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub user_id: UserId,
    pub username: String,
    pub action: String,
    pub study_uid: Option<String>,
    pub job_id: Option<JobId>,
    pub at: DateTime<Utc>,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
}

/// Which entries to list, newest first; every field narrows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub user: Option<UserId>,
    pub study_uid: Option<String>,
    pub job: Option<JobId>,
    pub action: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Entries strictly older than this `(at, id)` (the last of the previous page).
    pub before: Option<(DateTime<Utc>, String)>,
    pub limit: u32,
}
