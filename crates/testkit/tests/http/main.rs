//! The HTTP acceptance suite: the real server in-process on a free port, driven over real
//! HTTP with reqwest. One binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analysis;
mod auth;
mod authz;
mod bad_uploads;
mod evaluations;
mod files;
mod jobs_flow;
mod key_images;
mod operate;
mod slow_clients;
mod studies;
mod system;

use triage_server::Config;
use triage_testkit::TestApp;

/// The embedded defaults: SQLite and the local disk.
async fn spawn() -> Option<TestApp> {
    Some(TestApp::spawn().await)
}

async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    Some(TestApp::spawn_with(tweak).await)
}
