//! The Kubernetes workloads: probes, ports and URLs between them, security contexts and the
//! autoscaler.

use std::collections::BTreeSet;

use yaml_rust2::Yaml;

use crate::Problems;
use crate::env::{Known, Role, TRIAGE_STOP_SECS, load_config};
use crate::k8s::{Cluster, Workload, labels};
use crate::ports::bind_port;
use crate::yaml::{items, scalar, words};

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
