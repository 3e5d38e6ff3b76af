//! deploy/Dockerfile and its `.dockerignore`: both binaries built, run as non-root, the
//! ports exposed, and the build context keeps what the build needs.

use std::collections::{BTreeMap, BTreeSet};

use crate::env::{Known, Role, load_config};
use crate::ports::bind_port;
use crate::{Problems, deploy_dir, read, root};

/// The parts of deploy/Dockerfile the checks need (`ENV`, `EXPOSE`, … of the final stage).
#[derive(Debug, Default, Clone)]
pub(crate) struct Dockerfile {
    stages: Vec<String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) expose: BTreeSet<u16>,
    entrypoint: Vec<String>,
    pub(crate) cmd: Vec<String>,
    pub(crate) user: Option<String>,
    /// `COPY` arguments of the final stage.
    copies: Vec<Vec<String>>,
    /// `RUN` commands of every stage.
    runs: Vec<String>,
}

impl Dockerfile {
    pub(crate) fn load() -> Self {
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
