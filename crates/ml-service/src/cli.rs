//! The command line of `triage-ml`: every setting is a flag with an environment fallback,
//! using the legacy names of the original deployment where one existed (`ML_SERVICE_TOKEN`,
//! `MINIO_*`, `BACKEND_URL`, `ML_DEFAULT_PROFILE`, `ML_DECISION_THRESHOLD`). Flags win over
//! the environment. Secret values are never shown in `--help` or logs.
//!
//! The store: `--blobs-dir` / `ML_BLOBS_DIR` (a local directory, e.g. triage's
//! `data/blobs`) wins; else `MINIO_ENDPOINT` selects S3.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use triage_blob_s3::S3Options;

use crate::config::{Blobs, RetryPolicy, ServiceConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// triage's reference ML service: /infer, /health and completion callbacks, analysing
/// uploads with the embedded engine.
#[derive(Debug, Parser)]
#[command(name = "triage-ml", version)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "ML_BIND", default_value = "0.0.0.0:8080")]
    pub bind: String,
    /// Shared secret: required on /infer, sent on callbacks. Prefer the environment.
    #[arg(long, env = "ML_SERVICE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// triage's base URL, for requests without callback_url.
    #[arg(long, env = "BACKEND_URL")]
    pub backend_url: Option<String>,
    /// Analyse within the /infer request and answer the completion (no callback).
    #[arg(long, env = "ML_SYNC")]
    pub sync: bool,
    /// Analyses at once.
    #[arg(long, env = "ML_CONCURRENCY", default_value_t = 1)]
    pub concurrency: usize,
    /// Jobs that may wait for a worker; more get 503.
    #[arg(long, env = "ML_QUEUE", default_value_t = 100)]
    pub queue: usize,
    /// Threads per analysis [default: the number of cores].
    #[arg(long, env = "ML_ENGINE_THREADS")]
    pub engine_threads: Option<usize>,
    /// Read uploads and write reports in this directory (triage's local-disk layout).
    #[arg(long, env = "ML_BLOBS_DIR")]
    pub blobs_dir: Option<PathBuf>,
    /// S3 endpoint (`host:port` or `http://host:port`).
    #[arg(long, env = "MINIO_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(
        long,
        env = "MINIO_ACCESS_KEY",
        default_value = "minioadmin",
        hide_env_values = true
    )]
    pub s3_access_key: String,
    #[arg(
        long,
        env = "MINIO_SECRET_KEY",
        default_value = "minioadmin",
        hide_env_values = true,
        hide_default_value = true
    )]
    pub s3_secret_key: String,
    #[arg(long, env = "MINIO_BUCKET", default_value = "uploads")]
    pub s3_bucket: String,
    #[arg(long, env = "MINIO_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Where uploads are spooled while analysed [default: <system temp>/triage-ml].
    #[arg(long, env = "ML_TMP_DIR")]
    pub tmp_dir: Option<PathBuf>,
    /// Profile of requests without one (fast_debug, production, research).
    #[arg(long, env = "ML_DEFAULT_PROFILE", default_value = "fast_debug")]
    pub default_profile: String,
    /// Threshold of requests without one.
    #[arg(long, env = "ML_DECISION_THRESHOLD", default_value_t = 0.25)]
    pub default_threshold: f64,
    /// Reports may only be written under this key prefix ("" allows any key but the upload).
    #[arg(long, env = "ML_OUTPUT_PREFIX", default_value = "results/")]
    pub output_prefix: String,
    /// Callback attempts before giving up.
    #[arg(long, env = "ML_CALLBACK_ATTEMPTS", default_value_t = 10)]
    pub callback_attempts: u32,
    /// First callback retry delay, doubled per attempt.
    #[arg(long, env = "ML_CALLBACK_INITIAL_DELAY_MS", default_value_t = 2000)]
    pub callback_initial_delay_ms: u64,
    /// Longest callback retry delay.
    #[arg(long, env = "ML_CALLBACK_MAX_DELAY_SECS", default_value_t = 120)]
    pub callback_max_delay_secs: u64,
    /// How long a stop (SIGTERM) waits for running jobs.
    #[arg(long, env = "ML_SHUTDOWN_TIMEOUT_SECS", default_value_t = 60)]
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads.
    #[arg(long, env = "ML_HTTP_WORKERS", default_value_t = 2)]
    pub http_workers: usize,
    #[arg(long, env = "ML_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

impl Args {
    /// The service configuration; `Err` says what is missing or wrong.
    pub fn into_config(self) -> Result<ServiceConfig, String> {
        let token = self
            .token
            .filter(|t| !t.trim().is_empty())
            .ok_or("ML_SERVICE_TOKEN (or --token) is required")?;
        let blobs = match (self.blobs_dir, self.s3_endpoint) {
            (Some(dir), _) => Blobs::Dir(dir),
            (None, Some(endpoint)) if !endpoint.trim().is_empty() => {
                let mut options = S3Options::new(
                    endpoint.trim(),
                    self.s3_bucket.trim(),
                    self.s3_access_key,
                    self.s3_secret_key,
                );
                options.region = self.s3_region;
                options.validate().map_err(|err| err.to_string())?;
                Blobs::S3(options)
            }
            _ => {
                return Err(
                    "no object store: set ML_BLOBS_DIR (--blobs-dir) or MINIO_ENDPOINT".into(),
                );
            }
        };
        let default_profile = self
            .default_profile
            .trim()
            .parse()
            .map_err(|err| format!("ML_DEFAULT_PROFILE: {err}"))?;
        let mut config = ServiceConfig::new(token.trim(), blobs);
        config.bind = self.bind;
        config.backend_url = self
            .backend_url
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        config.sync = self.sync;
        config.concurrency = self.concurrency;
        config.queue = self.queue;
        if let Some(threads) = self.engine_threads {
            config.engine_threads = threads;
        }
        if let Some(dir) = self.tmp_dir {
            config.tmp_dir = dir;
        }
        config.default_profile = default_profile;
        config.default_threshold = self.default_threshold;
        config.output_prefix = self.output_prefix;
        config.callback = RetryPolicy {
            attempts: self.callback_attempts,
            initial_delay: Duration::from_millis(self.callback_initial_delay_ms),
            max_delay: Duration::from_secs(self.callback_max_delay_secs),
            ..RetryPolicy::default()
        };
        config.shutdown_timeout = Duration::from_secs(self.shutdown_timeout_secs);
        config.http_workers = self.http_workers;
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<ServiceConfig, String> {
        let mut argv = vec!["triage-ml"];
        argv.extend_from_slice(args);
        Args::try_parse_from(argv)
            .map_err(|err| err.to_string())?
            .into_config()
    }

    #[test]
    fn flags_build_the_config() {
        let config = parse(&[
            "--token",
            "t0k",
            "--blobs-dir",
            "/data/blobs",
            "--sync",
            "--concurrency",
            "2",
            "--queue",
            "5",
            "--default-profile",
            "production",
            "--backend-url",
            "http://127.0.0.1:8000",
        ])
        .unwrap();
        assert!(matches!(&config.blobs, Blobs::Dir(dir) if dir == &PathBuf::from("/data/blobs")));
        assert!(config.sync);
        assert_eq!((config.concurrency, config.queue), (2, 5));
        assert_eq!(config.default_profile, triage_engine::Profile::Production);
        assert_eq!(config.backend_url.as_deref(), Some("http://127.0.0.1:8000"));
        assert!(!format!("{config:?}").contains("t0k"));
    }

    #[test]
    fn missing_or_bad_settings_are_named() {
        // The token and the store come from flags here; the test environment sets neither
        // (`ML_SERVICE_TOKEN`, `ML_BLOBS_DIR` and `MINIO_ENDPOINT` are not set in CI).
        let s3 = parse(&["--token", "t", "--s3-endpoint", "minio:9000"]).unwrap();
        assert!(matches!(&s3.blobs, Blobs::S3(o) if o.bucket == "uploads"));
        let err = parse(&["--token", "t", "--blobs-dir", "d", "--default-profile", "x"]);
        assert!(err.unwrap_err().contains("ML_DEFAULT_PROFILE"));
    }
}
