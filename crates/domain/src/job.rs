//! Jobs: one uploaded study and its way through the analysis, with the state machine that
//! decides every status change.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{BlobKey, JobId, UserId};
use crate::inventory::ArchiveInventory;
use crate::report::ReportPayload;

/// The only statuses ever stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for a free slot to be handed to the analysis.
    Queued,
    /// Taken by a dispatcher: being handed over (retried with backoff while the analysis is
    /// unreachable, `status_reason` saying so), or accepted and not reported back yet.
    Processing,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        Self::Queued,
        Self::Processing,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Succeeded, failed and cancelled jobs change only through an explicit retry.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| DomainError::invalid("status", format!("unknown status '{s}'")))
    }
}

/// The one place that decides which status changes are legal:
///
/// ```text
/// queued ──► processing ──► succeeded | failed
///   │  ▲         │
///   │  └─────────┘ (the handover failed transiently: waits for the next attempt)
///   │  └──► failed (dispatch refused for good, or its deadline passed)
///   └──► cancelled ◄── processing
/// failed | cancelled ──► queued (retry)
/// ```
///
/// # Errors
/// [`DomainError::InvalidTransition`] for every other pair, including staying in place.
pub fn check_transition(from: JobStatus, to: JobStatus) -> Result<(), DomainError> {
    use JobStatus::*;
    let legal = matches!(
        (from, to),
        (Queued, Processing | Failed | Cancelled)
            | (Processing, Queued | Succeeded | Failed | Cancelled)
            | (Failed | Cancelled, Queued)
    );
    if legal {
        Ok(())
    } else {
        Err(DomainError::InvalidTransition { from, to })
    }
}

/// What kind of upload a job holds, decided by content (never by file name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    /// A ZIP archive (validated and inventoried).
    Zip,
    /// A single DICOM file.
    Dicom,
    /// Anything else; only accepted with `uploads.accept = "any"`.
    Other,
}

impl FileType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zip => "zip",
            Self::Dicom => "dicom",
            Self::Other => "other",
        }
    }

    /// The extension used for the upload's object key.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Zip => ".zip",
            Self::Dicom => ".dcm",
            Self::Other => ".bin",
        }
    }
}

impl FromStr for FileType {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zip" => Ok(Self::Zip),
            "dicom" => Ok(Self::Dicom),
            "other" => Ok(Self::Other),
            _ => Err(DomainError::invalid(
                "file_type",
                format!("unknown file type '{s}'"),
            )),
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub owner_id: UserId,
    pub title: String,
    pub description: Option<String>,
    pub status: JobStatus,
    /// Why the job failed or was cancelled, or why it is still waiting.
    pub status_reason: Option<String>,
    pub file_name: String,
    pub file_size: u64,
    pub file_type: FileType,
    pub content_type: String,
    /// Hex SHA-256 of the upload.
    pub sha256: String,
    /// Where the upload is stored; never replaced by the report.
    pub upload_key: BlobKey,
    /// Where the analysis wrote its report, once it did.
    pub report_key: Option<BlobKey>,
    pub results: Option<ReportPayload>,
    pub results_parsed_at: Option<DateTime<Utc>>,
    pub profile: String,
    pub threshold: f64,
    /// Dispatches the analysis accepted without delivering a result (see `ml.max_attempts`).
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Bumped by every write; stores refuse a write based on an older version.
    pub version: i64,
}

impl Job {
    /// Moves the job to `to` if the state machine allows it, recording why and when.
    /// Terminal statuses set `completed_at`; leaving one (retry) clears it.
    ///
    /// # Errors
    /// [`DomainError::InvalidTransition`] from [`check_transition`].
    pub fn transition(
        &mut self,
        to: JobStatus,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        check_transition(self.status, to)?;
        self.status = to;
        self.status_reason = reason;
        self.updated_at = now;
        self.completed_at = to.is_terminal().then_some(now);
        Ok(())
    }
}

/// A job to insert, with its queue entry, in one transaction.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub owner_id: UserId,
    pub title: String,
    pub description: Option<String>,
    pub file_name: String,
    pub file_size: u64,
    pub file_type: FileType,
    pub content_type: String,
    pub sha256: String,
    pub upload_key: BlobKey,
    pub profile: String,
    pub threshold: f64,
    pub inventory: Option<ArchiveInventory>,
    pub created_at: DateTime<Utc>,
}

/// Which jobs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    /// `None` lists everyone's jobs (administrators only).
    pub owner: Option<UserId>,
    pub status: Option<JobStatus>,
    pub skip: u64,
    pub limit: u64,
}

/// A job's place in the dispatch queue. A job keeps its entry until it is terminal: while it is
/// `processing`, `available_at` is the moment the processing timeout fires.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEntry {
    pub job_id: JobId,
    /// When the job was (last) queued: the dispatch deadline counts from here.
    pub enqueued_at: DateTime<Utc>,
    /// Not claimable before this instant (backoff, processing timeout).
    pub available_at: DateTime<Utc>,
    /// The worker holding the lease, if any.
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use JobStatus::*;

    #[test]
    fn the_state_machine_allows_exactly_the_documented_edges() {
        let legal = [
            (Queued, Processing),
            (Queued, Failed),
            (Queued, Cancelled),
            (Processing, Queued),
            (Processing, Succeeded),
            (Processing, Failed),
            (Processing, Cancelled),
            (Failed, Queued),
            (Cancelled, Queued),
        ];
        for from in JobStatus::ALL {
            for to in JobStatus::ALL {
                let allowed = check_transition(from, to).is_ok();
                assert_eq!(allowed, legal.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn statuses_round_trip_through_text() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("pending".parse::<JobStatus>().is_err());
    }
}
