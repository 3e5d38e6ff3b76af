//! The Kubernetes manifests under deploy/k8s: ConfigMaps, Secrets, workloads and their
//! containers' environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use yaml_rust2::Yaml;

use crate::env::{Known, Role, image_repo};
use crate::ports::url_parts;
use crate::yaml::{entries, items, load_yaml, scalar, words, yaml_files};
use crate::{Problems, deploy_dir};

/// An environment variable of a container: where it comes from, and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnvValue {
    pub(crate) origin: String,
    value: String,
}

pub(crate) struct Workload {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) spec: Yaml,
    /// The pod template's spec.
    pub(crate) pod: Yaml,
    pub(crate) labels: BTreeMap<String, String>,
}

pub(crate) struct Container {
    pub(crate) workload: String,
    pub(crate) spec: Yaml,
    pub(crate) role: Role,
    pub(crate) env: BTreeMap<String, EnvValue>,
}

impl Container {
    pub(crate) fn values(&self) -> BTreeMap<String, String> {
        self.env
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect()
    }

    /// containerPort of a port name or number.
    pub(crate) fn port(&self, port: &Yaml) -> Option<u16> {
        if let Some(number) = port.as_i64() {
            return u16::try_from(number).ok();
        }
        let name = port.as_str()?;
        items(&self.spec["ports"])
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| u16::try_from(p["containerPort"].as_i64()?).ok())
    }

    pub(crate) fn prestop_sleep(&self) -> u64 {
        let command = words(&self.spec["lifecycle"]["preStop"]["exec"]["command"]);
        match command.as_slice() {
            [sleep, secs] if sleep == "sleep" => secs.parse().unwrap_or(0),
            _ => 0,
        }
    }
}

pub(crate) struct Cluster {
    pub(crate) docs: Vec<(PathBuf, Yaml)>,
    config_maps: BTreeMap<String, BTreeMap<String, Yaml>>,
    secrets: BTreeMap<String, BTreeMap<String, Yaml>>,
    pub(crate) workloads: Vec<Workload>,
    pub(crate) containers: Vec<Container>,
    problems: Vec<String>,
}

pub(crate) fn labels(node: &Yaml) -> BTreeMap<String, String> {
    entries(node)
        .into_iter()
        .filter_map(|(k, v)| Some((k, scalar(v)?)))
        .collect()
}

impl Cluster {
    pub(crate) fn load(known: &Known) -> Self {
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

    pub(crate) fn workload(&self, name: &str) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.name == name)
    }

    pub(crate) fn services(&self) -> impl Iterator<Item = &Yaml> {
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
    pub(crate) fn resolve(&self, url: &str) -> Result<(&Workload, u16), String> {
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
