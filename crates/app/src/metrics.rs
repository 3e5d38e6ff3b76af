//! Process metrics in the Prometheus text format, without a metrics framework: a few atomic
//! counters and fixed-bucket histograms that the use cases and the HTTP layer update, and
//! gauges read from the store at scrape time (so every replica reports the same job counts).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use triage_domain::JobStatus;

use crate::App;
use crate::error::AppResult;

/// Upper bounds (seconds) of the latency buckets: HTTP requests and ML round trips.
const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 30.0, 120.0,
];

/// A fixed-bucket histogram.
#[derive(Debug)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: [0; LATENCY_BUCKETS.len()],
            count: 0,
            sum: 0.0,
        }
    }
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in LATENCY_BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in LATENCY_BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Every counter triage keeps in memory. Cheap to update from any thread.
#[derive(Debug, Default)]
pub struct Metrics {
    http_requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    http_latency: Mutex<BTreeMap<String, Histogram>>,
    dispatch_outcomes: Mutex<BTreeMap<&'static str, u64>>,
    dispatch_attempts: AtomicU64,
    ml_round_trip: Mutex<Histogram>,
    upload_bytes: AtomicU64,
    uploads: AtomicU64,
    websockets: AtomicI64,
}

impl Metrics {
    /// One answered HTTP request: `route` is the route template (`/jobs/{id}`), never the
    /// concrete path, so ids do not explode the label space.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let key = (method.to_owned(), route.to_owned(), status);
        *lock(&self.http_requests).entry(key).or_default() += 1;
        lock(&self.http_latency)
            .entry(route.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// A WebSocket opened (`+1`) or closed (`-1`).
    pub fn websockets(&self, change: i64) {
        self.websockets.fetch_add(change, Ordering::Relaxed);
    }

    pub(crate) fn upload(&self, bytes: u64) {
        self.uploads.fetch_add(1, Ordering::Relaxed);
        self.upload_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn dispatch_attempt(&self, took: Duration) {
        self.dispatch_attempts.fetch_add(1, Ordering::Relaxed);
        lock(&self.ml_round_trip).observe(took.as_secs_f64());
    }

    pub(crate) fn dispatch_outcome(&self, outcome: &'static str) {
        *lock(&self.dispatch_outcomes).entry(outcome).or_default() += 1;
    }

    fn render_into(&self, out: &mut String) {
        header(
            out,
            "triage_http_requests_total",
            "counter",
            "HTTP requests by route template and status.",
        );
        for ((method, route, status), count) in lock(&self.http_requests).iter() {
            let _ = writeln!(
                out,
                "triage_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        header(
            out,
            "triage_http_request_duration_seconds",
            "histogram",
            "HTTP request latency by route template.",
        );
        for (route, histogram) in lock(&self.http_latency).iter() {
            let labels = format!("route=\"{}\"", escape(route));
            histogram.render(out, "triage_http_request_duration_seconds", &labels);
        }
        header(
            out,
            "triage_dispatch_attempts_total",
            "counter",
            "Handovers to the analysis (/infer calls).",
        );
        let _ = writeln!(
            out,
            "triage_dispatch_attempts_total {}",
            self.dispatch_attempts.load(Ordering::Relaxed)
        );
        header(
            out,
            "triage_dispatch_outcomes_total",
            "counter",
            "Dispatch outcomes: accepted, completed, retrying (transient failure), failed, skipped.",
        );
        let outcomes = lock(&self.dispatch_outcomes);
        for outcome in ["accepted", "completed", "retrying", "failed", "skipped"] {
            let count = outcomes.get(outcome).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "triage_dispatch_outcomes_total{{outcome=\"{outcome}\"}} {count}"
            );
        }
        header(
            out,
            "triage_dispatch_failures_total",
            "counter",
            "Handovers that failed (transient or permanent).",
        );
        let failures = outcomes.get("retrying").copied().unwrap_or(0)
            + outcomes.get("failed").copied().unwrap_or(0);
        drop(outcomes);
        let _ = writeln!(out, "triage_dispatch_failures_total {failures}");
        header(
            out,
            "triage_ml_round_trip_seconds",
            "histogram",
            "Time of one /infer call (the whole analysis for synchronous services).",
        );
        lock(&self.ml_round_trip).render(out, "triage_ml_round_trip_seconds", "");
        header(
            out,
            "triage_uploads_total",
            "counter",
            "Uploads stored as jobs.",
        );
        let _ = writeln!(
            out,
            "triage_uploads_total {}",
            self.uploads.load(Ordering::Relaxed)
        );
        header(
            out,
            "triage_upload_bytes_total",
            "counter",
            "Bytes of uploads stored as jobs.",
        );
        let _ = writeln!(
            out,
            "triage_upload_bytes_total {}",
            self.upload_bytes.load(Ordering::Relaxed)
        );
        header(
            out,
            "triage_websockets_open",
            "gauge",
            "Open WebSocket watchers on this replica.",
        );
        let _ = writeln!(
            out,
            "triage_websockets_open {}",
            self.websockets.load(Ordering::Relaxed)
        );
    }
}

impl App {
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The Prometheus text: this process's counters, plus the job and queue gauges read from
    /// the store (the same on every replica).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached.
    pub async fn metrics_text(&self) -> AppResult<String> {
        let jobs = &self.inner.ports.jobs;
        let counts = jobs.count_by_status().await?;
        let (depth, oldest) = jobs.queue_depth().await?;
        let mut out = String::with_capacity(8 * 1024);
        header(&mut out, "triage_jobs", "gauge", "Jobs by status.");
        for status in [
            JobStatus::Queued,
            JobStatus::Processing,
            JobStatus::Succeeded,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ] {
            let count = counts
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            let _ = writeln!(out, "triage_jobs{{status=\"{status}\"}} {count}");
        }
        header(
            &mut out,
            "triage_queue_depth",
            "gauge",
            "Jobs waiting to be handed to the analysis.",
        );
        let _ = writeln!(out, "triage_queue_depth {depth}");
        header(
            &mut out,
            "triage_queue_oldest_age_seconds",
            "gauge",
            "Age of the oldest queued job (0 when none).",
        );
        let age = oldest.map_or(0.0, |at| {
            (self.now() - at).num_milliseconds().max(0) as f64 / 1000.0
        });
        let _ = writeln!(out, "triage_queue_oldest_age_seconds {age}");
        self.inner.metrics.render_into(&mut out);
        Ok(out)
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A poisoned lock only means a panic elsewhere mid-update; the counts are still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.3);
        let mut out = String::new();
        h.render(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"0.005\"} 1"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.5\"} 2"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 2"), "{out}");
        assert!(out.contains("x_count 2"), "{out}");
    }
}
