//! The per-process fan-out behind every watcher: one task reads the `JobEvents` stream, re-reads
//! a changed job **once** when somebody watches it (however many sockets do), and hands the
//! result to the watchers of that job, of its owner, and of everyone (administrators).
//!
//! Each topic is a bounded tokio broadcast channel, so a slow watcher never holds up the hub or
//! other watchers and never grows memory: it lags, and lagging means "resync". A topic exists
//! only while someone subscribes to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};
use triage_domain::ports::{EventStream, JobEvents, JobStore};
use triage_domain::{ChangeKind, JobChange, JobEvent, JobId, UserId};

use super::JobNews;

/// Notices buffered per topic before its slowest watcher is told to resync.
const JOB_TOPIC_CAPACITY: usize = 16;
const OWNER_TOPIC_CAPACITY: usize = 256;
/// How many (job, version) pairs the hub remembers to skip notices it has already answered.
const RECENT_CAP: usize = 16_384;

/// What the hub tells watchers.
#[derive(Debug, Clone)]
pub(crate) enum Notice {
    /// The job as read after a change.
    Job(Arc<JobNews>),
    Deleted {
        job_id: JobId,
        owner_id: UserId,
    },
    /// Changes may have been missed: re-read. For a job's watchers the hub re-read the job
    /// already, once for all of them (`None`: it could not; each watcher reads for itself).
    Resync(Option<Fresh>),
}

/// A job as re-read after a resync.
#[derive(Debug, Clone)]
pub(crate) enum Fresh {
    Job(Arc<JobNews>),
    Missing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Topic {
    Job(JobId),
    Owner(UserId),
    Everyone,
}

/// Owned by the application; dropping it stops the hub task.
pub(crate) struct Hub {
    shared: Arc<Shared>,
    _stop: DropGuard,
}

struct Shared {
    jobs: Arc<dyn JobStore>,
    events: Arc<dyn JobEvents>,
    /// The runtime the application was built on (the hub task lives there, not on whichever
    /// HTTP worker happened to serve the first watcher).
    runtime: Option<Handle>,
    stop: CancellationToken,
    /// Cancelled when the server shuts down: every watcher ends.
    closing: CancellationToken,
    state: Mutex<State>,
    /// Live subscriptions (open watcher sockets).
    subscriptions: AtomicUsize,
}

#[derive(Default)]
struct State {
    started: bool,
    topics: HashMap<Topic, broadcast::Sender<Notice>>,
}

/// A watcher's end of a topic. Dropping it unsubscribes (and removes the topic when it was the
/// last subscriber).
pub(crate) struct Subscription {
    // Declared first: dropped before the registration looks at the receiver count.
    rx: broadcast::Receiver<Notice>,
    _registration: Registration,
}

struct Registration {
    shared: Arc<Shared>,
    topic: Topic,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.subscriptions.fetch_sub(1, Ordering::Relaxed);
        let mut state = self.shared.lock();
        if state
            .topics
            .get(&self.topic)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            state.topics.remove(&self.topic);
        }
    }
}

/// What a subscription yields.
pub(crate) enum Received {
    Notice(Notice),
    /// The watcher fell behind and missed notices.
    Lagged,
    /// The hub is gone (the application is shutting down).
    Closed,
}

impl Subscription {
    /// Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Received {
        let received = tokio::select! {
            biased;
            () = self._registration.shared.closing.cancelled() => return Received::Closed,
            received = self.rx.recv() => received,
        };
        match received {
            Ok(notice) => Received::Notice(notice),
            Err(broadcast::error::RecvError::Lagged(_)) => Received::Lagged,
            Err(broadcast::error::RecvError::Closed) => Received::Closed,
        }
    }
}

impl Hub {
    pub(crate) fn new(jobs: Arc<dyn JobStore>, events: Arc<dyn JobEvents>) -> Self {
        let stop = CancellationToken::new();
        Self {
            shared: Arc::new(Shared {
                jobs,
                events,
                runtime: Handle::try_current().ok(),
                stop: stop.clone(),
                closing: CancellationToken::new(),
                state: Mutex::new(State::default()),
                subscriptions: AtomicUsize::new(0),
            }),
            _stop: stop.drop_guard(),
        }
    }

    pub(crate) fn job(&self, id: JobId) -> Subscription {
        self.subscribe(Topic::Job(id), JOB_TOPIC_CAPACITY)
    }

    pub(crate) fn owner(&self, id: UserId) -> Subscription {
        self.subscribe(Topic::Owner(id), OWNER_TOPIC_CAPACITY)
    }

    pub(crate) fn everyone(&self) -> Subscription {
        self.subscribe(Topic::Everyone, OWNER_TOPIC_CAPACITY)
    }

    /// Ends every watch, present and future (the server is shutting down).
    pub(crate) fn close(&self) {
        self.shared.closing.cancel();
    }

    /// Live subscriptions: open watcher sockets (for metrics).
    pub(crate) fn subscriptions(&self) -> usize {
        self.shared.subscriptions.load(Ordering::Relaxed)
    }

    /// Subscribes first, then makes sure the hub task runs: the hub's own event subscription
    /// is taken before this returns, so every change committed after it is seen.
    fn subscribe(&self, topic: Topic, capacity: usize) -> Subscription {
        let mut state = self.shared.lock();
        let rx = state
            .topics
            .entry(topic)
            .or_insert_with(|| broadcast::channel(capacity).0)
            .subscribe();
        if !state.started {
            state.started = self.shared.start();
        }
        drop(state);
        self.shared.subscriptions.fetch_add(1, Ordering::Relaxed);
        Subscription {
            rx,
            _registration: Registration {
                shared: Arc::clone(&self.shared),
                topic,
            },
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Spawns the hub task; `false` when there is no runtime to run it on.
    fn start(self: &Arc<Self>) -> bool {
        let Some(runtime) = self.runtime.clone().or_else(|| Handle::try_current().ok()) else {
            tracing::error!("job watchers need a tokio runtime");
            return false;
        };
        let events = self.events.subscribe();
        let shared = Arc::clone(self);
        runtime.spawn(async move {
            let stop = shared.stop.clone();
            tokio::select! {
                () = stop.cancelled() => {}
                () = shared.run(events) => {
                    tracing::warn!("the job event stream ended; watchers get no more changes");
                    shared.lock().started = false;
                }
            }
        });
        true
    }

    /// Senders of the topics `change` concerns.
    fn targets(&self, change: &JobChange) -> Vec<broadcast::Sender<Notice>> {
        let state = self.lock();
        [
            Topic::Job(change.job_id),
            Topic::Owner(change.owner_id),
            Topic::Everyone,
        ]
        .iter()
        .filter_map(|topic| state.topics.get(topic).cloned())
        .collect()
    }

    fn everybody(&self) -> Vec<(Topic, broadcast::Sender<Notice>)> {
        self.lock()
            .topics
            .iter()
            .map(|(topic, sender)| (*topic, sender.clone()))
            .collect()
    }

    /// Tells every watcher to resync. Each watched job is re-read here once, so that a
    /// reconnected listener does not send every socket to the database at the same moment.
    async fn resync(&self, recent: &mut HashMap<JobId, i64>) {
        recent.clear();
        for (topic, sender) in self.everybody() {
            let fresh = match topic {
                Topic::Job(id) => match self.jobs.get(id).await {
                    Ok(Some(job)) => Some(Fresh::Job(Arc::new(JobNews::new(job)))),
                    Ok(None) => Some(Fresh::Missing),
                    Err(err) => {
                        tracing::warn!(job.id = %id, error = %err, "cannot re-read a watched job; its watchers read it themselves");
                        None
                    }
                },
                Topic::Owner(_) | Topic::Everyone => None,
            };
            let _ = sender.send(Notice::Resync(fresh));
        }
    }

    async fn run(&self, mut events: EventStream) {
        // Last version handed out per job: a notice for a version already read (a burst of
        // changes read at its newest) costs nothing.
        let mut recent: HashMap<JobId, i64> = HashMap::new();
        while let Some(event) = events.next().await {
            match event {
                JobEvent::Resync => self.resync(&mut recent).await,
                JobEvent::Changed(change) => {
                    if let Some(notice) = self.resolve(&change, &mut recent).await {
                        for sender in self.targets(&change) {
                            let _ = sender.send(notice.clone());
                        }
                    }
                }
            }
        }
    }

    /// What the watchers of `change` should receive, reading the job at most once.
    async fn resolve(
        &self,
        change: &JobChange,
        recent: &mut HashMap<JobId, i64>,
    ) -> Option<Notice> {
        if change.kind == ChangeKind::Deleted {
            recent.remove(&change.job_id);
            return (!self.targets(change).is_empty()).then_some(Notice::Deleted {
                job_id: change.job_id,
                owner_id: change.owner_id,
            });
        }
        if recent
            .get(&change.job_id)
            .is_some_and(|seen| *seen >= change.version)
        {
            return None;
        }
        if self.targets(change).is_empty() {
            return None;
        }
        match self.jobs.get(change.job_id).await {
            Ok(Some(job)) => {
                if recent.len() >= RECENT_CAP {
                    recent.clear();
                }
                recent.insert(job.id, job.version);
                Some(Notice::Job(Arc::new(JobNews::new(job))))
            }
            // Deleted meanwhile: its own notice follows.
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(job.id = %change.job_id, error = %err, "cannot read a changed job; its watchers resync");
                Some(Notice::Resync(None))
            }
        }
    }
}
