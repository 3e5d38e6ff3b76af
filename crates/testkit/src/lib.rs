//! Test support for triage, used only as a dev-dependency and by this crate's own tests:
//! the whole application started in-process on a temp directory and a free port, the fixtures
//! of `../shared/fixtures`, and the contract suites that every adapter of a port must pass.
//!
//! It may depend on every crate of the workspace; nothing but tests depends on it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod clock;
pub mod contract;
pub mod ml_app;
pub mod ml_server;
pub mod pg;
pub mod s3;
pub mod zips;

pub use app::{Actor, TestApp, fixture, fixtures_dir, ok_json};
pub use clock::TestClock;
pub use ml_app::MlTestApp;
