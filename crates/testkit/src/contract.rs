//! Contract suites: one per port. Each is a set of async functions taking the port as
//! `&dyn Port`, plus a macro that stamps one `#[tokio::test]` per function for a given adapter
//! factory, so every adapter runs exactly the same cases.

pub mod blobs;
pub mod evaluations;
pub mod jobs;
pub mod studies;
pub mod users;
