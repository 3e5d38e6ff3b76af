//! Live job updates over a real WebSocket client (tokio-tungstenite) against the server
//! in-process: SQLite with the in-process fan-out, and PostgreSQL replicas sharing changes
//! through LISTEN/NOTIFY (skipped with a `skipping:` line without PostgreSQL, except under
//! `CI=true`). One binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client;
mod jobs;
mod lifecycle;
mod limits;
mod postgres;
