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

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use reqwest::Url;
use triage_server::config::{Config, DEFAULT_TOML, LEGACY_ENV};
use yaml_rust2::{Yaml, YamlLoader};

// ------------------------------------------------------------------------------------------------
// Where things are, and what the code says

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy_dir() -> PathBuf {
    root().join("deploy")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Problems found by one test, reported together.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} problem(s)\n  - {}",
            self.0.len(),
            self.0.join("\n  - ")
        );
    }
}

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
const TRIAGE_STOP_SECS: u64 = 40;

/// Which program a container runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// `triage SUBCOMMAND`.
    Triage(String),
    /// `triage-ml`.
    Ml,
    /// A third-party image.
    Other(String),
}

/// What the code and the Dockerfile say, for the checks.
struct Known {
    keys: BTreeSet<String>,
    /// The environment names of `triage-ml`'s command line.
    ml_env: BTreeSet<String>,
    ml_default_bind: String,
    ml_default_shutdown_secs: u64,
    image: Dockerfile,
}

impl Known {
    fn load() -> Self {
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

    fn check_name(&self, role: &Role, name: &str) -> Result<(), String> {
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
    fn process_env(&self, env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut all = self.image.env.clone();
        all.extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// The ML service's listening port in `env` (ML_BIND, or its default).
    fn ml_port(&self, env: &BTreeMap<String, String>) -> Option<u16> {
        bind_port(env.get("ML_BIND").unwrap_or(&self.ml_default_bind))
    }

    fn ml_shutdown_secs(&self, env: &BTreeMap<String, String>) -> u64 {
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
fn image_repo(image: &str) -> String {
    let name = image.split('@').next().unwrap_or(image);
    let name = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => name,
    };
    let name = name.strip_prefix("docker.io/").unwrap_or(name);
    name.strip_prefix("library/").unwrap_or(name).to_owned()
}

/// The port of `host:port`.
fn bind_port(bind: &str) -> Option<u16> {
    bind.rsplit_once(':')?.1.parse().ok()
}

/// What `Config::from_process_env` makes of `env` in the image: the files of the config
/// directory (the image copies config/ there; `dockerfile_*` checks that), the legacy names, then
/// `TRIAGE__*`. The test process's own environment plays no part.
fn load_config(env: &BTreeMap<String, String>) -> Result<Config, String> {
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

/// `scheme`, `host`, `port` (the scheme's default when absent) and `path` of a URL.
fn url_parts(url: &str) -> Option<(String, String, u16, String)> {
    let parsed = Url::parse(url.trim()).ok()?;
    let port = parsed.port_or_known_default().or(match parsed.scheme() {
        "postgres" | "postgresql" => Some(5432),
        _ => None,
    })?;
    Some((
        parsed.scheme().to_owned(),
        parsed.host_str()?.to_owned(),
        port,
        parsed.path().to_owned(),
    ))
}

/// `45s`, `1m30s`, `2m`, `500ms` → seconds (rounded down).
fn duration_secs(text: &str) -> Option<u64> {
    let mut total_ms = 0u64;
    let mut number = String::new();
    let mut chars = text.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit_ms = match c {
            'h' => 3_600_000,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                1
            }
            'm' => 60_000,
            's' => 1000,
            _ => return None,
        };
        total_ms += n * unit_ms;
    }
    if !number.is_empty() {
        return None;
    }
    Some(total_ms / 1000)
}

// ------------------------------------------------------------------------------------------------
// YAML

/// Every `.yaml` / `.yml` file under `dir`, recursively.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The documents of a YAML file, merge keys (`<<: *anchor`) applied as compose applies them.
fn load_yaml(path: &Path) -> Vec<Yaml> {
    let docs = YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|err| panic!("{}: not YAML: {err}", path.display()));
    docs.into_iter().map(merge_keys).collect()
}

fn merge_keys(node: Yaml) -> Yaml {
    match node {
        Yaml::Array(items) => Yaml::Array(items.into_iter().map(merge_keys).collect()),
        Yaml::Hash(hash) => {
            let merge_key = Yaml::String("<<".into());
            let mut out = yaml_rust2::yaml::Hash::new();
            if let Some(merged) = hash.get(&merge_key) {
                let sources = match merged {
                    Yaml::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for source in sources {
                    if let Yaml::Hash(source) = merge_keys(source) {
                        for (k, v) in source {
                            out.insert(k, v);
                        }
                    }
                }
            }
            for (k, v) in hash {
                if k != merge_key {
                    out.insert(k, merge_keys(v));
                }
            }
            Yaml::Hash(out)
        }
        other => other,
    }
}

/// A scalar as text (strings, numbers); `None` for the rest.
fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A string, or a list of strings, as a list.
fn words(node: &Yaml) -> Vec<String> {
    match node {
        Yaml::Array(items) => items.iter().filter_map(scalar).collect(),
        other => scalar(other)
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
    }
}

fn entries(node: &Yaml) -> Vec<(String, &Yaml)> {
    node.as_hash()
        .map(|hash| {
            hash.iter()
                .filter_map(|(k, v)| Some((scalar(k)?, v)))
                .collect()
        })
        .unwrap_or_default()
}

fn items(node: &Yaml) -> &[Yaml] {
    node.as_vec().map_or(&[], Vec::as_slice)
}

#[test]
fn every_yaml_file_under_deploy_parses() {
    let files = yaml_files(&deploy_dir());
    assert!(
        files.iter().any(|f| f.ends_with("compose.yaml")),
        "deploy/compose.yaml is missing: {files:?}"
    );
    assert!(
        files
            .iter()
            .any(|f| f.starts_with(deploy_dir().join("k8s"))),
        "deploy/k8s/ has no manifests"
    );
    for file in files {
        let docs = load_yaml(&file);
        assert!(
            docs.iter()
                .any(|d| d.as_hash().is_some_and(|h| !h.is_empty())),
            "{}: no document",
            file.display()
        );
        for doc in &docs {
            assert!(
                !format!("{doc:?}").contains("BadValue"),
                "{}: a value YAML could not type (e.g. an unknown alias)",
                file.display()
            );
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Dockerfile

/// The parts of deploy/Dockerfile the checks need (`ENV`, `EXPOSE`, … of the final stage).
#[derive(Debug, Default, Clone)]
struct Dockerfile {
    stages: Vec<String>,
    env: BTreeMap<String, String>,
    expose: BTreeSet<u16>,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    user: Option<String>,
    /// `COPY` arguments of the final stage.
    copies: Vec<Vec<String>>,
    /// `RUN` commands of every stage.
    runs: Vec<String>,
}

impl Dockerfile {
    fn load() -> Self {
        let text = read(&deploy_dir().join("Dockerfile"));
        let mut lines = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
                continue;
            }
            match trimmed.strip_suffix('\\') {
                Some(part) => {
                    current.push_str(part);
                    current.push(' ');
                }
                None => {
                    current.push_str(trimmed);
                    lines.push(std::mem::take(&mut current));
                }
            }
        }
        let mut file = Self::default();
        for line in lines {
            let (instruction, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            let args = args.trim();
            match instruction.to_ascii_uppercase().as_str() {
                "FROM" => {
                    file.stages.push(args.to_owned());
                    file.env.clear();
                    file.expose.clear();
                    file.copies.clear();
                    file.entrypoint.clear();
                    file.cmd.clear();
                    file.user = None;
                }
                "ENV" => file.env.extend(parse_env_instruction(args)),
                "EXPOSE" => file.expose.extend(
                    args.split_whitespace()
                        .map(|p| p.split('/').next().unwrap().parse::<u16>().unwrap()),
                ),
                "ENTRYPOINT" => {
                    file.entrypoint = serde_json::from_str(args).expect("ENTRYPOINT [..]")
                }
                "CMD" => file.cmd = serde_json::from_str(args).expect("CMD [..]"),
                "USER" => file.user = Some(args.to_owned()),
                "COPY" => file.copies.push(
                    args.split_whitespace()
                        .filter(|a| !a.starts_with("--"))
                        .map(str::to_owned)
                        .collect(),
                ),
                "RUN" => file.runs.push(args.to_owned()),
                _ => {}
            }
        }
        file
    }

    /// Where the final stage copies `source` to.
    fn copy_destination(&self, source: &str) -> Option<&str> {
        self.copies
            .iter()
            .find(|args| args.len() == 2 && args[0].trim_end_matches('/') == source)
            .map(|args| args[1].trim_end_matches('/'))
    }
}

/// `A=1 B="two words"` or the old `A value`.
fn parse_env_instruction(args: &str) -> Vec<(String, String)> {
    let mut tokens = Vec::new();
    let mut token = String::new();
    let mut quoted = false;
    for c in args.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !token.is_empty() {
                    tokens.push(std::mem::take(&mut token));
                }
            }
            c => token.push(c),
        }
    }
    if !token.is_empty() {
        tokens.push(token);
    }
    if tokens.first().is_some_and(|t| t.contains('=')) {
        tokens
            .iter()
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    } else {
        let (name, value) = tokens.split_first().expect("ENV without a name");
        vec![(name.clone(), value.join(" "))]
    }
}

/// `[[bin]] name = "…"` of a crate's Cargo.toml, and its package name.
fn crate_names(dir: &str) -> (String, BTreeSet<String>) {
    let toml = read(&root().join("crates").join(dir).join("Cargo.toml"));
    let mut package = String::new();
    let mut bins = BTreeSet::new();
    let mut section = String::new();
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_owned();
        } else if let Some(value) = line
            .strip_prefix("name = \"")
            .and_then(|v| v.strip_suffix('"'))
        {
            match section.as_str() {
                "[package]" => package = value.to_owned(),
                "[[bin]]" => {
                    bins.insert(value.to_owned());
                }
                _ => {}
            }
        }
    }
    (package, bins)
}

#[test]
fn dockerfile_builds_both_binaries_and_runs_them_as_non_root() {
    let known = Known::load();
    let image = &known.image;
    let mut problems = Problems::default();

    problems.check(image.stages.len() >= 2, || {
        format!(
            "expected a builder and a runtime stage, got {:?}",
            image.stages
        )
    });
    let build = image
        .runs
        .iter()
        .find(|run| run.contains("cargo build"))
        .cloned()
        .unwrap_or_default();
    for flag in ["--release", "--locked", "--mount=type=cache"] {
        problems.check(build.contains(flag), || {
            format!("`cargo build` lacks {flag}: {build}")
        });
    }
    for (dir, bin) in [("server", "triage"), ("ml-service", "triage-ml")] {
        let (package, bins) = crate_names(dir);
        problems.check(build.contains(&format!("-p {package}")), || {
            format!("`cargo build` does not build -p {package}")
        });
        problems.check(bins.contains(bin), || {
            format!("crates/{dir} has no binary {bin}")
        });
        problems.check(build.contains(&format!("target/release/{bin}")), || {
            format!("the build step does not copy target/release/{bin} out of the cache mount")
        });
    }
    let final_stage = image.stages.last().cloned().unwrap_or_default();
    problems.check(
        final_stage.contains("RUNTIME_IMAGE") || final_stage.contains("slim"),
        || format!("the runtime stage should be a slim image: FROM {final_stage}"),
    );

    // Non-root, the uid the k8s manifests run as.
    let uid = image
        .user
        .as_deref()
        .and_then(|u| u.split(':').next())
        .and_then(|u| u.parse::<u32>().ok());
    problems.check(uid.is_some_and(|u| u != 0), || {
        format!(
            "USER must be a numeric non-root uid (runAsNonRoot needs one): {:?}",
            image.user
        )
    });
    problems.check(
        image.entrypoint == ["triage"] && image.cmd == ["serve"],
        || {
            format!(
                "expected ENTRYPOINT [\"triage\"] CMD [\"serve\"], got {:?} {:?}",
                image.entrypoint, image.cmd
            )
        },
    );

    // The image's own settings: names, the config directory, production, and the port.
    for name in image.env.keys() {
        let triage = known.check_name(&Role::Triage("serve".into()), name);
        let ml = known.check_name(&Role::Ml, name);
        if let (Err(err), Err(_)) = (triage, ml) {
            problems.push(format!("Dockerfile ENV {err}"));
        }
    }
    let config_dir = image
        .env
        .get("TRIAGE_CONFIG_DIR")
        .cloned()
        .unwrap_or_default();
    problems.check(
        !config_dir.is_empty() && image.copy_destination("config") == Some(config_dir.as_str()),
        || {
            format!(
                "TRIAGE_CONFIG_DIR={config_dir:?} but config/ is copied to {:?}",
                image.copy_destination("config")
            )
        },
    );
    problems.check(
        image.copy_destination("deploy/healthcheck.sh")
            == Some("/usr/local/bin/triage-healthcheck"),
        || "deploy/healthcheck.sh is not installed as /usr/local/bin/triage-healthcheck".into(),
    );
    problems.check(
        image.env.get("TRIAGE_ENV").map(String::as_str) == Some("production"),
        || "the image should set TRIAGE_ENV=production".into(),
    );
    let mut env = image.env.clone();
    env.insert("TRIAGE__AUTH__JWT_SECRET".into(), "x".repeat(32));
    match load_config(&env) {
        Ok(config) => {
            let bind: std::net::SocketAddr = config.server.bind.parse().unwrap();
            problems.check(bind.ip().is_unspecified(), || {
                format!("server.bind {bind} is unreachable from outside the container")
            });
            problems.check(image.expose.contains(&bind.port()), || {
                format!(
                    "EXPOSE {:?} lacks triage's port {}",
                    image.expose,
                    bind.port()
                )
            });
            problems.check(config.data_dir.is_absolute(), || {
                format!(
                    "data_dir {} should be absolute in the image",
                    config.data_dir.display()
                )
            });
        }
        Err(err) => problems.push(format!("the image's environment does not load: {err}")),
    }
    let ml_port = bind_port(&known.ml_default_bind).unwrap();
    problems.check(image.expose.contains(&ml_port), || {
        format!(
            "EXPOSE {:?} lacks triage-ml's default port {ml_port}",
            image.expose
        )
    });
    problems.assert_none("deploy/Dockerfile");
}

/// `.dockerignore` pattern match, enough for its syntax: `*` within a name, `**` across names.
fn ignore_matches(pattern: &str, path: &str) -> bool {
    fn parts_match(pattern: &[&str], path: &[&str]) -> bool {
        match (pattern.first(), path.first()) {
            (None, _) => true, // a matched directory excludes what is below it
            (Some(&"**"), _) => {
                (0..=path.len()).any(|skip| parts_match(&pattern[1..], &path[skip..]))
            }
            (Some(_), None) => false,
            (Some(p), Some(name)) => {
                name_matches(p, name) && parts_match(&pattern[1..], &path[1..])
            }
        }
    }
    fn name_matches(pattern: &str, name: &str) -> bool {
        match pattern.split_once('*') {
            None => pattern == name,
            Some((prefix, rest)) => {
                name.starts_with(prefix)
                    && (0..=name.len() - prefix.len())
                        .any(|i| name_matches(rest, &name[prefix.len() + i..]))
            }
        }
    }
    let pattern: Vec<&str> = pattern.trim_matches('/').split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    parts_match(&pattern, &path)
}

#[test]
fn dockerignore_keeps_the_sources_and_drops_build_output() {
    let path = [
        root().join("deploy/Dockerfile.dockerignore"),
        root().join(".dockerignore"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .expect("no .dockerignore for deploy/Dockerfile (context: the repository root)");
    let patterns: Vec<String> = read(&path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(str::to_owned)
        .collect();
    let ignored = |path: &str| patterns.iter().any(|p| ignore_matches(p, path));
    let mut problems = Problems::default();
    for excluded in [
        "target/release/triage",
        "data/triage.db",
        "crates/server/target/x",
    ] {
        problems.check(ignored(excluded), || {
            format!("{excluded} is sent to the build")
        });
    }
    let needed = [
        "Cargo.toml",
        "Cargo.lock",
        "crates/server/src/main.rs",
        "crates/ml-service/src/main.rs",
        "crates/store-diesel/build.rs",
        "config/default.toml",
        "config/production.toml",
        "migrations/postgres",
        "deploy/healthcheck.sh",
    ];
    for path in needed {
        problems.check(!ignored(path), || {
            format!("{path} is ignored, but the build needs it")
        });
    }
    problems.assert_none(&path.display().to_string());
}

// ------------------------------------------------------------------------------------------------
// compose

struct Compose {
    /// compose.yaml, interpolated, merge keys applied.
    doc: Yaml,
    services: BTreeMap<String, Service>,
    /// Variables of deploy/.env.example.
    example: BTreeMap<String, String>,
    /// Variables compose.yaml interpolates.
    used: BTreeSet<String>,
    /// Interpolation problems.
    problems: Vec<String>,
}

struct Service {
    spec: Yaml,
    role: Role,
    /// The service's own `environment`, interpolated.
    env: BTreeMap<String, String>,
    /// `expose` and the container side of `ports`.
    listens: BTreeSet<u16>,
    /// `depends_on`: service → condition.
    depends_on: BTreeMap<String, String>,
}

impl Service {
    fn healthcheck(&self) -> Vec<String> {
        words(&self.spec["healthcheck"]["test"])
    }

    fn grace_secs(&self) -> u64 {
        scalar(&self.spec["stop_grace_period"])
            .and_then(|d| duration_secs(&d))
            .unwrap_or(10)
    }
}

fn env_file(path: &Path) -> BTreeMap<String, String> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR:?message}`, `${VAR?message}`, from `vars`.
fn interpolate(
    text: &str,
    vars: &BTreeMap<String, String>,
    used: &mut BTreeSet<String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (expr, after) = if let Some(braced) = rest.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            (&braced[..end], &braced[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                return Err(format!("a lone $ in {text:?} (write $$)"));
            }
            (&rest[..end], &rest[end..])
        };
        let name_end = expr
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(expr.len());
        let (name, op) = expr.split_at(name_end);
        used.insert(name.to_owned());
        let value = vars.get(name).filter(|v| !v.is_empty());
        let set = vars.contains_key(name);
        let resolved = match op {
            "" => value
                .cloned()
                .ok_or_else(|| format!("${{{name}}} has no value and no default"))?,
            _ if op.starts_with(":-") => value.cloned().unwrap_or_else(|| op[2..].to_owned()),
            _ if op.starts_with('-') => vars
                .get(name)
                .cloned()
                .unwrap_or_else(|| op[1..].to_owned()),
            _ if op.starts_with(":?") || (op.starts_with('?') && !set) => value
                .cloned()
                .ok_or_else(|| format!("{name} is required but not in deploy/.env.example"))?,
            _ if op.starts_with('?') => vars[name].clone(),
            _ => return Err(format!("unsupported interpolation ${{{expr}}}")),
        };
        out.push_str(&resolved);
        rest = after;
    }
    out.push_str(rest);
    Ok(out)
}

fn interpolate_tree(
    node: Yaml,
    vars: &BTreeMap<String, String>,
    used: &mut BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Yaml {
    match node {
        Yaml::String(s) => match interpolate(&s, vars, used) {
            Ok(s) => Yaml::String(s),
            Err(err) => {
                problems.push(err);
                Yaml::String(s)
            }
        },
        Yaml::Array(items) => Yaml::Array(
            items
                .into_iter()
                .map(|i| interpolate_tree(i, vars, used, problems))
                .collect(),
        ),
        Yaml::Hash(hash) => Yaml::Hash(
            hash.into_iter()
                .map(|(k, v)| (k, interpolate_tree(v, vars, used, problems)))
                .collect(),
        ),
        other => other,
    }
}

impl Compose {
    fn load(known: &Known) -> Self {
        let example = env_file(&deploy_dir().join(".env.example"));
        let doc = load_yaml(&deploy_dir().join("compose.yaml")).remove(0);
        let mut used = BTreeSet::new();
        let mut problems = Vec::new();
        let doc = interpolate_tree(doc, &example, &mut used, &mut problems);

        // Our image: what the services that build deploy/Dockerfile are tagged.
        let mut ours = BTreeSet::new();
        for (name, spec) in entries(&doc["services"]) {
            let build = &spec["build"];
            if build.is_badvalue() {
                continue;
            }
            let context = deploy_dir().join(scalar(&build["context"]).unwrap_or(".".into()));
            let dockerfile =
                context.join(scalar(&build["dockerfile"]).unwrap_or("Dockerfile".into()));
            let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
            if !same(&context, &root()) || !same(&dockerfile, &deploy_dir().join("Dockerfile")) {
                problems.push(format!(
                    "{name}: builds {} from {}, not deploy/Dockerfile from the repository root",
                    dockerfile.display(),
                    context.display()
                ));
            }
            ours.extend(scalar(&spec["image"]));
        }

        let mut services = BTreeMap::new();
        for (name, spec) in entries(&doc["services"]) {
            let image = scalar(&spec["image"]).unwrap_or_default();
            let role = if ours.contains(&image) || !spec["build"].is_badvalue() {
                let entrypoint = words(&spec["entrypoint"]);
                let command = words(&spec["command"]);
                match entrypoint.first().map(String::as_str) {
                    Some("triage-ml") => Role::Ml,
                    Some("triage") | None => Role::Triage(
                        command
                            .first()
                            .or(known.image.cmd.first())
                            .cloned()
                            .unwrap_or_default(),
                    ),
                    Some(other) => panic!("{name}: unknown entrypoint {other}"),
                }
            } else {
                Role::Other(image)
            };
            let mut env = BTreeMap::new();
            match &spec["environment"] {
                Yaml::Hash(_) => {
                    for (key, value) in entries(&spec["environment"]) {
                        match value {
                            Yaml::Boolean(_) => problems.push(format!(
                                "{name}: {key}: compose needs booleans quoted (\"true\")"
                            )),
                            Yaml::Null => {
                                env.insert(key, String::new());
                            }
                            other => {
                                env.insert(key, scalar(other).unwrap_or_default());
                            }
                        }
                    }
                }
                Yaml::Array(list) => {
                    for item in list.iter().filter_map(scalar) {
                        let (k, v) = item.split_once('=').unwrap_or((&item, ""));
                        env.insert(k.to_owned(), v.to_owned());
                    }
                }
                Yaml::BadValue => {}
                other => problems.push(format!("{name}: environment: unexpected {other:?}")),
            }
            if !spec["env_file"].is_badvalue() {
                problems.push(format!(
                    "{name}: env_file is not checked by this test; use environment"
                ));
            }
            let mut listens: BTreeSet<u16> = items(&spec["expose"])
                .iter()
                .filter_map(scalar)
                .filter_map(|p| p.parse().ok())
                .collect();
            for port in items(&spec["ports"]).iter().filter_map(scalar) {
                let container = port.rsplit(':').next().unwrap_or(&port);
                listens.extend(
                    container
                        .split('/')
                        .next()
                        .and_then(|p| p.parse::<u16>().ok()),
                );
            }
            let depends_on = match &spec["depends_on"] {
                Yaml::Array(list) => list
                    .iter()
                    .filter_map(scalar)
                    .map(|s| (s, "service_started".to_owned()))
                    .collect(),
                hash @ Yaml::Hash(_) => entries(hash)
                    .into_iter()
                    .map(|(s, v)| {
                        (
                            s,
                            scalar(&v["condition"]).unwrap_or("service_started".into()),
                        )
                    })
                    .collect(),
                _ => BTreeMap::new(),
            };
            services.insert(
                name,
                Service {
                    spec: spec.clone(),
                    role,
                    env,
                    listens,
                    depends_on,
                },
            );
        }
        Self {
            doc,
            services,
            example,
            used,
            problems,
        }
    }

    fn with_role(&self, role: Role) -> impl Iterator<Item = (&String, &Service)> {
        self.services.iter().filter(move |(_, s)| s.role == role)
    }

    fn ml_services(&self) -> Vec<(&String, &Service)> {
        self.with_role(Role::Ml).collect()
    }

    /// `None` when `url` names a compose service and a port it listens on; else the problem.
    fn url_problem(&self, what: &str, url: &str) -> Option<String> {
        let Some((_, host, port, _)) = url_parts(url) else {
            return Some(format!("{what}: {url:?} is not a URL"));
        };
        match self.services.get(&host) {
            None => Some(format!("{what}: {url}: no service {host}")),
            Some(service) if !service.listens.contains(&port) => Some(format!(
                "{what}: {url}: {host} listens on {:?}, not {port}",
                service.listens
            )),
            Some(_) => None,
        }
    }
}

#[test]
fn compose_sets_only_real_settings_and_every_secret_comes_from_the_env_file() {
    let known = Known::load();
    let compose = Compose::load(&known);
    let mut problems = Problems(compose.problems.clone());
    for (name, service) in &compose.services {
        for var in service.env.keys() {
            if let Err(err) = known.check_name(&service.role, var) {
                problems.push(format!("{name} ({:?}): {err}", service.role));
            }
        }
    }
    for var in compose.example.keys() {
        problems.check(compose.used.contains(var), || {
            format!("deploy/.env.example sets {var}, which compose.yaml never uses")
        });
    }
    let text = read(&deploy_dir().join("compose.yaml"));
    for secret in [
        "TRIAGE_JWT_SECRET",
        "ML_SERVICE_TOKEN",
        "POSTGRES_PASSWORD",
        "MINIO_ROOT_PASSWORD",
    ] {
        problems.check(text.contains(&format!("${{{secret}:?")), || {
            format!("compose.yaml should require {secret} with ${{{secret}:?…}}")
        });
    }
    problems.assert_none("deploy/compose.yaml: environment");
}

#[test]
fn compose_services_load_their_config_and_reach_each_other() {
    let known = Known::load();
    let compose = Compose::load(&known);
    let mut problems = Problems::default();
    let serve = Role::Triage("serve".into());
    let replicas: Vec<_> = compose.with_role(serve.clone()).collect();
    problems.check(replicas.len() >= 2, || {
        format!(
            "expected two triage replicas or more, got {}",
            replicas.len()
        )
    });
    let ml = compose.ml_services();
    problems.check(ml.len() == 1, || {
        format!("expected one triage-ml service, got {}", ml.len())
    });
    let migrate: Vec<_> = compose.with_role(Role::Triage("migrate".into())).collect();
    problems.check(migrate.len() == 1, || {
        format!(
            "expected one `triage migrate` service, got {}",
            migrate.len()
        )
    });

    for (name, service) in &compose.services {
        let Role::Triage(subcommand) = &service.role else {
            continue;
        };
        let config = match load_config(&known.process_env(&service.env)) {
            Ok(config) => config,
            Err(err) => {
                problems.push(format!("{name}: the configuration does not load: {err}"));
                continue;
            }
        };
        problems.check(config.database.url.starts_with("postgres"), || {
            format!(
                "{name}: replicas must share PostgreSQL, database.url is {:?}",
                config.database.url
            )
        });
        if let Some(problem) =
            compose.url_problem(&format!("{name} database.url"), &config.database.url)
        {
            problems.push(problem);
        }
        problems.check(config.blobs.uses_s3(), || {
            format!("{name}: replicas must share an S3 store (blobs.endpoint)")
        });
        if let Some(problem) =
            compose.url_problem(&format!("{name} blobs.endpoint"), &config.blobs.endpoint)
        {
            problems.push(problem);
        }
        if subcommand != "serve" {
            continue;
        }
        problems.check(!config.database.migrate_on_start, || {
            format!("{name}: with several replicas, TRIAGE__DATABASE__MIGRATE_ON_START must be \"false\"")
        });
        problems.check(
            migrate
                .iter()
                .any(|(m, _)| service.depends_on.get(*m).map(String::as_str) == Some("service_completed_successfully")),
            || format!("{name}: must depend on the migrate service with condition service_completed_successfully"),
        );
        let port = bind_port(&config.server.bind).unwrap_or_default();
        problems.check(service.listens.contains(&port), || {
            format!(
                "{name}: listens on {port} (server.bind {}) but exposes {:?}",
                config.server.bind, service.listens
            )
        });
        problems.check(known.image.expose.contains(&port), || {
            format!(
                "{name}: port {port} is not in the Dockerfile's EXPOSE {:?}",
                known.image.expose
            )
        });
        let check = service.healthcheck();
        let expected = [
            "CMD".to_owned(),
            "triage-healthcheck".to_owned(),
            port.to_string(),
        ];
        problems.check(
            check.len() == 4
                && check[..3] == expected
                && matches!(check[3].as_str(), "/ready" | "/health"),
            || format!("{name}: healthcheck should be [CMD, triage-healthcheck, {port}, /ready], got {check:?}"),
        );
        problems.check(service.grace_secs() >= TRIAGE_STOP_SECS, || {
            format!(
                "{name}: stop_grace_period {}s < {TRIAGE_STOP_SECS}s",
                service.grace_secs()
            )
        });

        // The analysis: a triage-ml service, one token, one store; callbacks reach a replica.
        if let Some(problem) = compose.url_problem(&format!("{name} ml.url"), &config.ml.url) {
            problems.push(problem);
        }
        let ml_host = url_parts(&config.ml.url).map(|(_, host, port, _)| (host, port));
        let Some((ml_name, ml_service)) = ml
            .iter()
            .find(|(n, _)| ml_host.as_ref().is_some_and(|(h, _)| h == *n))
        else {
            problems.push(format!(
                "{name}: ml.url {:?} is not the triage-ml service",
                config.ml.url
            ));
            continue;
        };
        let ml_env = known.process_env(&ml_service.env);
        problems.check(
            ml_host.as_ref().map(|(_, p)| *p) == known.ml_port(&ml_env),
            || {
                format!(
                    "{name}: ml.url {} but {ml_name} listens on {:?} (ML_BIND)",
                    config.ml.url,
                    known.ml_port(&ml_env)
                )
            },
        );
        let pairs = [
            ("TRIAGE__ML__TOKEN", &config.ml.token, "ML_SERVICE_TOKEN"),
            (
                "TRIAGE__BLOBS__ENDPOINT",
                &config.blobs.endpoint,
                "MINIO_ENDPOINT",
            ),
            (
                "TRIAGE__BLOBS__BUCKET",
                &config.blobs.bucket,
                "MINIO_BUCKET",
            ),
            (
                "TRIAGE__BLOBS__ACCESS_KEY",
                &config.blobs.access_key,
                "MINIO_ACCESS_KEY",
            ),
            (
                "TRIAGE__BLOBS__SECRET_KEY",
                &config.blobs.secret_key,
                "MINIO_SECRET_KEY",
            ),
        ];
        for (ours, value, theirs) in pairs {
            problems.check(ml_env.get(theirs) == Some(value), || {
                format!(
                    "{name} {ours} and {ml_name} {theirs} differ: {value:?} vs {:?}",
                    ml_env.get(theirs)
                )
            });
        }
        if !config.blobs.create_bucket {
            let bucket = format!("/{}", config.blobs.bucket);
            problems.check(
                compose.services.values().any(|s| {
                    matches!(s.role, Role::Other(_))
                        && words(&s.spec["command"])
                            .iter()
                            .any(|w| w.contains(&bucket))
                }),
                || format!("{name}: blobs.create_bucket is false but no one-shot creates {bucket}"),
            );
        }
        let callback = &config.ml.callback_url;
        problems.check(!callback.is_empty(), || {
            format!("{name}: set TRIAGE__ML__CALLBACK_URL (the default, http://{{server.bind}}, is not reachable from triage-ml)")
        });
        if let Some(problem) = compose.url_problem(&format!("{name} ml.callback_url"), callback) {
            problems.push(problem);
        }
        problems.check(ml_env.get("BACKEND_URL") == Some(callback), || {
            format!(
                "{ml_name} BACKEND_URL {:?} differs from the callback URL {callback:?}",
                ml_env.get("BACKEND_URL")
            )
        });
    }

    for (name, service) in &ml {
        let env = known.process_env(&service.env);
        let port = known.ml_port(&env).unwrap_or_default();
        problems.check(service.listens.contains(&port) && known.image.expose.contains(&port), || {
            format!("{name}: ML_BIND port {port} must be in expose {:?} and the Dockerfile's EXPOSE", service.listens)
        });
        let check = service.healthcheck();
        problems.check(
            check == ["CMD", "triage-healthcheck", &port.to_string(), "/health"],
            || format!("{name}: healthcheck should be [CMD, triage-healthcheck, {port}, /health], got {check:?}"),
        );
        let shutdown = known.ml_shutdown_secs(&env);
        problems.check(service.grace_secs() > shutdown, || {
            format!(
                "{name}: stop_grace_period {}s must exceed ML_SHUTDOWN_TIMEOUT_SECS ({shutdown}s)",
                service.grace_secs()
            )
        });
        if let Some(endpoint) = env.get("MINIO_ENDPOINT")
            && let Some(problem) = compose.url_problem(&format!("{name} MINIO_ENDPOINT"), endpoint)
        {
            problems.push(problem);
        }
    }
    problems.assert_none("deploy/compose.yaml: services");
}

#[test]
fn compose_health_checks_and_start_order_fit_together() {
    let known = Known::load();
    let compose = Compose::load(&known);
    let mut problems = Problems::default();
    let one_shots: BTreeSet<&String> = compose
        .services
        .iter()
        .filter(|(name, s)| {
            s.role == Role::Triage("migrate".into())
                || compose.services.values().any(|other| {
                    other.depends_on.get(*name).map(String::as_str)
                        == Some("service_completed_successfully")
                })
        })
        .map(|(name, _)| name)
        .collect();
    for (name, service) in &compose.services {
        if one_shots.contains(name) {
            problems.check(
                scalar(&service.spec["restart"]).as_deref() == Some("no"),
                || format!("{name}: a one-shot needs restart: \"no\""),
            );
        } else {
            let check = service.healthcheck();
            problems.check(check.len() >= 2 && check[0].starts_with("CMD"), || {
                format!("{name}: a long-running service needs a healthcheck, got {check:?}")
            });
        }
        for (target, condition) in &service.depends_on {
            let Some(dependency) = compose.services.get(target) else {
                problems.push(format!("{name}: depends on unknown service {target}"));
                continue;
            };
            match condition.as_str() {
                "service_healthy" => problems.check(!dependency.healthcheck().is_empty(), || {
                    format!("{name}: waits for {target} to be healthy, which has no healthcheck")
                }),
                "service_completed_successfully" => problems
                    .check(one_shots.contains(target), || {
                        format!("{name}: waits for {target} to complete, which is not a one-shot")
                    }),
                "service_started" => {}
                other => problems.push(format!("{name}: unknown depends_on condition {other}")),
            }
        }
    }
    // Named volumes must be declared at the top level.
    let declared: BTreeSet<String> = entries(&compose.doc["volumes"])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for (name, service) in &compose.services {
        for volume in items(&service.spec["volumes"]).iter().filter_map(scalar) {
            let source = volume.split(':').next().unwrap_or_default();
            if !source.starts_with(['.', '/', '~']) {
                problems.check(declared.contains(source), || {
                    format!("{name}: volume {source} is not declared under volumes:")
                });
            }
        }
    }
    // Health checks that need a program: the image has triage-healthcheck, not curl.
    for (name, service) in &compose.services {
        if matches!(service.role, Role::Other(_)) {
            continue;
        }
        let check = service.healthcheck();
        problems.check(
            check.get(1).is_none_or(|p| p == "triage-healthcheck"),
            || {
                format!(
                    "{name}: the image has no {:?}; use triage-healthcheck",
                    check.get(1)
                )
            },
        );
    }
    if let Some(postgres) = compose
        .services
        .values()
        .find(|s| s.role == Role::Other("postgres:15".into()))
    {
        problems.check(
            postgres
                .healthcheck()
                .iter()
                .any(|w| w.contains("pg_isready")),
            || "postgres: healthcheck should use pg_isready".into(),
        );
    } else {
        problems.push("no postgres:15 service".into());
    }
    match compose
        .services
        .values()
        .find(|s| matches!(&s.role, Role::Other(i) if image_repo(i) == "minio/minio"))
    {
        Some(minio) => problems.check(
            minio
                .healthcheck()
                .iter()
                .any(|w| w.contains("/minio/health/live")),
            || "minio: healthcheck should ask /minio/health/live".into(),
        ),
        None => problems.push("no minio/minio service".into()),
    }
    problems.assert_none("deploy/compose.yaml: health and order");
}

// ------------------------------------------------------------------------------------------------
// nginx

mod nginx {
    /// A directive with its arguments, and the directives of its block if it has one.
    #[derive(Debug, Clone)]
    pub struct Node {
        pub name: String,
        pub args: Vec<String>,
        pub block: Option<Vec<Node>>,
    }

    pub fn parse(text: &str) -> Vec<Node> {
        let mut tokens = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(&c) = chars.peek() {
            match c {
                '#' => while chars.next().is_some_and(|c| c != '\n') {},
                c if c.is_whitespace() => {
                    chars.next();
                }
                '{' | '}' | ';' => {
                    tokens.push(c.to_string());
                    chars.next();
                }
                '"' | '\'' => {
                    chars.next();
                    let mut word = String::new();
                    for c in chars.by_ref() {
                        if c == '"' || c == '\'' {
                            break;
                        }
                        word.push(c);
                    }
                    tokens.push(format!("\u{0}{word}"));
                }
                _ => {
                    let mut word = String::new();
                    while let Some(&c) = chars.peek() {
                        if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                            break;
                        }
                        word.push(c);
                        chars.next();
                    }
                    tokens.push(word);
                }
            }
        }
        let mut tokens = tokens.into_iter();
        let nodes = block(&mut tokens);
        assert!(tokens.next().is_none(), "nginx.conf: unbalanced braces");
        nodes
    }

    fn block(tokens: &mut impl Iterator<Item = String>) -> Vec<Node> {
        let mut nodes = Vec::new();
        let mut words: Vec<String> = Vec::new();
        while let Some(token) = tokens.next() {
            match token.as_str() {
                ";" | "{" => {
                    assert!(
                        !words.is_empty(),
                        "nginx.conf: `{token}` without a directive"
                    );
                    let name = words.remove(0);
                    let args = std::mem::take(&mut words)
                        .into_iter()
                        .map(|w| w.trim_start_matches('\u{0}').to_owned())
                        .collect();
                    let children = (token == "{").then(|| block(tokens));
                    nodes.push(Node {
                        name,
                        args,
                        block: children,
                    });
                }
                "}" => {
                    assert!(
                        words.is_empty(),
                        "nginx.conf: directive without `;`: {words:?}"
                    );
                    return nodes;
                }
                _ => words.push(token),
            }
        }
        assert!(
            words.is_empty(),
            "nginx.conf: directive without `;`: {words:?}"
        );
        nodes
    }

    pub fn all<'a>(nodes: &'a [Node], name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        nodes.iter().filter(move |n| n.name == name)
    }

    /// The arguments of every `name` directive at the innermost level (of `levels`, innermost
    /// first) that has one: nginx's inheritance, where a level that sets a directive replaces
    /// everything inherited (so one `proxy_set_header` drops the server's).
    pub fn effective(levels: &[&[Node]], name: &str) -> Vec<Vec<String>> {
        levels
            .iter()
            .map(|level| all(level, name).map(|n| n.args.clone()).collect::<Vec<_>>())
            .find(|found| !found.is_empty())
            .unwrap_or_default()
    }

    /// The location of `server` that serves `uri` (exact, then longest prefix; `^~` as any
    /// prefix since regex locations are refused).
    pub fn locate<'a>(server: &'a [Node], uri: &str) -> Option<&'a Node> {
        let mut best: Option<(&Node, usize)> = None;
        for location in all(server, "location") {
            match location.args.as_slice() {
                [op, path] if op == "=" => {
                    if uri == path {
                        return Some(location);
                    }
                }
                [op, path] if op == "^~" => consider(&mut best, location, path, uri),
                [path] => consider(&mut best, location, path, uri),
                other => panic!("nginx.conf: location {other:?}: regex locations are not checked"),
            }
        }
        best.map(|(node, _)| node)
    }

    fn consider<'a>(best: &mut Option<(&'a Node, usize)>, node: &'a Node, path: &str, uri: &str) {
        if uri.starts_with(path) && best.is_none_or(|(_, len)| path.len() > len) {
            *best = Some((node, path.len()));
        }
    }

    /// What a request for `uri` on `server` meets: the `proxy_pass` target of its location (if
    /// any), and the levels its directives are inherited from (location, server, http).
    pub fn route<'a>(
        conf: &'a [Node],
        server: &'a Node,
        uri: &str,
    ) -> (Option<String>, Vec<&'a [Node]>) {
        let block = server.block.as_deref().unwrap_or_default();
        let location = locate(block, uri);
        let pass = location
            .and_then(|l| all(l.block.as_deref().unwrap_or_default(), "proxy_pass").next())
            .and_then(|p| p.args.first().cloned());
        let mut levels: Vec<&[Node]> = Vec::new();
        if let Some(location) = location {
            levels.push(location.block.as_deref().unwrap_or_default());
        }
        levels.push(block);
        levels.push(conf);
        (pass, levels)
    }

    /// The value an effective `proxy_set_header name …` gives (`Some("")`: removed).
    pub fn header(levels: &[&[Node]], name: &str) -> Option<String> {
        effective(levels, "proxy_set_header")
            .into_iter()
            .find(|h| h.first().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|h| h.get(1).cloned().unwrap_or_default())
    }

    /// `6g`, `512m`, `1k`, `100` → bytes; `0` (no limit) → `u64::MAX`.
    pub fn size(text: &str) -> Option<u64> {
        let text = text.to_ascii_lowercase();
        let (number, unit) = match text.chars().last()? {
            'k' => (&text[..text.len() - 1], 1u64 << 10),
            'm' => (&text[..text.len() - 1], 1 << 20),
            'g' => (&text[..text.len() - 1], 1 << 30),
            _ => (text.as_str(), 1),
        };
        let n: u64 = number.parse().ok()?;
        Some(if n == 0 { u64::MAX } else { n * unit })
    }
}

/// The replicas believe the first `Forwarded` / `X-Forwarded-For` hop: the proxy must write
/// X-Forwarded-For itself and drop a client's Forwarded (which actix reads first).
fn check_client_address(problems: &mut Problems, uri: &str, levels: &[&[nginx::Node]]) {
    let xff = nginx::header(levels, "X-Forwarded-For");
    problems.check(xff.as_deref() == Some("$remote_addr"), || {
        format!("public {uri}: X-Forwarded-For should be $remote_addr (a client's own value must not pass), got {xff:?}")
    });
    let forwarded = nginx::header(levels, "Forwarded");
    problems.check(forwarded.is_some_and(|v| v.is_empty() || v.contains("$remote_addr")), || {
        format!("public {uri}: set `proxy_set_header Forwarded \"\"` (a client's Forwarded would win)")
    });
}

#[test]
fn the_proxy_spreads_over_the_replicas_streams_uploads_and_upgrades_websockets() {
    let known = Known::load();
    let compose = Compose::load(&known);
    let mut problems = Problems::default();

    // The proxy: the service that mounts deploy/nginx.conf.
    let (proxy_name, proxy) = compose
        .services
        .iter()
        .find(|(_, s)| {
            items(&s.spec["volumes"])
                .iter()
                .filter_map(scalar)
                .any(|v| v.starts_with("./nginx.conf:"))
        })
        .expect("no compose service mounts ./nginx.conf");
    let conf_path = deploy_dir().join("nginx.conf");
    let conf = nginx::parse(&read(&conf_path));
    let servers: Vec<&nginx::Node> = nginx::all(&conf, "server").collect();
    let listen_port = |server: &nginx::Node| -> Option<u16> {
        let block = server.block.as_deref()?;
        let listen = nginx::all(block, "listen").next()?;
        listen.args.first()?.rsplit(':').next()?.parse().ok()
    };
    let server_on = |port: u16| {
        servers
            .iter()
            .copied()
            .find(|s| listen_port(s) == Some(port))
    };
    let listens: BTreeSet<u16> = servers.iter().filter_map(|s| listen_port(s)).collect();
    problems.check(proxy.listens == listens, || {
        format!(
            "{proxy_name}: exposes {:?} but nginx.conf listens on {listens:?}",
            proxy.listens
        )
    });

    // The upstream: exactly the triage replicas, on their server.bind ports. They are reached
    // through the proxy only, and take the client address from its headers (the login limit).
    let mut replicas = BTreeSet::new();
    for (name, service) in compose.with_role(Role::Triage("serve".into())) {
        problems.check(service.spec["ports"].is_badvalue(), || {
            format!("{name}: publishes ports; clients must come through the proxy")
        });
        if let Ok(config) = load_config(&known.process_env(&service.env)) {
            problems.check(config.server.trust_forwarded_for, || {
                format!(
                    "{name}: behind the proxy, set TRIAGE__SERVER__TRUST_FORWARDED_FOR=\"true\" \
                     (else every client shares the proxy's login-failure count)"
                )
            });
            replicas.insert(format!(
                "{name}:{}",
                bind_port(&config.server.bind).unwrap_or_default()
            ));
        }
    }
    let upstreams: BTreeMap<String, BTreeSet<String>> = nginx::all(&conf, "upstream")
        .map(|u| {
            let servers = nginx::all(u.block.as_deref().unwrap_or_default(), "server")
                .filter_map(|s| s.args.first().cloned())
                .collect();
            (u.args[0].clone(), servers)
        })
        .collect();
    for (name, members) in &upstreams {
        problems.check(members == &replicas, || {
            format!("upstream {name} has {members:?}, the replicas are {replicas:?}")
        });
    }
    let map_defined = |var: &str| {
        nginx::all(&conf, "map").any(|m| m.args.get(1).map(String::as_str) == Some(var))
    };

    let proxied_to_upstream = |pass: &Option<String>| {
        pass.as_deref()
            .and_then(|p| p.strip_prefix("http://"))
            .is_some_and(|u| upstreams.contains_key(u))
    };

    // The public port: the one compose publishes.
    let published: Vec<u16> = items(&proxy.spec["ports"])
        .iter()
        .filter_map(scalar)
        .filter_map(|p| p.rsplit(':').next().and_then(|p| p.parse().ok()))
        .collect();
    problems.check(published.len() == 1, || {
        format!("{proxy_name}: publish one port, got {published:?}")
    });
    let max_upload = compose
        .with_role(Role::Triage("serve".into()))
        .filter_map(|(_, s)| load_config(&known.process_env(&s.env)).ok())
        .map(|c| c.uploads.max_size)
        .max()
        .unwrap_or(0);
    if let Some(public) = published.first().and_then(|p| server_on(*p)) {
        for uri in ["/jobs", "/api/jobs", "/health", "/ready", "/auth/login"] {
            let (pass, levels) = nginx::route(&conf, public, uri);
            problems.check(proxied_to_upstream(&pass), || {
                format!("public {uri}: not proxied to the replicas ({pass:?})")
            });
            let body = nginx::effective(&levels, "client_max_body_size");
            let limit = body
                .first()
                .and_then(|a| a.first())
                .and_then(|s| nginx::size(s))
                .unwrap_or(1 << 20);
            problems.check(limit >= max_upload, || {
                format!("public {uri}: client_max_body_size {limit} is below uploads.max_size {max_upload}")
            });
            let buffering = nginx::effective(&levels, "proxy_request_buffering");
            problems.check(buffering == [vec!["off".to_owned()]], || {
                format!("public {uri}: proxy_request_buffering should be off (uploads stream)")
            });
            check_client_address(&mut problems, uri, &levels);
        }
        for uri in [
            "/ws/jobs",
            "/ws/jobs/0191",
            "/api/ws/jobs",
            "/api/ws/jobs/0191",
        ] {
            let (pass, levels) = nginx::route(&conf, public, uri);
            problems.check(proxied_to_upstream(&pass), || {
                format!("public {uri}: not proxied to the replicas ({pass:?})")
            });
            let version = nginx::effective(&levels, "proxy_http_version");
            problems.check(version == [vec!["1.1".to_owned()]], || {
                format!("public {uri}: proxy_http_version 1.1 is needed for WebSockets")
            });
            let header = |name: &str| nginx::header(&levels, name);
            check_client_address(&mut problems, uri, &levels);
            problems.check(
                header("Upgrade").as_deref() == Some("$http_upgrade"),
                || format!("public {uri}: no `proxy_set_header Upgrade $http_upgrade`"),
            );
            let connection = header("Connection").unwrap_or_default();
            problems.check(
                connection.eq_ignore_ascii_case("upgrade")
                    || (connection.starts_with('$') && map_defined(&connection)),
                || format!("public {uri}: Connection header {connection:?} does not upgrade"),
            );
            problems.check(header("Host").is_some(), || {
                format!("public {uri}: Host is not passed on")
            });
        }
        for uri in [
            "/internal/jobs/0191/completion",
            "/api/internal/jobs/0191/completion",
        ] {
            let (pass, levels) = nginx::route(&conf, public, uri);
            let refused = nginx::effective(&levels[..1], "return")
                .first()
                .and_then(|a| a.first())
                .is_some_and(|code| code.starts_with('4'));
            problems.check(pass.is_none() && refused, || {
                format!("public {uri}: the ML callback must not be reachable from outside")
            });
        }
    } else {
        problems.push(format!(
            "nginx.conf has no server on the published port {published:?}"
        ));
    }

    // The callback URL and BACKEND_URL: a port of the proxy that passes /internal/ on.
    let callbacks: BTreeSet<String> = compose
        .services
        .values()
        .filter_map(|s| match s.role {
            Role::Triage(_) => load_config(&known.process_env(&s.env))
                .ok()
                .map(|c| c.ml.callback_url),
            Role::Ml => s.env.get("BACKEND_URL").cloned(),
            Role::Other(_) => None,
        })
        .collect();
    for url in callbacks {
        let Some((_, host, port, _)) = url_parts(&url) else {
            problems.push(format!("callback URL {url:?} is not a URL"));
            continue;
        };
        if &host != proxy_name {
            continue; // straight to a replica: checked with the services
        }
        match server_on(port) {
            Some(server) => {
                let (pass, _) = nginx::route(&conf, server, "/internal/jobs/0191/completion");
                problems.check(proxied_to_upstream(&pass), || {
                    format!("{url}/internal/…: not proxied to the replicas")
                });
            }
            None => problems.push(format!(
                "callback URL {url}: nginx.conf has no server on port {port}"
            )),
        }
    }
    problems.assert_none(&conf_path.display().to_string());
}

// ------------------------------------------------------------------------------------------------
// Kubernetes

/// An environment variable of a container: where it comes from, and its value.
#[derive(Debug, Clone, PartialEq)]
struct EnvValue {
    origin: String,
    value: String,
}

struct Workload {
    kind: String,
    name: String,
    spec: Yaml,
    /// The pod template's spec.
    pod: Yaml,
    labels: BTreeMap<String, String>,
}

struct Container {
    workload: String,
    spec: Yaml,
    role: Role,
    env: BTreeMap<String, EnvValue>,
}

impl Container {
    fn values(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }

    /// containerPort of a port name or number.
    fn port(&self, port: &Yaml) -> Option<u16> {
        if let Some(number) = port.as_i64() {
            return u16::try_from(number).ok();
        }
        let name = port.as_str()?;
        items(&self.spec["ports"])
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| u16::try_from(p["containerPort"].as_i64()?).ok())
    }

    fn prestop_sleep(&self) -> u64 {
        let command = words(&self.spec["lifecycle"]["preStop"]["exec"]["command"]);
        match command.as_slice() {
            [sleep, secs] if sleep == "sleep" => secs.parse().unwrap_or(0),
            _ => 0,
        }
    }
}

struct Cluster {
    docs: Vec<(PathBuf, Yaml)>,
    config_maps: BTreeMap<String, BTreeMap<String, Yaml>>,
    secrets: BTreeMap<String, BTreeMap<String, Yaml>>,
    workloads: Vec<Workload>,
    containers: Vec<Container>,
    problems: Vec<String>,
}

fn labels(node: &Yaml) -> BTreeMap<String, String> {
    entries(node)
        .into_iter()
        .filter_map(|(k, v)| Some((k, scalar(v)?)))
        .collect()
}

impl Cluster {
    fn load(known: &Known) -> Self {
        let mut cluster = Self {
            docs: Vec::new(),
            config_maps: BTreeMap::new(),
            secrets: BTreeMap::new(),
            workloads: Vec::new(),
            containers: Vec::new(),
            problems: Vec::new(),
        };
        for file in yaml_files(&deploy_dir().join("k8s")) {
            for doc in load_yaml(&file) {
                if doc.as_hash().is_some_and(|h| !h.is_empty()) {
                    cluster.docs.push((file.clone(), doc));
                }
            }
        }
        for (file, doc) in &cluster.docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let data = |key: &str| -> BTreeMap<String, Yaml> {
                entries(&doc[key])
                    .into_iter()
                    .map(|(k, v)| (k, v.clone()))
                    .collect()
            };
            match kind {
                "ConfigMap" => {
                    let data = data("data");
                    for (key, value) in &data {
                        if value.as_str().is_none() {
                            cluster.problems.push(format!(
                                "{}: ConfigMap {name}: {key}: values must be strings (quote {value:?})",
                                file.display()
                            ));
                        }
                    }
                    cluster.config_maps.insert(name, data);
                }
                "Secret" => {
                    if !doc["data"].is_badvalue() {
                        cluster.problems.push(format!(
                            "Secret {name}: use stringData placeholders, not data"
                        ));
                    }
                    cluster.secrets.insert(name, data("stringData"));
                }
                "Deployment" | "StatefulSet" | "DaemonSet" | "Job" => {
                    let spec = doc["spec"].clone();
                    let template = &spec["template"];
                    cluster.workloads.push(Workload {
                        kind: kind.to_owned(),
                        name,
                        pod: template["spec"].clone(),
                        labels: labels(&template["metadata"]["labels"]),
                        spec,
                    });
                }
                _ => {}
            }
        }
        let workloads = std::mem::take(&mut cluster.workloads);
        for workload in &workloads {
            for spec in items(&workload.pod["containers"]) {
                let container = cluster.container(known, workload, spec);
                cluster.containers.push(container);
            }
        }
        cluster.workloads = workloads;
        cluster
    }

    fn container(&mut self, known: &Known, workload: &Workload, spec: &Yaml) -> Container {
        let image = scalar(&spec["image"]).unwrap_or_default();
        let command = words(&spec["command"]);
        let args = words(&spec["args"]);
        let ours = image_repo(&image).ends_with("/triage") || image_repo(&image) == "triage";
        let role = match (ours, command.first().map(String::as_str)) {
            (true, Some("triage-ml")) => Role::Ml,
            (true, Some("triage") | None) => {
                let sub = if command.len() > 1 {
                    command.get(1)
                } else {
                    args.first()
                };
                Role::Triage(sub.or(known.image.cmd.first()).cloned().unwrap_or_default())
            }
            (true, Some(other)) => panic!("{}: unknown command {other}", workload.name),
            (false, _) => Role::Other(image),
        };
        let mut env = BTreeMap::new();
        for source in items(&spec["envFrom"]) {
            let (kind, name) = if let Some(name) = source["configMapRef"]["name"].as_str() {
                ("configmap", name)
            } else if let Some(name) = source["secretRef"]["name"].as_str() {
                ("secret", name)
            } else {
                self.problems
                    .push(format!("{}: envFrom {source:?}", workload.name));
                continue;
            };
            let data = if kind == "configmap" {
                self.config_maps.get(name)
            } else {
                self.secrets.get(name)
            };
            match data {
                Some(data) => {
                    for (key, value) in data {
                        env.insert(
                            key.clone(),
                            EnvValue {
                                origin: format!("{kind} {name}/{key}"),
                                value: scalar(value).unwrap_or_default(),
                            },
                        );
                    }
                }
                None => self.problems.push(format!(
                    "{}: envFrom {kind} {name} does not exist",
                    workload.name
                )),
            }
        }
        for item in items(&spec["env"]) {
            let name = scalar(&item["name"]).unwrap_or_default();
            let from = &item["valueFrom"];
            let value = if let Some(value) = scalar(&item["value"]) {
                Some(EnvValue {
                    origin: format!("literal {value}"),
                    value,
                })
            } else {
                let (kind, reference) = if from["secretKeyRef"].is_badvalue() {
                    ("configmap", &from["configMapKeyRef"])
                } else {
                    ("secret", &from["secretKeyRef"])
                };
                let source = scalar(&reference["name"]).unwrap_or_default();
                let key = scalar(&reference["key"]).unwrap_or_default();
                let data = if kind == "configmap" {
                    self.config_maps.get(&source)
                } else {
                    self.secrets.get(&source)
                };
                match data.and_then(|d| d.get(&key)) {
                    Some(value) => Some(EnvValue {
                        origin: format!("{kind} {source}/{key}"),
                        value: scalar(value).unwrap_or_default(),
                    }),
                    None => {
                        self.problems.push(format!(
                            "{}: {name}: {kind} {source} has no key {key}",
                            workload.name
                        ));
                        None
                    }
                }
            };
            if let Some(value) = value {
                env.insert(name, value);
            }
        }
        Container {
            workload: workload.name.clone(),
            spec: spec.clone(),
            role,
            env,
        }
    }

    fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }

    fn services(&self) -> impl Iterator<Item = &Yaml> {
        self.docs
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d["kind"].as_str() == Some("Service"))
    }

    /// The workloads whose pods a Service's selector picks.
    fn selected(&self, service: &Yaml) -> Vec<&Workload> {
        let selector = labels(&service["spec"]["selector"]);
        self.workloads
            .iter()
            .filter(|w| {
                w.kind != "Job"
                    && !selector.is_empty()
                    && selector.iter().all(|(k, v)| w.labels.get(k) == Some(v))
            })
            .collect()
    }

    /// The workload behind `url` (`http://service[.namespace…]:port`) and the container port it
    /// reaches; `Err` when the URL names no Service port.
    fn resolve(&self, url: &str) -> Result<(&Workload, u16), String> {
        let (_, host, port, _) = url_parts(url).ok_or_else(|| format!("{url:?} is not a URL"))?;
        let service = self
            .services()
            .find(|s| {
                let name = s["metadata"]["name"].as_str().unwrap_or_default();
                host == name || host.starts_with(&format!("{name}."))
            })
            .ok_or_else(|| format!("{url}: no Service {host}"))?;
        let service_port = items(&service["spec"]["ports"])
            .iter()
            .find(|p| p["port"].as_i64() == Some(i64::from(port)))
            .ok_or_else(|| format!("{url}: the Service has no port {port}"))?;
        let workload = match self.selected(service).as_slice() {
            [workload] => *workload,
            _ => {
                return Err(format!(
                    "{url}: the Service must select exactly one workload"
                ));
            }
        };
        let target = if service_port["targetPort"].is_badvalue() {
            &service_port["port"]
        } else {
            &service_port["targetPort"]
        };
        let container_port = self
            .containers
            .iter()
            .filter(|c| c.workload == workload.name)
            .find_map(|c| c.port(target))
            .ok_or_else(|| {
                format!(
                    "{url}: targetPort {target:?} is no port of {}",
                    workload.name
                )
            })?;
        Ok((workload, container_port))
    }
}

#[test]
fn k8s_sets_only_real_settings_and_every_reference_exists() {
    let known = Known::load();
    let cluster = Cluster::load(&known);
    let mut problems = Problems(cluster.problems.clone());
    for container in &cluster.containers {
        for name in container.env.keys() {
            if let Err(err) = known.check_name(&container.role, name) {
                problems.push(format!(
                    "{} ({:?}): {err}",
                    container.workload, container.role
                ));
            }
        }
    }
    // A ConfigMap or Secret no container reads would hold settings that go nowhere.
    let sources = cluster
        .config_maps
        .keys()
        .map(|name| format!("configmap {name}/"))
        .chain(cluster.secrets.keys().map(|name| format!("secret {name}/")));
    for source in sources {
        let used = cluster
            .containers
            .iter()
            .any(|c| c.env.values().any(|v| v.origin.starts_with(&source)));
        problems.check(used, || format!("{source}: no container reads it"));
    }
    for (file, doc) in &cluster.docs {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let namespace = doc["metadata"]["namespace"].as_str();
        problems.check(
            matches!(kind, "Namespace" | "Kustomization") || namespace == Some("triage"),
            || {
                format!(
                    "{}: {kind} {:?} should be in namespace triage",
                    file.display(),
                    doc["metadata"]["name"]
                )
            },
        );
        if kind == "Kustomization" {
            for resource in items(&doc["resources"]).iter().filter_map(scalar) {
                problems.check(deploy_dir().join("k8s").join(&resource).exists(), || {
                    format!("kustomization.yaml lists {resource}, which does not exist")
                });
            }
        }
    }
    let images: BTreeSet<String> = cluster
        .containers
        .iter()
        .filter(|c| !matches!(c.role, Role::Other(_)))
        .filter_map(|c| scalar(&c.spec["image"]))
        .collect();
    problems.check(images.len() == 1, || {
        format!("triage and triage-ml should run one image, got {images:?}")
    });
    problems.assert_none("deploy/k8s: environment");
}

#[test]
fn k8s_workloads_probe_listen_and_reach_each_other_on_the_same_ports() {
    let known = Known::load();
    let cluster = Cluster::load(&known);
    let mut problems = Problems::default();
    let replicas_of = |workload: &Workload| -> i64 {
        let hpa_min = cluster
            .docs
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d["kind"].as_str() == Some("HorizontalPodAutoscaler"))
            .filter(|d| {
                d["spec"]["scaleTargetRef"]["name"].as_str() == Some(workload.name.as_str())
            })
            .filter_map(|d| d["spec"]["minReplicas"].as_i64())
            .max()
            .unwrap_or(0);
        workload.spec["replicas"].as_i64().unwrap_or(1).max(hpa_min)
    };
    let mut saw = BTreeSet::new();
    for container in &cluster.containers {
        let workload = cluster.workload(&container.workload).unwrap();
        let name = format!("{} {}", workload.kind, workload.name);
        saw.insert(container.role.clone());
        let grace = workload.pod["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(30);
        let grace = u64::try_from(grace).unwrap_or(0);
        let probe = |which: &str| -> Option<(String, Option<u16>)> {
            let get = &container.spec[which]["httpGet"];
            Some((scalar(&get["path"])?, container.port(&get["port"])))
        };
        match &container.role {
            Role::Triage(sub) => {
                let config = match load_config(&known.process_env(&container.values())) {
                    Ok(config) => config,
                    Err(err) => {
                        problems.push(format!("{name}: the configuration does not load: {err}"));
                        continue;
                    }
                };
                problems.check(config.database.url.starts_with("postgres"), || {
                    format!(
                        "{name}: database.url must be PostgreSQL, got {:?}",
                        config.database.url
                    )
                });
                problems.check(config.blobs.uses_s3(), || {
                    format!("{name}: blobs must be S3 (shared by every pod)")
                });
                if sub == "migrate" {
                    problems.check(workload.kind == "Job", || {
                        format!("{name}: `triage migrate` belongs in a Job")
                    });
                    problems.check(
                        matches!(
                            workload.pod["restartPolicy"].as_str(),
                            Some("Never" | "OnFailure")
                        ),
                        || format!("{name}: a Job needs restartPolicy Never or OnFailure"),
                    );
                    continue;
                }
                problems.check(replicas_of(workload) < 2 || !config.database.migrate_on_start, || {
                    format!("{name}: several replicas: set TRIAGE__DATABASE__MIGRATE_ON_START=\"false\" (the Job migrates)")
                });
                if sub != "serve" {
                    continue;
                }
                problems.check(replicas_of(workload) >= 2, || {
                    format!("{name}: run two replicas or more")
                });
                let port = bind_port(&config.server.bind);
                let declared: Vec<Option<u16>> = items(&container.spec["ports"])
                    .iter()
                    .map(|p| u16::try_from(p["containerPort"].as_i64().unwrap_or(0)).ok())
                    .collect();
                problems.check(declared == [port], || {
                    format!(
                        "{name}: containerPort {declared:?} but server.bind is {}",
                        config.server.bind
                    )
                });
                problems.check(
                    port.is_some_and(|p| known.image.expose.contains(&p)),
                    || format!("{name}: port {port:?} is not in the Dockerfile's EXPOSE"),
                );
                problems.check(
                    probe("readinessProbe") == Some(("/ready".into(), port)),
                    || {
                        format!(
                            "{name}: readinessProbe should GET /ready on {port:?}, got {:?}",
                            probe("readinessProbe")
                        )
                    },
                );
                problems.check(
                    probe("livenessProbe") == Some(("/health".into(), port)),
                    || {
                        format!(
                            "{name}: livenessProbe should GET /health on {port:?}, got {:?}",
                            probe("livenessProbe")
                        )
                    },
                );
                let needed = TRIAGE_STOP_SECS + container.prestop_sleep();
                problems.check(grace >= needed, || {
                    format!(
                        "{name}: terminationGracePeriodSeconds {grace} < {needed} (stop + preStop)"
                    )
                });

                // The analysis and the callbacks.
                match cluster.resolve(&config.ml.url) {
                    Ok((target, port)) => {
                        let ml = cluster
                            .containers
                            .iter()
                            .find(|c| c.workload == target.name && c.role == Role::Ml);
                        match ml {
                            Some(ml) => {
                                let ml_port = known.ml_port(&known.process_env(&ml.values()));
                                problems.check(ml_port == Some(port), || {
                                    format!("{name}: ml.url reaches port {port}, triage-ml listens on {ml_port:?} (ML_BIND)")
                                });
                                let pairs = [
                                    ("TRIAGE__ML__TOKEN", "ML_SERVICE_TOKEN"),
                                    ("TRIAGE__BLOBS__ACCESS_KEY", "MINIO_ACCESS_KEY"),
                                    ("TRIAGE__BLOBS__SECRET_KEY", "MINIO_SECRET_KEY"),
                                ];
                                for (ours, theirs) in pairs {
                                    let (a, b) = (container.env.get(ours), ml.env.get(theirs));
                                    problems.check(a.is_some() && a.map(|v| &v.origin) == b.map(|v| &v.origin), || {
                                        format!("{name} {ours} and {} {theirs} must come from one secret key: {a:?} vs {b:?}", ml.workload)
                                    });
                                }
                                for (ours, theirs) in [
                                    (&config.blobs.endpoint, "MINIO_ENDPOINT"),
                                    (&config.blobs.bucket, "MINIO_BUCKET"),
                                ] {
                                    problems.check(ml.values().get(theirs) == Some(ours), || {
                                        format!(
                                            "{name} and {}: {theirs} should be {ours:?}",
                                            ml.workload
                                        )
                                    });
                                }
                            }
                            None => problems.push(format!(
                                "{name}: ml.url {} reaches {}, not triage-ml",
                                config.ml.url, target.name
                            )),
                        }
                    }
                    Err(err) => problems.push(format!("{name}: ml.url: {err}")),
                }
                match cluster.resolve(&config.ml.callback_url) {
                    Ok((target, port)) => problems.check(
                        target.name == workload.name
                            && Some(port) == bind_port(&config.server.bind),
                        || {
                            format!(
                                "{name}: ml.callback_url {} reaches {}:{port}, not the triage API",
                                config.ml.callback_url, target.name
                            )
                        },
                    ),
                    Err(err) => problems.push(format!("{name}: ml.callback_url: {err}")),
                }
                let cpu = scalar(&container.spec["resources"]["requests"]["cpu"]);
                problems.check(cpu.is_some(), || {
                    format!("{name}: the HPA scales on CPU: set resources.requests.cpu")
                });
            }
            Role::Ml => {
                let env = known.process_env(&container.values());
                let port = known.ml_port(&env);
                let declared: Vec<Option<u16>> = items(&container.spec["ports"])
                    .iter()
                    .map(|p| u16::try_from(p["containerPort"].as_i64().unwrap_or(0)).ok())
                    .collect();
                problems.check(declared == [port], || {
                    format!("{name}: containerPort {declared:?} but ML_BIND port {port:?}")
                });
                for which in ["readinessProbe", "livenessProbe"] {
                    problems.check(probe(which) == Some(("/health".into(), port)), || {
                        format!(
                            "{name}: {which} should GET /health on {port:?}, got {:?}",
                            probe(which)
                        )
                    });
                }
                let shutdown = known.ml_shutdown_secs(&env) + container.prestop_sleep();
                problems.check(grace > shutdown, || {
                    format!("{name}: terminationGracePeriodSeconds {grace} must exceed ML_SHUTDOWN_TIMEOUT_SECS ({shutdown})")
                });
                if let Some(url) = env.get("BACKEND_URL") {
                    match cluster.resolve(url) {
                        Ok((target, _)) => problems.check(
                            cluster.containers.iter().any(|c| {
                                c.workload == target.name && c.role == Role::Triage("serve".into())
                            }),
                            || format!("{name}: BACKEND_URL {url} does not reach the triage API"),
                        ),
                        Err(err) => problems.push(format!("{name}: BACKEND_URL: {err}")),
                    }
                }
            }
            Role::Other(_) => {}
        }
    }
    for role in [
        Role::Triage("serve".into()),
        Role::Triage("migrate".into()),
        Role::Ml,
    ] {
        problems.check(saw.contains(&role), || format!("no workload runs {role:?}"));
    }
    // Every Service picks one workload, and its targetPorts are ports of it.
    for service in cluster.services() {
        let name = service["metadata"]["name"].as_str().unwrap_or_default();
        for port in items(&service["spec"]["ports"]) {
            let url = format!("http://{name}:{}", port["port"].as_i64().unwrap_or(0));
            if let Err(err) = cluster.resolve(&url) {
                problems.push(format!("Service {name}: {err}"));
            }
        }
    }
    problems.assert_none("deploy/k8s: ports and probes");
}

#[test]
fn k8s_pods_run_restricted_and_the_autoscaler_has_a_target() {
    let known = Known::load();
    let cluster = Cluster::load(&known);
    let mut problems = Problems::default();
    let uid = known
        .image
        .user
        .as_deref()
        .and_then(|u| u.split(':').next())
        .and_then(|u| u.parse::<i64>().ok());
    for workload in &cluster.workloads {
        let pod = &workload.pod["securityContext"];
        let name = format!("{} {}", workload.kind, workload.name);
        for container in items(&workload.pod["containers"]) {
            let own = &container["securityContext"];
            let either = |key: &str| {
                if own[key].is_badvalue() {
                    pod[key].clone()
                } else {
                    own[key].clone()
                }
            };
            problems.check(either("runAsNonRoot").as_bool() == Some(true), || {
                format!("{name}: runAsNonRoot: true")
            });
            problems.check(
                either("runAsUser").as_i64().is_none_or(|u| Some(u) == uid),
                || format!("{name}: runAsUser should be the image's uid {uid:?}"),
            );
            problems.check(
                own["allowPrivilegeEscalation"].as_bool() == Some(false),
                || format!("{name}: allowPrivilegeEscalation: false"),
            );
            problems.check(words(&own["capabilities"]["drop"]) == ["ALL"], || {
                format!("{name}: capabilities.drop [ALL]")
            });
            problems.check(!either("seccompProfile")["type"].is_badvalue(), || {
                format!("{name}: a seccompProfile")
            });
            problems.check(
                !container["resources"]["limits"]["memory"].is_badvalue(),
                || format!("{name}: a memory limit"),
            );
        }
    }
    for workload in cluster.workloads.iter().filter(|w| w.kind != "Job") {
        let selector = labels(&workload.spec["selector"]["matchLabels"]);
        problems.check(
            !selector.is_empty()
                && selector
                    .iter()
                    .all(|(k, v)| workload.labels.get(k) == Some(v)),
            || {
                format!(
                    "{} {}: selector.matchLabels must match the pod labels",
                    workload.kind, workload.name
                )
            },
        );
    }
    let hpas: Vec<&Yaml> = cluster
        .docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"].as_str() == Some("HorizontalPodAutoscaler"))
        .collect();
    problems.check(!hpas.is_empty(), || "no HorizontalPodAutoscaler".into());
    for hpa in hpas {
        problems.check(hpa["apiVersion"].as_str() == Some("autoscaling/v2"), || {
            "HPA: use autoscaling/v2".into()
        });
        let target = &hpa["spec"]["scaleTargetRef"];
        let workload = target["name"].as_str().and_then(|n| cluster.workload(n));
        problems.check(
            workload.is_some_and(|w| Some(w.kind.as_str()) == target["kind"].as_str()),
            || format!("HPA: scaleTargetRef {target:?} is no workload here"),
        );
        problems.check(
            hpa["spec"]["minReplicas"].as_i64().unwrap_or(1) >= 2,
            || "HPA: minReplicas >= 2".into(),
        );
        let cpu = items(&hpa["spec"]["metrics"])
            .iter()
            .any(|m| m["resource"]["name"].as_str() == Some("cpu"));
        problems.check(cpu, || "HPA: scale on CPU".into());
    }
    problems.assert_none("deploy/k8s: security and scaling");
}
