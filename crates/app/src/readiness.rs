//! Readiness: one cheap round trip to each dependency, bounded in time.

use std::future::Future;
use std::time::{Duration, Instant};

use triage_domain::{DomainError, DomainResult};

use crate::App;

/// How long one probe may take before its dependency counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub ok: bool,
    pub latency: Duration,
}

/// Every dependency's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    pub database: Probe,
    pub blobs: Probe,
    pub ml: Probe,
}

impl Readiness {
    /// The database and the object store answer: requests can be served. The analysis being
    /// down only degrades (jobs wait in the queue).
    pub fn serving(&self) -> bool {
        self.database.ok && self.blobs.ok
    }
}

impl App {
    /// Probes the database, the object store and the analysis at once, each for at most
    /// [`PROBE_TIMEOUT`]; a failure is logged with the dependency's name.
    pub async fn readiness(&self) -> Readiness {
        let ports = &self.inner.ports;
        let ml_health = async {
            let report = ports.inference.health().await?;
            if report.healthy {
                Ok(())
            } else {
                Err(DomainError::Unavailable {
                    service: "ml",
                    detail: "the service reports itself unhealthy".into(),
                    retry_after_secs: None,
                })
            }
        };
        let (database, blobs, ml) = futures_util::join!(
            probe("database", ports.jobs.ping()),
            probe("blobs", ports.blobs.ping()),
            probe("ml", ml_health)
        );
        Readiness {
            database,
            blobs,
            ml,
        }
    }
}

async fn probe(name: &'static str, ping: impl Future<Output = DomainResult<()>>) -> Probe {
    let started = Instant::now();
    let ok = match tokio::time::timeout(PROBE_TIMEOUT, ping).await {
        Ok(Ok(())) => true,
        Ok(Err(err)) => {
            tracing::warn!(dependency = name, error = %err, "readiness probe failed");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = name, "readiness probe timed out");
            false
        }
    };
    Probe {
        ok,
        latency: started.elapsed(),
    }
}
