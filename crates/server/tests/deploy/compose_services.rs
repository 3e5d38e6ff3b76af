//! The compose services together: configuration, URLs between them, ports, health checks
//! and start order.

use std::collections::BTreeSet;

use secrecy::ExposeSecret;

use crate::Problems;
use crate::compose::Compose;
use crate::env::{Known, Role, TRIAGE_STOP_SECS, image_repo, load_config};
use crate::ports::{bind_port, url_parts};
use crate::yaml::{entries, items, scalar, words};

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
            (
                "TRIAGE__ML__TOKEN",
                &config.ml.token.expose_secret().to_owned(),
                "ML_SERVICE_TOKEN",
            ),
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
                &config.blobs.secret_key.expose_secret().to_owned(),
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
