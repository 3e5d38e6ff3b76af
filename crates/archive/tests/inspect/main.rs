//! Inspecting real fixtures and hand-built archives through the public API.

// Helpers outside `#[test]` functions build test data; a panic there is a failed test.
#![allow(clippy::unwrap_used)]

mod fixtures;
mod headers;
mod names;
mod refusals;
mod single_files;
mod support;
