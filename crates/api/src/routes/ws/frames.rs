//! The JSON text of every frame the server sends on a watcher socket.
//!
//! - `{"type": "job.update", "job": <Job JSON>}` — the job as the REST API renders it, for its
//!   owner or an administrator;
//! - `{"type": "job.update", "job": {"id", "status", "status_reason", "updated_at",
//!   "completed_at"}}` — for a socket without a token;
//! - `{"type": "job.not_found", "job_id"}` — no such job (yet); the socket stays open;
//! - `{"type": "job.deleted", "job_id"}` — the job was deleted;
//! - `{"type": "resync"}` — changes may have been missed; a fresh snapshot follows.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Serialize;
use triage_app::{JobFrame, JobStatusView};
use triage_domain::Job;
use uuid::Uuid;

use crate::dto::jobs::{JobResponse, JobStatusDto};

#[derive(Serialize)]
struct Update<T> {
    r#type: &'static str,
    job: T,
}

#[derive(Serialize)]
struct Missing {
    r#type: &'static str,
    job_id: Uuid,
}

/// The status-only job of an anonymous socket.
#[derive(Serialize)]
struct StatusOnly {
    id: Uuid,
    status: JobStatusDto,
    status_reason: Option<String>,
    updated_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
}

impl From<JobStatusView> for StatusOnly {
    fn from(view: JobStatusView) -> Self {
        Self {
            id: view.id.0,
            status: view.status.into(),
            status_reason: view.status_reason,
            updated_at: view.updated_at,
            completed_at: view.completed_at,
        }
    }
}

pub(crate) const RESYNC: &str = r#"{"type":"resync"}"#;

/// The text of `frame`. Full frames are rendered once per change for every socket.
pub(crate) fn render(frame: &JobFrame) -> Cow<'_, str> {
    match frame {
        JobFrame::Full(news) => Cow::Borrowed(news.full_frame(full)),
        JobFrame::Status(view) => Cow::Owned(to_json(&Update {
            r#type: "job.update",
            job: StatusOnly::from(view.clone()),
        })),
        JobFrame::NotFound(id) => Cow::Owned(to_json(&Missing {
            r#type: "job.not_found",
            job_id: id.0,
        })),
        JobFrame::Deleted(id) => Cow::Owned(to_json(&Missing {
            r#type: "job.deleted",
            job_id: id.0,
        })),
    }
}

fn full(job: &Job) -> String {
    to_json(&Update {
        r#type: "job.update",
        job: JobResponse::from(job.clone()),
    })
}

fn to_json(value: &impl Serialize) -> String {
    // Plain structs of strings, numbers and timestamps: serialising them cannot fail.
    serde_json::to_string(value).unwrap_or_else(|err| {
        tracing::error!(error = %err, "cannot serialise a WebSocket frame");
        String::from(r#"{"type":"error"}"#)
    })
}

/// Whether a client text frame asks for a fresh snapshot: `{"type": "resync"}`.
pub(crate) fn is_resync_request(text: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Request<'a> {
        #[serde(borrow)]
        r#type: Cow<'a, str>,
    }
    serde_json::from_str::<Request<'_>>(text).is_ok_and(|request| request.r#type == "resync")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resync_requests_are_recognised() {
        assert!(is_resync_request(r#"{"type":"resync"}"#));
        assert!(is_resync_request(r#" {"type": "resync", "extra": 1} "#));
        for other in [r#"{"type":"ping"}"#, "resync", "", "{}", r#"{"type":1}"#] {
            assert!(!is_resync_request(other), "{other}");
        }
    }
}
