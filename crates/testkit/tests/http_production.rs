//! The HTTP acceptance suite again, on the production stack: PostgreSQL (a database per test)
//! and an S3 server (a bucket per test). Skipped with a `skipping:` line when either is not
//! reachable — except under `CI=true`, where that fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "http/analysis.rs"]
mod analysis;
#[path = "http/auth.rs"]
mod auth;
#[path = "http/authz.rs"]
mod authz;
#[path = "http/bad_uploads.rs"]
mod bad_uploads;
#[path = "http/evaluations.rs"]
mod evaluations;
#[path = "http/files.rs"]
mod files;
#[path = "http/jobs_flow.rs"]
mod jobs_flow;
#[path = "http/key_images.rs"]
mod key_images;
#[path = "http/operate.rs"]
mod operate;
#[path = "http/system.rs"]
mod system;

use triage_server::Config;
use triage_testkit::TestApp;

async fn spawn() -> Option<TestApp> {
    TestApp::spawn_production().await
}

async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    TestApp::spawn_production_with(tweak).await
}
