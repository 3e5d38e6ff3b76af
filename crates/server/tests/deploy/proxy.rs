//! The nginx proxy in front of the compose replicas: upstreams, uploads, WebSockets, the
//! client address and the internal callback.

use std::collections::{BTreeMap, BTreeSet};

use crate::compose::Compose;
use crate::env::{Known, Role, load_config};
use crate::ports::{bind_port, url_parts};
use crate::yaml::{items, scalar};
use crate::{Problems, deploy_dir, nginx, read};

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
