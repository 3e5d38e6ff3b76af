//! The dispatch loop: calls the app's dispatch step whenever there may be work, runs each
//! claimed batch in its own task (a synchronous `/infer` can take minutes), and on shutdown
//! lets batches in flight finish briefly before giving its leases back.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use triage_app::App;
use triage_domain::{JobEvent, JobStatus};

/// How long shutdown waits for handovers in flight before abandoning them.
const DRAIN: Duration = Duration::from_secs(10);

/// A running dispatch loop.
pub struct Dispatcher {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Dispatcher {
    /// Starts the loop as `worker` (its name on queue leases). Leases a previous run of the
    /// same worker left behind (a crash) are taken back first.
    pub fn spawn(app: App, worker: String, poll: Duration) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(app, worker, poll, stopped));
        Self { stop, task }
    }

    /// Stops claiming, waits up to a few seconds for handovers in flight, and releases every
    /// lease this worker holds so another replica takes the jobs at once.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(app: App, worker: String, poll: Duration, mut stopped: watch::Receiver<bool>) {
    match app.release_dispatch_leases(&worker).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(worker, leases = n, "took back leases of an earlier run"),
        Err(err) => tracing::warn!(worker, error = %err, "could not release earlier leases"),
    }
    // Any queued job announced anywhere (another replica's upload too) wakes the loop.
    let mut events = app.job_changes();
    let mut batches = JoinSet::new();
    tracing::info!(worker, "dispatcher started");
    'dispatch: loop {
        match app.claim_dispatch_batch(&worker).await {
            Ok(batch) if !batch.is_empty() => {
                let app = app.clone();
                batches.spawn(async move {
                    let report = app.run_dispatch_batch(batch).await;
                    tracing::debug!(?report, "dispatch batch done");
                });
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(worker, error = %err, "dispatch step failed"),
        }
        // Wait for a reason to look again: a tick, a finished batch (a slot is free), or a
        // job queued anywhere.
        let tick = tokio::time::sleep(poll);
        tokio::pin!(tick);
        loop {
            tokio::select! {
                _ = stopped.changed() => break 'dispatch,
                () = &mut tick => break,
                Some(_) = batches.join_next(), if !batches.is_empty() => break,
                Some(event) = events.next() => {
                    let wake = match event {
                        JobEvent::Changed(change) => change.status == JobStatus::Queued,
                        JobEvent::Resync => true,
                    };
                    if wake {
                        break;
                    }
                }
            }
        }
    }
    let drained = tokio::time::timeout(DRAIN, async {
        while batches.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(worker, "abandoning handovers still in flight");
        batches.abort_all();
    }
    match app.release_dispatch_leases(&worker).await {
        Ok(n) => tracing::info!(worker, leases = n, "dispatcher stopped"),
        Err(err) => tracing::warn!(worker, error = %err, "leases not released; they expire"),
    }
}

/// This process's default worker name: `{hostname}:{suffix}`, stable across restarts.
pub fn default_worker_id(suffix: &str) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "triage".into());
    format!("{host}:{suffix}")
}
