#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The deployment files under `deploy/` agree with the code they deploy. No container engine is
//! needed: the files are parsed and cross-checked.
//!
//! - Every YAML file under `deploy/` parses.
//! - Every environment variable set for a `triage` process (Dockerfile `ENV`, compose
//!   `environment`, k8s ConfigMaps/Secrets/`env`) is a real setting: `TRIAGE__SECTION__KEY` names a
//!   key of `config/default.toml`, or it is a `LEGACY_ENV` name, or `TRIAGE_ENV` and friends. The
//!   ones set for `triage-ml` are names its command line reads (`crates/ml-service/src/cli.rs`),
//!   and third-party images only get their own prefixes (`POSTGRES_*`, `MINIO_*`, …).
//! - Each `triage` container's environment loads with [`Config::from_figment`] as the binary would
//!   load it (the production profile included), so types and the production rules hold too.
//! - Ports agree: `server.bind` / `ML_BIND` = `expose` / `containerPort` = Service `targetPort` =
//!   health checks and probes (`/ready`, `/health`) = the proxy's upstreams; URLs between services
//!   (`TRIAGE__ML__URL`, the callback URL, `BACKEND_URL`, the database and S3 endpoints) name a
//!   service and one of its ports; the ML token and the S3 settings are shared by both sides.
//! - The Dockerfile builds both binaries, runs as non-root, exposes those ports, and the
//!   `.dockerignore` keeps what the build needs.

mod compose;
mod compose_services;
mod dockerfile;
mod env;
mod k8s;
mod k8s_workloads;
mod nginx;
mod ports;
mod proxy;
mod yaml;

use std::fs;
use std::path::{Path, PathBuf};

// ------------------------------------------------------------------------------------------------
// Where things are, and problems reported together

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn deploy_dir() -> PathBuf {
    root().join("deploy")
}

pub(crate) fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Problems found by one test, reported together.
#[derive(Default)]
pub(crate) struct Problems(pub(crate) Vec<String>);

impl Problems {
    pub(crate) fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    pub(crate) fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    pub(crate) fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} problem(s)\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}
