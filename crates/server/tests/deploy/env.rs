//! What the code says about the environment: the keys of `config/default.toml`, the names
//! `triage` and `triage-ml` read, which program a container runs, and the configuration a
//! `triage` container's environment loads to.

use std::collections::{BTreeMap, BTreeSet};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use triage_server::config::{Config, DEFAULT_TOML, LEGACY_ENV};

use crate::dockerfile::Dockerfile;
use crate::ports::bind_port;
use crate::{read, root};

/// `section.key` (and top-level `key`) of config/default.toml, read as text.
fn config_keys() -> BTreeSet<String> {
    let mut section = String::new();
    let mut keys = BTreeSet::new();
    for line in read(&root().join("config/default.toml")).lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_owned();
        } else if let Some((key, _)) = line.split_once('=') {
            let key = key.trim();
            keys.insert(if section.is_empty() {
                key.to_owned()
            } else {
                format!("{section}.{key}")
            });
        }
    }
    keys
}

/// `TRIAGE__SECTION__KEY` → `section.key`, `TRIAGE__DATA_DIR` → `data_dir`, as
/// `Env::prefixed("TRIAGE__").split("__")` reads them. `None` for other names.
fn config_key_of(name: &str) -> Option<String> {
    let rest = name.strip_prefix("TRIAGE__")?;
    Some(
        rest.split("__")
            .collect::<Vec<_>>()
            .join(".")
            .to_ascii_lowercase(),
    )
}

/// Besides `TRIAGE__*` and `LEGACY_ENV`: what a `triage` process reads.
const TRIAGE_PROCESS_ENV: &[&str] = &[
    "TRIAGE_ENV",
    "TRIAGE_CONFIG_DIR",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "MALLOC_ARENA_MAX",
];
/// Besides the names of its command line: what `triage-ml` reads (tracing's filter), and
/// glibc's malloc tuning.
const ML_PROCESS_ENV: &[&str] = &["RUST_LOG", "RUST_BACKTRACE", "MALLOC_ARENA_MAX"];
/// Third-party images, and the prefixes of the variables they read.
const IMAGE_ENV: &[(&str, &[&str])] = &[
    ("postgres", &["POSTGRES_", "PGDATA"]),
    ("minio/minio", &["MINIO_"]),
    ("minio/mc", &["MINIO_", "MC_"]),
    ("nginx", &["NGINX_"]),
];
/// `triage serve` may take this long to stop: 30 s of graceful shutdown, then at most 35 s of
/// waiting in `Server::stop`; 40 s leaves room for the first.
pub(crate) const TRIAGE_STOP_SECS: u64 = 40;

/// Which program a container runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Role {
    /// `triage SUBCOMMAND`.
    Triage(String),
    /// `triage-ml`.
    Ml,
    /// A third-party image.
    Other(String),
}

/// What the code and the Dockerfile say, for the checks.
pub(crate) struct Known {
    keys: BTreeSet<String>,
    /// The environment names of `triage-ml`'s command line.
    ml_env: BTreeSet<String>,
    pub(crate) ml_default_bind: String,
    ml_default_shutdown_secs: u64,
    pub(crate) image: Dockerfile,
}

impl Known {
    pub(crate) fn load() -> Self {
        let cli = read(&root().join("crates/ml-service/src/cli.rs"));
        let ml_env = quoted_after(&cli, "env = \"");
        assert!(
            ml_env.contains("ML_SERVICE_TOKEN") && ml_env.contains("ML_BIND"),
            "crates/ml-service/src/cli.rs: expected `env = \"…\"` clap attributes, found {ml_env:?}"
        );
        let ml_default_bind = cli_default(&cli, "ML_BIND").expect("ML_BIND has a default_value");
        let ml_default_shutdown_secs = cli_default(&cli, "ML_SHUTDOWN_TIMEOUT_SECS")
            .and_then(|v| v.parse().ok())
            .expect("ML_SHUTDOWN_TIMEOUT_SECS has a default_value_t");
        Self {
            keys: config_keys(),
            ml_env,
            ml_default_bind,
            ml_default_shutdown_secs,
            image: Dockerfile::load(),
        }
    }

    pub(crate) fn check_name(&self, role: &Role, name: &str) -> Result<(), String> {
        match role {
            Role::Triage(_) => self.check_triage_name(name),
            Role::Ml if self.ml_env.contains(name) || ML_PROCESS_ENV.contains(&name) => Ok(()),
            Role::Ml => Err(format!(
                "{name}: triage-ml reads no such variable (crates/ml-service/src/cli.rs: {:?})",
                self.ml_env
            )),
            Role::Other(image) => {
                let repo = image_repo(image);
                match IMAGE_ENV.iter().find(|(known, _)| *known == repo) {
                    Some((_, prefixes)) if prefixes.iter().any(|p| name.starts_with(p)) => Ok(()),
                    Some((_, prefixes)) => Err(format!("{name}: {repo} reads {prefixes:?} only")),
                    None => Err(format!("{name}: image {image} is unknown to IMAGE_ENV")),
                }
            }
        }
    }

    fn check_triage_name(&self, name: &str) -> Result<(), String> {
        match config_key_of(name) {
            Some(_) if name != name.to_ascii_uppercase() => {
                Err(format!("{name}: write TRIAGE__ names in upper case"))
            }
            Some(key) if self.keys.contains(&key) => Ok(()),
            Some(key) => Err(format!("{name}: config/default.toml has no key `{key}`")),
            None if LEGACY_ENV.iter().any(|(legacy, _)| *legacy == name)
                || TRIAGE_PROCESS_ENV.contains(&name) =>
            {
                Ok(())
            }
            None => Err(format!(
                "{name}: triage reads no such variable (not TRIAGE__SECTION__KEY, not in LEGACY_ENV, \
                 not one of {TRIAGE_PROCESS_ENV:?})"
            )),
        }
    }

    /// The image's environment with `env` on top: what the process sees.
    pub(crate) fn process_env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut all = self.image.env.clone();
        all.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// The ML service's listening port in `env` (ML_BIND, or its default).
    pub(crate) fn ml_port(&self, env: &BTreeMap<String, String>) -> Option<u16> {
        bind_port(env.get("ML_BIND").unwrap_or(&self.ml_default_bind))
    }

    pub(crate) fn ml_shutdown_secs(&self, env: &BTreeMap<String, String>) -> u64 {
        env.get("ML_SHUTDOWN_TIMEOUT_SECS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.ml_default_shutdown_secs)
    }
}

/// Every string that follows `marker` up to the next `"`.
fn quoted_after(text: &str, marker: &str) -> BTreeSet<String> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.split_once('"').map(|(value, _)| value.to_owned())
        })
        .collect()
}

/// The default of the clap argument whose `env = "NAME"`: its `default_value = "…"` or
/// `default_value_t = …`.
fn cli_default(cli: &str, name: &str) -> Option<String> {
    let at = cli.find(&format!("env = \"{name}\""))?;
    let attr = &cli[at..at + cli[at..].find(")]")?];
    if let Some(rest) = attr.split_once("default_value = \"").map(|(_, r)| r) {
        return rest.split_once('"').map(|(v, _)| v.to_owned());
    }
    let rest = attr.split_once("default_value_t = ")?.1;
    let end = rest.find([',', ')', '\n']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

/// `postgres:15` → `postgres`, `docker.io/minio/mc:latest` → `minio/mc`.
pub(crate) fn image_repo(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name).to_owned()
}

/// What `Config::from_process_env` makes of `env` in the image: the files of the config
/// directory (the image copies config/ there; `dockerfile_*` checks that), the legacy names, then
/// `TRIAGE__*`. The test process's own environment plays no part.
pub(crate) fn load_config(env: &BTreeMap<String, String>) -> Result<Config, String> {
    let profile = env
        .get("TRIAGE_ENV")
        .cloned()
        .unwrap_or_else(|| "development".into());
    let dir = root().join("config");
    let mut figment = Figment::from(Toml::string(DEFAULT_TOML))
        .merge(Toml::file(dir.join("default.toml")))
        .merge(Toml::file(dir.join(format!("{profile}.toml"))));
    let value = |v: &str| v.parse::<figment::value::Value>().expect("infallible");
    for (name, key) in LEGACY_ENV {
        if let Some(v) = env.get(*name) {
            figment = figment.merge(Serialized::default(key, value(v)));
        }
    }
    for (name, v) in env {
        if let Some(key) = config_key_of(name) {
            figment = figment.merge(Serialized::default(&key, value(v)));
        }
    }
    Config::from_figment(figment, &profile).map_err(|err| err.to_string())
}
