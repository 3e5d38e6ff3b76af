//! Integration tests of the report crate: XLSX files are built with rust_xlsxwriter (or the
//! crate's own `write`) and parsed back.

// The helpers in `support` are not #[test] functions, which clippy.toml's allow-unwrap-in-tests
// does not cover.
#![allow(clippy::unwrap_used)]

mod support;

mod fields;
mod robustness;
mod roundtrip;
mod rules;
mod values;
