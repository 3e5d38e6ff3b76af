#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of triage-engine on the shared DICOM phantoms and archives built here.

mod codecs;
mod fixtures;
mod members;
mod mixed;
mod report;
mod support;
mod truth;
