//! Layered configuration: the embedded `config/default.toml` < `config/default.toml` on disk <
//! the embedded `config/{TRIAGE_ENV}.toml` < that file on disk < the legacy environment names
//! of the old system <
//! `TRIAGE__SECTION__KEY`. Unknown keys are errors. Nothing here is global: the loaded
//! [`Config`] is passed to whoever needs it.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::ServerError;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// The per-environment files, compiled in too: `TRIAGE_ENV=production` means JSON logs even
/// where no config directory was deployed. Files on disk still override them.
const EMBEDDED_ENVS: &[(&str, &str)] = &[
    (
        "development",
        include_str!("../../../config/development.toml"),
    ),
    (
        "production",
        include_str!("../../../config/production.toml"),
    ),
];

/// Environment names the old system used, and the keys they set.
pub const LEGACY_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("MINIO_ENDPOINT", "blobs.endpoint"),
    ("MINIO_ACCESS_KEY", "blobs.access_key"),
    ("MINIO_SECRET_KEY", "blobs.secret_key"),
    ("MINIO_BUCKET", "blobs.bucket"),
    ("ML_SERVICE_URL", "ml.url"),
    ("ML_SERVICE_TOKEN", "ml.token"),
    ("ML_DEFAULT_PROFILE", "ml.default_profile"),
    ("ML_DECISION_THRESHOLD", "ml.decision_threshold"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub blobs: BlobsConfig,
    pub uploads: UploadsConfig,
    pub auth: AuthConfig,
    pub ml: MlConfig,
    pub ws: WsConfig,
    pub cors: CorsConfig,
    pub web: WebConfig,
    pub log: LogConfig,
    /// Which `config/{env}.toml` was layered in (from `TRIAGE_ENV`, not from the files).
    #[serde(skip)]
    pub env: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    pub bind: String,
    pub workers: usize,
    /// Largest JSON request body in bytes.
    pub json_limit: usize,
    /// Take the client address from `Forwarded`/`X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: String,
    pub max_connections: usize,
    pub timeout_secs: u64,
    pub migrate_on_start: bool,
}

// The URL may carry a password: print only its scheme.
impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.url.split_once("://").map_or("", |(scheme, _)| scheme);
        f.debug_struct("DatabaseConfig")
            .field("url", &format_args!("{scheme}://<redacted>"))
            .field("max_connections", &self.max_connections)
            .field("timeout_secs", &self.timeout_secs)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    /// S3 when `endpoint` is set, else the local disk.
    Auto,
    Fs,
    S3,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    pub backend: BlobBackend,
    pub dir: String,
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    /// `Debug` prints it redacted.
    pub secret_key: SecretString,
    pub create_bucket: bool,
    pub timeout_secs: u64,
    pub part_size: usize,
}

impl BlobsConfig {
    pub fn uses_s3(&self) -> bool {
        match self.backend {
            BlobBackend::Auto => !self.endpoint.trim().is_empty(),
            BlobBackend::Fs => false,
            BlobBackend::S3 => true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accept {
    Dicom,
    Any,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadsConfig {
    pub max_size: u64,
    pub accept: Accept,
    pub max_entries: u64,
    pub max_uncompressed: u64,
    pub max_ratio: f64,
    pub tmp_dir: String,
    /// Spool files untouched for this long are removed by the janitor.
    pub spool_max_age_secs: u64,
    /// An upload body silent for this long is abandoned.
    pub idle_timeout_secs: u64,
    /// Uploads in progress per client address; 0: no cap.
    pub max_concurrent_per_client: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `Debug` prints it redacted.
    pub jwt_secret: SecretString,
    pub token_ttl_secs: u64,
    /// Failed logins per username and per client within the window; 0: no limit.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlConfig {
    pub url: String,
    /// `Debug` prints it redacted.
    pub token: SecretString,
    pub default_profile: String,
    pub decision_threshold: f64,
    pub max_in_flight: u32,
    pub request_timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub processing_timeout_secs: u64,
    pub dispatch_deadline_secs: u64,
    pub max_attempts: u32,
    pub max_report_bytes: u64,
    pub max_report_rows: u64,
    pub callback_url: String,
    pub dispatch: bool,
    pub poll_interval_ms: u64,
    pub worker_id: String,
    pub engine_threads: usize,
    pub engine_key_images: bool,
    pub engine_key_slices: usize,
    pub engine_image_size: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WsConfig {
    pub ping_interval_secs: u64,
    pub idle_timeout_secs: u64,
    pub anonymous_status_frames: bool,
    /// Anonymous sockets per client address and per process; 0: no cap.
    pub max_anonymous_per_client: usize,
    pub max_anonymous_total: usize,
}

/// Cross-origin requests from browsers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins like `https://triage.example.org`; `*` for any (without credentials).
    pub allowed_origins: Vec<String>,
    pub allow_credentials: bool,
}

/// The built single-page frontend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Directory with `index.html`; empty: no frontend.
    pub static_dir: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    pub format: LogFormat,
    pub filter: String,
}

impl Config {
    /// Loads the layers for `env` from `config_dir` and the process environment.
    ///
    /// # Errors
    /// `Config` naming the key and the layer that broke a rule.
    pub fn load(config_dir: &Path, env: &str) -> Result<Self, ServerError> {
        Self::from_figment(Self::figment(config_dir, env), env)
    }

    /// Loads as the binary does: `TRIAGE_CONFIG_DIR` (default `./config`) and `TRIAGE_ENV`
    /// (default `development`).
    ///
    /// # Errors
    /// As [`Config::load`].
    pub fn from_process_env() -> Result<Self, ServerError> {
        let dir = std::env::var("TRIAGE_CONFIG_DIR").unwrap_or_else(|_| "config".into());
        let env = std::env::var("TRIAGE_ENV").unwrap_or_else(|_| "development".into());
        Self::load(Path::new(&dir), &env)
    }

    /// The embedded defaults alone (for tests, which then adjust fields directly).
    ///
    /// # Errors
    /// Only if the embedded file is broken.
    pub fn embedded_defaults() -> Result<Self, ServerError> {
        Self::from_figment(Figment::from(Toml::string(DEFAULT_TOML)), "test")
    }

    /// Every layer, in order; exposed so tests can add their own on top.
    pub fn figment(config_dir: &Path, env: &str) -> Figment {
        let legacy = Env::raw().filter_map(|key| {
            LEGACY_ENV
                .iter()
                .find(|(name, _)| key == *name)
                .map(|(_, path)| (*path).into())
        });
        let embedded_env = EMBEDDED_ENVS
            .iter()
            .find(|(name, _)| *name == env)
            .map_or("", |(_, toml)| toml);
        // The environment's own settings (embedded or on disk) beat every default, wherever it
        // comes from: a deployed default.toml must not undo production's rules.
        Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::file(config_dir.join("default.toml")))
            .merge(Toml::string(embedded_env))
            .merge(Toml::file(config_dir.join(format!("{env}.toml"))))
            .merge(legacy)
            .merge(Env::prefixed("TRIAGE__").split("__"))
    }

    /// Extracts and checks a figment.
    ///
    /// # Errors
    /// `Config` for unknown keys, wrong types and broken rules.
    pub fn from_figment(figment: Figment, env: &str) -> Result<Self, ServerError> {
        let mut config: Config = figment
            .extract()
            .map_err(|err| ServerError::Config(err.to_string()))?;
        config.env = env.to_owned();
        config.validate()?;
        Ok(config)
    }

    pub fn is_production(&self) -> bool {
        self.env == "production"
    }

    fn validate(&self) -> Result<(), ServerError> {
        let fail = |msg: &str| Err(ServerError::Config(msg.to_owned()));
        if !(0.0..=1.0).contains(&self.ml.decision_threshold) {
            return fail("ml.decision_threshold must be between 0 and 1");
        }
        if self.ml.engine_key_slices > 20 || !(64..=2048).contains(&self.ml.engine_image_size) {
            return fail("ml.engine_key_slices must be 0-20 and ml.engine_image_size 64-2048");
        }
        if self.uploads.max_size == 0
            || self.uploads.max_entries == 0
            || self.uploads.spool_max_age_secs == 0
            || self.uploads.idle_timeout_secs == 0
            || self.uploads.max_ratio <= 1.0
        {
            return fail(
                "uploads.max_size, uploads.max_entries, uploads.spool_max_age_secs and uploads.idle_timeout_secs must be positive, uploads.max_ratio above 1",
            );
        }
        if self.auth.token_ttl_secs == 0 {
            return fail("auth.token_ttl_secs must be positive");
        }
        if self.auth.login_max_failures > 0 && self.auth.login_window_secs == 0 {
            return fail("auth.login_window_secs must be positive (or auth.login_max_failures 0)");
        }
        if self.server.json_limit == 0 {
            return fail("server.json_limit must be positive");
        }
        let any_origin = self.cors.allowed_origins.iter().any(|o| o.trim() == "*");
        if any_origin && self.cors.allow_credentials {
            return fail("cors.allow_credentials needs explicit cors.allowed_origins, not \"*\"");
        }
        if let Some(origin) = self
            .cors
            .allowed_origins
            .iter()
            .map(|o| o.trim())
            .find(|o| *o != "*" && !(o.starts_with("http://") || o.starts_with("https://")))
        {
            return Err(ServerError::Config(format!(
                "cors.allowed_origins: {origin:?} is not \"*\" or an origin like https://host[:port]"
            )));
        }
        let jwt_secret = self.auth.jwt_secret.expose_secret();
        if !jwt_secret.is_empty() && jwt_secret.len() < 32 {
            return fail("auth.jwt_secret must be at least 32 bytes");
        }
        if !self.ml.url.trim().is_empty() && self.ml.token.expose_secret().is_empty() {
            return fail(
                "ml.url needs ml.token (ML_SERVICE_TOKEN): the completion callback always requires it",
            );
        }
        if self.ml.max_in_flight == 0 || self.ml.max_attempts == 0 || self.ml.poll_interval_ms == 0
        {
            return fail(
                "ml.max_in_flight, ml.max_attempts and ml.poll_interval_ms must be positive",
            );
        }
        if self.blobs.uses_s3() && self.blobs.endpoint.trim().is_empty() {
            return fail("blobs.backend = \"s3\" needs blobs.endpoint (MINIO_ENDPOINT)");
        }
        if self.ws.ping_interval_secs == 0
            || self.ws.idle_timeout_secs <= self.ws.ping_interval_secs
        {
            return fail("ws.ping_interval_secs must be positive and below ws.idle_timeout_secs");
        }
        if self.blobs.part_size < 5 << 20 {
            return fail("blobs.part_size must be at least 5 MiB (an S3 rule)");
        }
        if self.is_production() && jwt_secret.is_empty() {
            return fail("production needs auth.jwt_secret (TRIAGE__AUTH__JWT_SECRET), 32+ bytes");
        }
        Ok(())
    }

    /// `dir` if set, else `data_dir/default`.
    pub fn dir_or(&self, dir: &str, default: &str) -> PathBuf {
        if dir.is_empty() {
            self.data_dir.join(default)
        } else {
            PathBuf::from(dir)
        }
    }
}
