//! How jobs travel to the analysis and back (ml-protocol.md §1–2).

use std::fmt;
use std::time::Duration;

/// Dispatch and completion settings.
#[derive(Clone)]
pub struct MlSettings {
    /// The token the analysis presents on callbacks. Empty: every callback is refused.
    pub token: String,
    /// Jobs in `processing` (handed over, not yet complete) across the deployment.
    pub max_in_flight: u32,
    /// How long a dispatcher may hold a claimed job: longer than the longest `/infer` call,
    /// so a live dispatcher never loses it, and what a crashed one delays it by at most.
    pub lease: Duration,
    /// A job handed over without a completion for this long is handed over again.
    pub processing_timeout: Duration,
    /// Transient failures are retried until this long after the job was queued.
    pub dispatch_deadline: Duration,
    /// Handovers the analysis accepted that went nowhere, before the job fails.
    pub max_attempts: u32,
    /// First and largest delay between retries after a transient failure.
    pub backoff_first: Duration,
    pub backoff_cap: Duration,
    /// Largest report read back from the blob store.
    pub max_report_bytes: u64,
    /// Most rows a report may have: results are stored and served whole, so they are bounded.
    pub max_report_rows: u64,
    /// Where reports must be written; a completion naming another key is refused.
    pub results_prefix: String,
    /// The bucket named in `/infer` requests (for services sharing the object store).
    pub bucket: String,
    /// This server's base URL as the analysis reaches it; `None`: no callback URL is sent.
    pub callback_base: Option<String>,
}

impl Default for MlSettings {
    fn default() -> Self {
        Self {
            token: String::new(),
            max_in_flight: 4,
            lease: Duration::from_secs(630),
            processing_timeout: Duration::from_secs(30 * 60),
            dispatch_deadline: Duration::from_secs(24 * 3600),
            max_attempts: 5,
            backoff_first: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(300),
            max_report_bytes: 64 << 20,
            max_report_rows: 10_000,
            results_prefix: "results/".into(),
            bucket: "uploads".into(),
            callback_base: None,
        }
    }
}

impl fmt::Debug for MlSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MlSettings")
            .field(
                "token",
                &if self.token.is_empty() {
                    "<unset>"
                } else {
                    "<redacted>"
                },
            )
            .field("max_in_flight", &self.max_in_flight)
            .field("lease", &self.lease)
            .field("processing_timeout", &self.processing_timeout)
            .field("dispatch_deadline", &self.dispatch_deadline)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_first", &self.backoff_first)
            .field("backoff_cap", &self.backoff_cap)
            .field("max_report_bytes", &self.max_report_bytes)
            .field("max_report_rows", &self.max_report_rows)
            .field("results_prefix", &self.results_prefix)
            .field("bucket", &self.bucket)
            .field("callback_base", &self.callback_base)
            .finish()
    }
}
