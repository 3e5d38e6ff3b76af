//! Watching jobs live (the WebSocket use cases): who may watch, what a watcher starts from, and
//! which changes it receives after that — with the rules of api.md:
//!
//! - the owner of a job and administrators see it whole;
//! - a watcher without a token (the old frontend sends none) may watch a job by id and sees its
//!   status only (`id`, `status`, `status_reason`, `updated_at`, `completed_at`), when
//!   [`WsSettings::anonymous_status_frames`](crate::WsSettings) is on;
//! - a token for someone else's job is refused ([`WatchStep::Forbidden`]);
//! - an unknown id is not an error: the watcher waits for the job to appear;
//! - every change after the snapshot arrives once, in version order (older versions are
//!   skipped); a watcher that may have missed changes is told to resync.
//!
//! The changes come from the `JobEvents` port through one per-process hub (`watch/hub.rs`), which
//! re-reads a changed job once for all its watchers.

mod hub;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use triage_domain::{Job, JobFilter, JobId, JobStatus};

use crate::error::{AppError, AppResult};
use crate::{App, Caller};

pub(crate) use hub::Hub;
use hub::{Fresh, Notice, Received, Subscription};

/// Jobs sent in the snapshot of a socket watching all of a caller's jobs, per active status.
const ACTIVE_SNAPSHOT_LIMIT: u64 = 500;
/// Versions remembered per all-jobs watcher to skip stale notices.
const SEEN_CAP: usize = 4096;

/// Who is watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watcher {
    /// No token: status-only frames.
    Anonymous,
    User(Caller),
}

/// A job as read after a change, shared by every watcher the change concerns. The full frame
/// is rendered once for all of them.
#[derive(Debug)]
pub struct JobNews {
    job: Job,
    full_frame: OnceLock<String>,
}

impl JobNews {
    fn new(job: Job) -> Self {
        Self {
            job,
            full_frame: OnceLock::new(),
        }
    }

    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The frame for watchers who see the whole job, rendered by the first who asks.
    pub fn full_frame(&self, render: impl FnOnce(&Job) -> String) -> &str {
        self.full_frame.get_or_init(|| render(&self.job))
    }
}

/// What an anonymous watcher may know about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatusView {
    pub id: JobId,
    pub status: JobStatus,
    pub status_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl From<&Job> for JobStatusView {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id,
            status: job.status,
            status_reason: job.status_reason.clone(),
            updated_at: job.updated_at,
            completed_at: job.completed_at,
        }
    }
}

/// One frame for a watcher.
#[derive(Debug, Clone)]
pub enum JobFrame {
    /// The whole job (owner or administrator).
    Full(Arc<JobNews>),
    /// Status only (anonymous watcher).
    Status(JobStatusView),
    /// No such job (yet).
    NotFound(JobId),
    /// The job was deleted.
    Deleted(JobId),
}

impl JobFrame {
    /// Whether a watcher of this one job is done after this frame: the job reached a
    /// terminal status, or was deleted.
    pub fn ends_watch(&self) -> bool {
        match self {
            Self::Full(news) => news.job.status.is_terminal(),
            Self::Status(view) => view.status.is_terminal(),
            Self::NotFound(_) => false,
            Self::Deleted(_) => true,
        }
    }
}

/// What a watcher does next.
#[derive(Debug, Clone)]
pub enum WatchStep {
    Frame(JobFrame),
    /// The job belongs to someone else.
    Forbidden,
    /// Changes may have been missed (a lagging watcher, a reconnected listener): tell the
    /// client, then take a fresh snapshot.
    Resync,
    /// No more changes will come (the application is shutting down).
    Closed,
}

impl App {
    /// A slot for one anonymous watcher socket from `client` (its address, when known), held
    /// for the life of the socket.
    ///
    /// # Errors
    /// `TooManyOpen` (`too_many_connections`) when `client` holds
    /// `ws.max_anonymous_per_client` anonymous sockets, or this process
    /// `ws.max_anonymous_total`.
    pub fn anonymous_socket(&self, client: Option<std::net::IpAddr>) -> AppResult<crate::Slot> {
        let ws = &self.inner.settings.ws;
        self.inner
            .anonymous_sockets
            .acquire(client)
            .map_err(|refusal| AppError::TooManyOpen {
                code: "too_many_connections",
                message: match refusal {
                    crate::client_slots::Refusal::Client => format!(
                        "at most {} sockets without a token per client; log in or close some",
                        ws.max_anonymous_per_client
                    ),
                    crate::client_slots::Refusal::Total => {
                        "too many sockets without a token are open; log in or try later".into()
                    }
                },
            })
    }

    /// Who a socket's token says is watching. No token is an anonymous watcher when the
    /// settings allow one.
    ///
    /// # Errors
    /// `Unauthenticated` for a bad or expired token, or no token when anonymous watchers are
    /// off; `Unavailable`.
    pub async fn watcher(&self, token: Option<&str>) -> AppResult<Watcher> {
        match token {
            Some(token) => Ok(Watcher::User(self.authenticate(token).await?)),
            None if self.inner.settings.ws.anonymous_status_frames => Ok(Watcher::Anonymous),
            None => Err(AppError::Unauthenticated("missing bearer token")),
        }
    }

    /// Starts watching one job (which need not exist yet). Changes are collected from now on;
    /// call [`JobWatch::snapshot`] next.
    pub fn watch_job(&self, watcher: Watcher, id: JobId) -> JobWatch {
        self.inner.metrics.websockets(1);
        JobWatch {
            subscription: self.inner.hub.job(id),
            app: self.clone(),
            watcher,
            id,
            version: 0,
            fresh: None,
        }
    }

    /// Starts watching every job of `caller` (an administrator: everyone's). Call
    /// [`JobsWatch::snapshot`] next.
    pub fn watch_jobs(&self, caller: Caller) -> JobsWatch {
        self.inner.metrics.websockets(1);
        let subscription = if caller.is_admin() {
            self.inner.hub.everyone()
        } else {
            self.inner.hub.owner(caller.id)
        };
        JobsWatch {
            subscription,
            app: self.clone(),
            caller,
            seen: HashMap::new(),
        }
    }

    /// Ends every watch with [`WatchStep::Closed`] (graceful shutdown: open sockets would
    /// otherwise hold the server for its whole shutdown timeout).
    pub fn close_watchers(&self) {
        self.inner.hub.close();
    }

    /// Open watches in this process (the "open WebSockets" metric).
    pub fn open_watches(&self) -> usize {
        self.inner.hub.subscriptions()
    }
}

/// A watch on one job.
pub struct JobWatch {
    subscription: Subscription,
    app: App,
    watcher: Watcher,
    id: JobId,
    /// The newest version sent.
    version: i64,
    /// The job as the hub re-read it for a resync: the next snapshot.
    fresh: Option<Fresh>,
}

/// Every watch is one open socket (the `triage_websockets_open` gauge).
impl Drop for JobWatch {
    fn drop(&mut self) {
        self.app.inner.metrics.websockets(-1);
    }
}

impl Drop for JobsWatch {
    fn drop(&mut self) {
        self.app.inner.metrics.websockets(-1);
    }
}

impl JobWatch {
    pub fn id(&self) -> JobId {
        self.id
    }

    pub fn watcher(&self) -> &Watcher {
        &self.watcher
    }

    /// The job as it is now, always (also when it did not change since the last frame).
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn snapshot(&mut self) -> AppResult<WatchStep> {
        let fresh = match self.fresh.take() {
            Some(fresh) => fresh,
            None => match self.app.inner.ports.jobs.get(self.id).await? {
                Some(job) => Fresh::Job(Arc::new(JobNews::new(job))),
                None => Fresh::Missing,
            },
        };
        Ok(match fresh {
            Fresh::Missing => WatchStep::Frame(JobFrame::NotFound(self.id)),
            Fresh::Job(news) => {
                self.version = self.version.max(news.job.version);
                self.step(news)
            }
        })
    }

    /// Waits for the next change worth a frame.
    pub async fn next(&mut self) -> WatchStep {
        loop {
            match self.subscription.recv().await {
                Received::Notice(Notice::Job(news)) => {
                    if news.job.version <= self.version {
                        continue;
                    }
                    self.version = news.job.version;
                    return self.step(news);
                }
                Received::Notice(Notice::Deleted { job_id, .. }) => {
                    return WatchStep::Frame(JobFrame::Deleted(job_id));
                }
                Received::Notice(Notice::Resync(fresh)) => {
                    self.fresh = fresh;
                    return WatchStep::Resync;
                }
                Received::Lagged => {
                    self.fresh = None;
                    return WatchStep::Resync;
                }
                Received::Closed => return WatchStep::Closed,
            }
        }
    }

    fn step(&self, news: Arc<JobNews>) -> WatchStep {
        match &self.watcher {
            Watcher::Anonymous => {
                WatchStep::Frame(JobFrame::Status(JobStatusView::from(&news.job)))
            }
            Watcher::User(caller) if caller.may_access(news.job.owner_id) => {
                WatchStep::Frame(JobFrame::Full(news))
            }
            Watcher::User(_) => WatchStep::Forbidden,
        }
    }
}

/// A watch on every job of one caller (an administrator: everyone's).
pub struct JobsWatch {
    subscription: Subscription,
    app: App,
    caller: Caller,
    /// The newest version sent per job (bounded; forgetting only risks a repeated frame).
    seen: HashMap<JobId, i64>,
}

impl JobsWatch {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The caller's active (queued and processing) jobs as they are now, newest first per
    /// status, at most 500 per status.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn snapshot(&mut self) -> AppResult<Vec<JobFrame>> {
        let owner = (!self.caller.is_admin()).then_some(self.caller.id);
        let mut frames = Vec::new();
        for status in [JobStatus::Processing, JobStatus::Queued] {
            let filter = JobFilter {
                owner,
                status: Some(status),
                skip: 0,
                limit: ACTIVE_SNAPSHOT_LIMIT,
            };
            for job in self.app.inner.ports.jobs.list(&filter).await? {
                self.remember(job.id, job.version);
                frames.push(JobFrame::Full(Arc::new(JobNews::new(job))));
            }
        }
        Ok(frames)
    }

    /// Waits for the next change worth a frame.
    pub async fn next(&mut self) -> WatchStep {
        loop {
            match self.subscription.recv().await {
                Received::Notice(Notice::Job(news)) => {
                    let job = &news.job;
                    if !self.caller.may_access(job.owner_id)
                        || self
                            .seen
                            .get(&job.id)
                            .is_some_and(|seen| *seen >= job.version)
                    {
                        continue;
                    }
                    self.remember(job.id, job.version);
                    return WatchStep::Frame(JobFrame::Full(news));
                }
                Received::Notice(Notice::Deleted { job_id, owner_id }) => {
                    if !self.caller.may_access(owner_id) {
                        continue;
                    }
                    self.seen.remove(&job_id);
                    return WatchStep::Frame(JobFrame::Deleted(job_id));
                }
                Received::Notice(Notice::Resync(_)) | Received::Lagged => {
                    return WatchStep::Resync;
                }
                Received::Closed => return WatchStep::Closed,
            }
        }
    }

    fn remember(&mut self, id: JobId, version: i64) {
        if self.seen.len() >= SEEN_CAP && !self.seen.contains_key(&id) {
            self.seen.clear();
        }
        self.seen.insert(id, version);
    }
}
