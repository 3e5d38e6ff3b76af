//! The worker pool: `concurrency` tasks take jobs from the queue, analyse them one at a time,
//! publish the outcome and hand the completion to a delivery task (so a slow callback never
//! holds an analysis slot). Every line about a job is logged inside a `job` span carrying
//! `job.id`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::callback::{Deliverer, Delivery};
use crate::job::{Analyser, Outcome};
use crate::queue::{Entry, Registry, bump};
use crate::wire;

/// Everything the workers and the HTTP handlers share.
pub(crate) struct Core {
    pub registry: Registry,
    pub analyser: Analyser,
    pub deliverer: Deliverer,
    pub sync: bool,
    /// Workers and deliveries, awaited at shutdown.
    pub tracker: TaskTracker,
    /// Cancelled when the service stops: deliveries stop waiting between attempts.
    pub stopping: CancellationToken,
}

/// Starts `n` workers on the current runtime.
pub(crate) fn spawn(core: &Arc<Core>, n: usize) {
    for worker in 0..n {
        let core = core.clone();
        core.tracker.clone().spawn(async move {
            while let Some(entry) = core.registry.next().await {
                let span = tracing::info_span!("job", job.id = %entry.job.id, worker);
                handle(&core, entry).instrument(span).await;
            }
            tracing::debug!(worker, "worker stopped");
        });
    }
}

async fn handle(core: &Arc<Core>, entry: Arc<Entry>) {
    let job = &entry.job;
    tracing::info!(
        input = %job.input,
        output = %job.output,
        profile = %job.profile,
        threshold = job.threshold,
        "analysis started"
    );
    bump(&core.registry.counters.analyses);
    let outcome = core.analyser.run(job).await;
    core.registry.done_running();
    log_outcome(core, &outcome);
    let answer = wire::completion(&outcome);
    let waiting = entry.publish(outcome);
    // Synchronous: the answer is the completion. A callback is sent only when nobody is left
    // to receive the answer (the caller hung up), so the result is not lost.
    let target = match (answer, &job.callback_url) {
        (Some(body), Some(url)) if !(core.sync && waiting) => Some((body, url.clone())),
        _ => None,
    };
    let Some((body, url)) = target else {
        core.registry.finish(&entry);
        return;
    };
    let delivery_core = core.clone();
    let delivery = async move {
        let counters = &delivery_core.registry.counters;
        match delivery_core.deliverer.deliver(&url, &body).await {
            Delivery::Delivered => bump(&counters.callbacks_delivered),
            Delivery::Refused(_) => bump(&counters.callbacks_refused),
            Delivery::GaveUp => bump(&counters.callbacks_given_up),
        }
        delivery_core.registry.finish(&entry);
    };
    core.tracker
        .spawn(delivery.instrument(tracing::Span::current()));
}

fn log_outcome(core: &Core, outcome: &Outcome) {
    let counters = &core.registry.counters;
    match outcome {
        Outcome::Succeeded {
            file_size,
            duration,
            ..
        } => {
            bump(&counters.succeeded);
            tracing::info!(
                file_size,
                duration_seconds = duration.as_secs_f64(),
                "analysis succeeded"
            );
        }
        Outcome::Failed { error, duration } => {
            bump(&counters.failed);
            tracing::info!(
                error = %error,
                duration_seconds = duration.as_secs_f64(),
                "analysis failed"
            );
        }
        Outcome::Abandoned { reason } => {
            bump(&counters.abandoned);
            tracing::error!(
                reason = %reason,
                "analysis abandoned; nothing is reported, triage will dispatch the job again"
            );
        }
    }
}
