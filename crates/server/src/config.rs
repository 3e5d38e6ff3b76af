//! Layered configuration: the embedded `config/default.toml` < `config/default.toml` on disk <
//! `config/{TRIAGE_ENV}.toml` < the legacy environment names of the old system <
//! `TRIAGE__SECTION__KEY`. Unknown keys are errors. Nothing here is global: the loaded
//! [`Config`] is passed to whoever needs it.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;

use crate::error::ServerError;

/// The defaults, compiled in so the binary runs from any directory.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

/// Environment names the old system used, and the keys they set.
pub const LEGACY_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobsConfig {
    pub dir: String,
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
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub jwt_secret: String,
    pub token_ttl_secs: u64,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "jwt_secret",
                &if self.jwt_secret.is_empty() {
                    "<unset>"
                } else {
                    "<redacted>"
                },
            )
            .field("token_ttl_secs", &self.token_ttl_secs)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlConfig {
    pub default_profile: String,
    pub decision_threshold: f64,
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
        Figment::from(Toml::string(DEFAULT_TOML))
            .merge(Toml::file(config_dir.join("default.toml")))
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
        if self.uploads.max_size == 0
            || self.uploads.max_entries == 0
            || self.uploads.max_ratio <= 1.0
        {
            return fail(
                "uploads.max_size and uploads.max_entries must be positive, uploads.max_ratio above 1",
            );
        }
        if self.auth.token_ttl_secs == 0 {
            return fail("auth.token_ttl_secs must be positive");
        }
        if !self.auth.jwt_secret.is_empty() && self.auth.jwt_secret.len() < 32 {
            return fail("auth.jwt_secret must be at least 32 bytes");
        }
        if self.is_production() && self.auth.jwt_secret.is_empty() {
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
