//! [`ServiceConfig`]: everything the service is started with. The binary fills it from flags
//! and the legacy environment names (`cli.rs`); tests build it directly.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use triage_blob_s3::S3Options;
use triage_domain::ports::BlobStore;
use triage_engine::Profile;

/// Where uploads are read from and reports written to.
#[derive(Clone)]
pub enum Blobs {
    /// A local directory with the layout of triage's local-disk store (`<dir>/jobs/…`,
    /// `<dir>/results/…`), so triage's `data_dir/blobs` can be shared.
    Dir(PathBuf),
    /// An S3 bucket (MinIO and friends).
    S3(S3Options),
    /// A store built by the caller (tests).
    Store(Arc<dyn BlobStore>),
}

impl fmt::Debug for Blobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(dir) => f.debug_tuple("Dir").field(dir).finish(),
            // `S3Options`' Debug hides the secret key.
            Self::S3(options) => f.debug_tuple("S3").field(options).finish(),
            Self::Store(_) => f.write_str("Store(..)"),
        }
    }
}

/// How completion callbacks are retried: `attempts` tries, waiting `initial_delay`,
/// doubling up to `max_delay` (±20 % jitter; a longer `Retry-After` up to `max_delay` wins).
/// The defaults (10 attempts, 2 s doubling to 2 min) span about 8 minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    /// Time limit of one callback request, answer included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 10,
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(120),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// The service's settings. `Debug` never shows the token.
#[derive(Clone)]
pub struct ServiceConfig {
    /// `host:port` to listen on (`ML_BIND`, default `0.0.0.0:8080`; port 0 picks one).
    pub bind: String,
    /// `ML_SERVICE_TOKEN`: required on `/infer`, sent on callbacks. Must not be empty.
    pub token: String,
    pub blobs: Blobs,
    /// `BACKEND_URL`: triage's base URL, for requests without a `callback_url`.
    pub backend_url: Option<String>,
    /// Analyse within the `/infer` request and answer the completion (no callback).
    pub sync: bool,
    /// Analyses running at once.
    pub concurrency: usize,
    /// Jobs waiting for a worker; one more is answered 503.
    pub queue: usize,
    /// Threads one analysis spreads over.
    pub engine_threads: usize,
    /// Where uploads are spooled while analysed (created if missing).
    pub tmp_dir: PathBuf,
    /// For requests without `profile` / `threshold`.
    pub default_profile: Profile,
    pub default_threshold: f64,
    /// Reports may only be written under this prefix (empty: anywhere but the upload).
    pub output_prefix: String,
    pub callback: RetryPolicy,
    /// How long a stop waits for running jobs (and their callbacks).
    pub shutdown_timeout: Duration,
    /// actix worker threads for HTTP (analyses run elsewhere).
    pub http_workers: usize,
    /// The `Retry-After` hint of a 503 when the queue is full or the service is stopping.
    pub retry_after_secs: u64,
}

impl ServiceConfig {
    /// The defaults: `0.0.0.0:8080`, asynchronous, one analysis at a time on every core,
    /// a queue of 100, `fast_debug` at 0.25, reports under `results/`.
    pub fn new(token: impl Into<String>, blobs: Blobs) -> Self {
        Self {
            bind: "0.0.0.0:8080".into(),
            token: token.into(),
            blobs,
            backend_url: None,
            sync: false,
            concurrency: 1,
            queue: 100,
            engine_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            tmp_dir: std::env::temp_dir().join("triage-ml"),
            default_profile: Profile::FastDebug,
            default_threshold: 0.25,
            output_prefix: "results/".into(),
            callback: RetryPolicy::default(),
            shutdown_timeout: Duration::from_secs(60),
            http_workers: 2,
            retry_after_secs: 30,
        }
    }

    /// Checks every field; `Err` names the first wrong one.
    pub fn validate(&self) -> Result<(), String> {
        if self.token.trim().is_empty() {
            return Err(
                "ML_SERVICE_TOKEN is required: /infer checks it and callbacks send it".into(),
            );
        }
        if self.concurrency == 0 || self.engine_threads == 0 || self.http_workers == 0 {
            return Err("concurrency, engine threads and HTTP workers must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.default_threshold) {
            return Err(format!(
                "the default threshold must lie in 0-1, got {}",
                self.default_threshold
            ));
        }
        if let Some(url) = &self.backend_url {
            check_http_url(url).map_err(|err| format!("BACKEND_URL: {err}"))?;
        }
        if self.callback.attempts == 0 {
            return Err("callback attempts must be at least 1".into());
        }
        Ok(())
    }
}

/// `Ok` for an absolute `http://` URL (this build of reqwest has no TLS).
pub(crate) fn check_http_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|err| format!("{url:?}: {err}"))?;
    match parsed.scheme() {
        "http" if parsed.host_str().is_some() => Ok(()),
        "http" => Err(format!("{url:?} names no host")),
        "https" => Err(format!(
            "{url:?}: https is not supported (this build speaks plain HTTP; use a TLS proxy)"
        )),
        other => Err(format!("{url:?}: unsupported scheme {other}")),
    }
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig")
            .field("bind", &self.bind)
            .field("token", &"<redacted>")
            .field("blobs", &self.blobs)
            .field("backend_url", &self.backend_url)
            .field("sync", &self.sync)
            .field("concurrency", &self.concurrency)
            .field("queue", &self.queue)
            .field("engine_threads", &self.engine_threads)
            .field("tmp_dir", &self.tmp_dir)
            .field("default_profile", &self.default_profile)
            .field("default_threshold", &self.default_threshold)
            .field("output_prefix", &self.output_prefix)
            .field("callback", &self.callback)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("http_workers", &self.http_workers)
            .field("retry_after_secs", &self.retry_after_secs)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token_and_validation_names_the_problem() {
        let config = ServiceConfig::new("s3cr3t-token", Blobs::Dir("/tmp/x".into()));
        assert!(!format!("{config:?}").contains("s3cr3t-token"));
        assert!(config.validate().is_ok());
        assert!(
            ServiceConfig::new(" ", Blobs::Dir("d".into()))
                .validate()
                .is_err()
        );
        let https = ServiceConfig {
            backend_url: Some("https://triage".into()),
            ..config.clone()
        };
        assert!(https.validate().unwrap_err().contains("https"));
        let zero = ServiceConfig {
            concurrency: 0,
            ..config
        };
        assert!(zero.validate().is_err());
    }
}
