//! The bounded job queue and the set of jobs in flight.
//!
//! A job is *active* from its admission until it is finished: waiting in the queue, being
//! analysed, or having its completion delivered. A repeat `/infer` for an active job joins it
//! (same outcome, no second analysis). Once finished, the job is forgotten: a later `/infer`
//! for it (triage re-dispatching after its processing timeout) is analysed again.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use crate::job::Outcome;
use crate::wire::Job;

/// The outcome of a job once known; `None` until then.
pub(crate) type OutcomeRx = watch::Receiver<Option<Outcome>>;

/// One active job.
pub(crate) struct Entry {
    pub job: Job,
    outcome: watch::Sender<Option<Outcome>>,
}

impl Entry {
    /// Records the outcome; `true` when someone (a synchronous `/infer`) was waiting for it.
    pub fn publish(&self, outcome: Outcome) -> bool {
        let waiting = self.outcome.receiver_count() > 0;
        self.outcome.send_replace(Some(outcome));
        waiting
    }
}

/// What became of an `/infer` request.
pub(crate) enum Admission {
    /// Queued; the receiver sees the outcome.
    Queued(OutcomeRx),
    /// The job is already active: joined, not queued again.
    Repeat(OutcomeRx),
    /// The queue is full.
    Full,
    /// The service is stopping.
    Closed,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Arc<Entry>>,
    active: HashMap<String, Arc<Entry>>,
    running: usize,
    closed: bool,
}

/// Counters since start.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub accepted: AtomicU64,
    pub repeats: AtomicU64,
    pub refused_full: AtomicU64,
    pub analyses: AtomicU64,
    pub succeeded: AtomicU64,
    pub failed: AtomicU64,
    pub abandoned: AtomicU64,
    pub callbacks_delivered: AtomicU64,
    pub callbacks_refused: AtomicU64,
    pub callbacks_given_up: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The queue, shared by the HTTP handlers (on actix's threads) and the workers.
pub(crate) struct Registry {
    state: Mutex<State>,
    wake: Notify,
    capacity: usize,
    pub counters: Counters,
}

impl Registry {
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            capacity,
            counters: Counters::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn submit(&self, job: Job) -> Admission {
        let mut state = self.state();
        if state.closed {
            return Admission::Closed;
        }
        if let Some(entry) = state.active.get(&job.id) {
            if entry.job != job {
                tracing::info!(job.id = %job.id, "a repeat /infer with other parameters: the first one's are kept");
            }
            bump(&self.counters.repeats);
            return Admission::Repeat(entry.outcome.subscribe());
        }
        if state.queue.len() >= self.capacity {
            bump(&self.counters.refused_full);
            return Admission::Full;
        }
        let (outcome, rx) = watch::channel(None);
        let entry = Arc::new(Entry { job, outcome });
        state.active.insert(entry.job.id.clone(), entry.clone());
        state.queue.push_back(entry);
        drop(state);
        bump(&self.counters.accepted);
        self.wake.notify_one();
        Admission::Queued(rx)
    }

    /// The next job to analyse (counted as running until [`Registry::done_running`]), or
    /// `None` once closed.
    pub async fn next(&self) -> Option<Arc<Entry>> {
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            // Registered before looking, so neither a push nor `close` can slip in between.
            notified.as_mut().enable();
            {
                let mut state = self.state();
                if state.closed {
                    return None;
                }
                if let Some(entry) = state.queue.pop_front() {
                    state.running += 1;
                    return Some(entry);
                }
            }
            notified.await;
        }
    }

    /// The analysis of a job taken by [`Registry::next`] is over.
    pub fn done_running(&self) {
        let mut state = self.state();
        state.running = state.running.saturating_sub(1);
    }

    /// The job is finished (analysed and reported): forget it.
    pub fn finish(&self, entry: &Arc<Entry>) {
        let mut state = self.state();
        if state
            .active
            .get(&entry.job.id)
            .is_some_and(|active| Arc::ptr_eq(active, entry))
        {
            state.active.remove(&entry.job.id);
        }
    }

    /// Refuses new jobs, wakes the idle workers (which then stop) and drops the queued jobs
    /// (their synchronous callers get a 503; triage dispatches them again). Returns how many
    /// were dropped.
    pub fn close(&self) -> usize {
        let dropped: Vec<Arc<Entry>> = {
            let mut state = self.state();
            state.closed = true;
            let dropped: Vec<_> = state.queue.drain(..).collect();
            for entry in &dropped {
                state.active.remove(&entry.job.id);
            }
            dropped
        };
        for entry in &dropped {
            tracing::warn!(job.id = %entry.job.id, "stopping: the job was queued and is not analysed; triage will dispatch it again");
        }
        self.wake.notify_waiters();
        dropped.len()
    }

    pub fn is_closed(&self) -> bool {
        self.state().closed
    }

    /// `(queued, running, active)`.
    pub fn sizes(&self) -> (usize, usize, usize) {
        let state = self.state();
        (state.queue.len(), state.running, state.active.len())
    }
}
