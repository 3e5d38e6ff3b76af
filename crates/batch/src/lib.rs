//! The batch commands of the `triage` binary: `triage analyse` (a tree of studies through the
//! embedded engine into one report, offline) and `triage submit` (the same through a running
//! triage server).
//!
//! Inputs are ZIP archives, folders of DICOM files at any depth with any names (PACS exports
//! without extensions), and single DICOM files; ZIP and DICOM are told apart by content
//! (`triage-archive`). Files are grouped by StudyInstanceUID across every input
//! ([`discover`](discover::discover)). Output is the report of report.md written by
//! `triage-report` as XLSX, or as CSV or the results JSON ([`output`]); whatever cannot be
//! analysed becomes a `Failure` row with a reason, never a crash.
//!
//! It is a client library: it may depend on the engine, archive and report crates, the domain
//! (report rows), tokio, reqwest, tokio-tungstenite, zip, csv, walkdir and indicatif. It knows no
//! server internals: `submit` speaks only the public HTTP and WebSocket API of spec/api.md.

mod analyse;
pub mod discover;
mod error;
pub mod output;
pub mod progress;
pub mod rows;
pub mod submit;
mod summary;

pub use analyse::{AnalyseOptions, Analyser, CHECKPOINT_EVERY, Outcome, Stopper};
pub use error::BatchError;
pub use output::Format;
pub use progress::Progress;
pub use summary::Summary;
