//! triage's side of ml-protocol.md §1–2 against a scripted ML service over real HTTP: the
//! dispatcher step by step (time moved by the test clock, never slept), and the completion
//! callback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod callback;
mod dispatch;
mod reports;
mod resilience;
mod retries;

use std::time::Duration;

use triage_domain::JobId;
use triage_testkit::MlTestApp;

/// The queue entry's `available_at`, seconds from now (negative: already due).
async fn due_in(t: &MlTestApp, id: &str) -> Option<i64> {
    let id: JobId = id.parse().unwrap();
    let entry = t.app.app().ports().jobs.queue_entry(id).await.unwrap()?;
    let now = t.app.app().ports().clock.now();
    Some((entry.available_at - now).num_seconds())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
