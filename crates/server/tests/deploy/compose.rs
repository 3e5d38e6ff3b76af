//! deploy/compose.yaml, interpolated from deploy/.env.example, and the settings it sets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use yaml_rust2::Yaml;

use crate::env::{Known, Role};
use crate::ports::{duration_secs, url_parts};
use crate::yaml::{entries, items, load_yaml, scalar, words};
use crate::{Problems, deploy_dir, read, root};

pub(crate) struct Compose {
    /// compose.yaml, interpolated, merge keys applied.
    pub(crate) doc: Yaml,
    pub(crate) services: BTreeMap<String, Service>,
    /// Variables of deploy/.env.example.
    example: BTreeMap<String, String>,
    /// Variables compose.yaml interpolates.
    used: BTreeSet<String>,
    /// Interpolation problems.
    problems: Vec<String>,
}

pub(crate) struct Service {
    pub(crate) spec: Yaml,
    pub(crate) role: Role,
    /// The service's own `environment`, interpolated.
    pub(crate) env: BTreeMap<String, String>,
    /// `expose` and the container side of `ports`.
    pub(crate) listens: BTreeSet<u16>,
    /// `depends_on`: service → condition.
    pub(crate) depends_on: BTreeMap<String, String>,
}

impl Service {
    pub(crate) fn healthcheck(&self) -> Vec<String> {
        words(&self.spec["healthcheck"]["test"])
    }

    pub(crate) fn grace_secs(&self) -> u64 {
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
    pub(crate) fn load(known: &Known) -> Self {
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

    pub(crate) fn with_role(&self, role: Role) -> impl Iterator<Item = (&String, &Service)> {
        self.services.iter().filter(move |(_, s)| s.role == role)
    }

    pub(crate) fn ml_services(&self) -> Vec<(&String, &Service)> {
        self.with_role(Role::Ml).collect()
    }

    /// `None` when `url` names a compose service and a port it listens on; else the problem.
    pub(crate) fn url_problem(&self, what: &str, url: &str) -> Option<String> {
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
