//! Liveness and readiness bodies.

use serde::Serialize;
use utoipa::ToSchema;

/// GET /health.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Health)]
pub(crate) struct HealthResponse {
    #[schema(example = "healthy")]
    pub status: &'static str,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// GET /ready: `ok` (200), `degraded` (200: the analysis is down, jobs wait in the queue) or
/// `unavailable` (503: the database or the object store is down).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Readiness)]
pub(crate) struct ReadyResponse {
    #[schema(example = "ok")]
    pub status: &'static str,
    pub checks: ReadyChecks,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReadyChecks {
    pub database: Check,
    pub blobs: Check,
    pub ml: Check,
}

/// One dependency's answer to a cheap round trip.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub(crate) struct Check {
    pub ok: bool,
    pub latency_ms: u64,
}

impl From<triage_app::Probe> for Check {
    fn from(probe: triage_app::Probe) -> Self {
        Self {
            ok: probe.ok,
            latency_ms: u64::try_from(probe.latency.as_millis()).unwrap_or(u64::MAX),
        }
    }
}
