//! `triage-ml`: triage's reference ML service, the service side of ml-protocol.md (§1 `/infer`
//! and `/health`, §2 completion callbacks, §3). It reads the upload from the shared store (an
//! S3 bucket, or a local directory laid out like triage's local-disk store), analyses it with
//! the embedded engine (`triage-engine`, the same analysis and report as triage's in-process
//! default), writes the report to the job's `output_object` and reports the completion.
//!
//! Two modes:
//! - asynchronous (default): `/infer` queues the job and answers 202; the completion goes to
//!   `callback_url` (or `{BACKEND_URL}/internal/jobs/{job_uuid}/completion`), retried with
//!   backoff (`callback.rs`).
//! - synchronous (`--sync`, `ML_SYNC=true`): `/infer` answers the completion itself (200,
//!   `status` `completed`/`failed`). No callback is sent — unless the caller hung up before the
//!   answer, in which case the completion goes by callback so the result is not lost (triage
//!   takes both idempotently).
//!
//! Either way the work goes through one bounded queue and a pool of `concurrency` workers; a
//! full queue answers 503 with `Retry-After`, and a repeat `/infer` for a job that is queued,
//! running or being reported joins it instead of analysing it twice. Stopping refuses new jobs,
//! drops the queued ones (triage dispatches them again), and waits for running analyses and
//! their callbacks up to a deadline.
//!
//! [`MlService`] runs the whole service in-process (the binary `triage-ml` is a thin `main`
//! over it, with its configuration from flags and the legacy environment names: see
//! [`cli`]).
//!
//! It may depend on `triage-domain` (the `BlobStore` port and `BlobKey`), `triage-engine`,
//! the two store adapters `triage-blob-fs` and `triage-blob-s3`, actix-web (server), reqwest
//! (callbacks, plain HTTP), tokio/tokio-util/futures-util, serde/serde_json, uuid, sha2 and
//! subtle (token check), rand (jitter), tempfile, thiserror, tracing/tracing-subscriber and
//! clap — never on triage's app, API, server or the other ML adapters: it talks to triage only
//! over HTTP.

pub mod cli;
mod config;

mod auth;
mod callback;
mod http;
mod job;
mod queue;
mod service;
mod wire;
mod worker;

pub use config::{Blobs, RetryPolicy, ServiceConfig};
pub use job::Outcome;
pub use service::{MlService, StartError, Stats};

/// `triage-ml <version>`, as `/health` reports it.
pub fn version() -> String {
    format!("triage-ml {}", env!("CARGO_PKG_VERSION"))
}
