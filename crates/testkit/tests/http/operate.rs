//! Running triage in front of the world: login rate limiting (per username and per client,
//! with `Retry-After`, over the app's clock), the JSON body limit, CORS from config, and the
//! single-page frontend from `web.static_dir`.

use std::time::Duration;

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use triage_app::auth::{LOGIN_CLIENT_FACTOR, LOGIN_USERNAME_FACTOR};
use triage_testkit::{TestApp, ok_json};

use crate::jobs_flow::assert_error;

/// POST /auth/login, through a proxy that says the client is `client` (only believed with
/// `server.trust_forwarded_for`).
async fn login_from(app: &TestApp, client: &str, username: &str, password: &str) -> Response {
    app.client
        .post(app.url("/api/auth/login"))
        .header("X-Forwarded-For", client)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Asserts a 429 `rate_limited` with a `Retry-After` of at most `window` seconds.
async fn assert_limited(response: Response, window: u64) -> u64 {
    let retry_after: u64 = response
        .headers()
        .get(header::RETRY_AFTER)
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=window).contains(&retry_after), "{retry_after}");
    let body = assert_error(response, 429, "rate_limited").await;
    assert!(
        body["message"].as_str().unwrap().contains("try again"),
        "{body}"
    );
    retry_after
}

#[tokio::test]
async fn failed_logins_lock_the_username_until_the_window_passes() {
    let Some(app) = crate::spawn_with(|c| {
        c.auth.login_max_failures = 3;
        c.auth.login_window_secs = 300;
        c.server.trust_forwarded_for = true;
    })
    .await
    else {
        return;
    };
    ok_json(app.register("victim", "right-password").await, 201).await;
    // Every attempt from another address: only the username's count matters here, and it
    // locks at LOGIN_USERNAME_FACTOR times the configured limit.
    let limit = 3 * LOGIN_USERNAME_FACTOR;
    for i in 1..=limit {
        let wrong = login_from(&app, &format!("198.51.100.{i}"), "victim", "wrong").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    let locked = login_from(&app, "198.51.100.50", "VICTIM", "right-password").await;
    assert!(assert_limited(locked, 300).await > 290);

    // Unknown usernames lock the same way: the limit tells nobody who exists.
    for i in 1..=limit {
        let wrong = login_from(&app, &format!("198.51.100.{}", 100 + i), "ghost", "x").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    assert_limited(login_from(&app, "198.51.100.200", "ghost", "x").await, 300).await;

    app.clock.advance(Duration::from_secs(290));
    let still = login_from(&app, "198.51.100.201", "victim", "right-password").await;
    assert_limited(still, 10).await;
    app.clock.advance(Duration::from_secs(10));
    let login = login_from(&app, "198.51.100.202", "victim", "right-password").await;
    assert_eq!(ok_json(login, 200).await["username"], "victim");
}

#[tokio::test]
async fn failed_logins_lock_the_client_whatever_the_username() {
    let Some(app) = crate::spawn_with(|c| {
        c.auth.login_max_failures = 1;
        c.auth.login_window_secs = 60;
    })
    .await
    else {
        return;
    };
    let alice = app.new_user().await;
    // A client locks at LOGIN_CLIENT_FACTOR times the configured limit.
    for i in 0..LOGIN_CLIENT_FACTOR {
        let name = format!("guess{i}");
        assert_error(app.login(&name, "x").await, 401, "invalid_credentials").await;
    }
    // Locked before the password is looked at, even for a right one.
    assert_limited(app.login(&alice.username, &alice.password).await, 60).await;
    // Without trust_forwarded_for a client cannot claim another address.
    let spoofed = login_from(&app, "203.0.113.77", &alice.username, &alice.password).await;
    assert_limited(spoofed, 60).await;
    // Other routes are not limited.
    ok_json(app.get("/auth/me", &alice).await, 200).await;

    app.clock.advance(Duration::from_secs(60));
    ok_json(app.login(&alice.username, &alice.password).await, 200).await;
}

#[tokio::test]
async fn a_trusted_proxy_header_tells_clients_apart() {
    let Some(app) = crate::spawn_with(|c| {
        c.auth.login_max_failures = 1;
        c.server.trust_forwarded_for = true;
    })
    .await
    else {
        return;
    };
    let alice = app.new_user().await;
    for i in 0..LOGIN_CLIENT_FACTOR {
        let wrong = login_from(&app, "192.0.2.10", &format!("guess{i}"), "x").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    let locked = login_from(&app, "192.0.2.10", &alice.username, &alice.password).await;
    assert_limited(locked, 300).await;
    let other = login_from(&app, "192.0.2.11", &alice.username, &alice.password).await;
    ok_json(other, 200).await;
}

#[tokio::test]
async fn a_successful_login_resets_the_username_count() {
    let Some(app) = crate::spawn_with(|c| {
        c.auth.login_max_failures = 3;
        c.server.trust_forwarded_for = true;
    })
    .await
    else {
        return;
    };
    ok_json(app.register("forgetful", "right-password").await, 201).await;
    // Every attempt from one address: the count of the username at that address locks first.
    let next_client = || "10.1.0.1".to_owned();
    for _ in 0..2 {
        let wrong = login_from(&app, &next_client(), "forgetful", "wrong").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    let right = login_from(&app, &next_client(), "forgetful", "right-password").await;
    ok_json(right, 200).await;
    for _ in 0..2 {
        let wrong = login_from(&app, &next_client(), "forgetful", "wrong").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    // Two failures since the success: still below the limit of three.
    let right = login_from(&app, &next_client(), "forgetful", "right-password").await;
    ok_json(right, 200).await;
    for _ in 0..3 {
        let wrong = login_from(&app, &next_client(), "forgetful", "wrong").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    let locked = login_from(&app, &next_client(), "forgetful", "right-password").await;
    assert_limited(locked, 300).await;
}

/// A whole clinic behind one proxy: an attacker there guessing one account must lock out
/// neither the other users at that address nor the account's owner elsewhere.
#[tokio::test]
async fn a_brute_forced_user_does_not_lock_out_others_from_the_same_address() {
    const OFFICE: &str = "203.0.113.5";
    let Some(app) = crate::spawn_with(|c| {
        c.auth.login_max_failures = 3;
        c.server.trust_forwarded_for = true;
    })
    .await
    else {
        return;
    };
    ok_json(app.register("target", "target-password").await, 201).await;
    ok_json(app.register("colleague", "colleague-password").await, 201).await;
    for _ in 0..3 {
        let wrong = login_from(&app, OFFICE, "target", "guess").await;
        assert_error(wrong, 401, "invalid_credentials").await;
    }
    // The attacker keeps going and is refused without a password check.
    for _ in 0..10 {
        assert_limited(login_from(&app, OFFICE, "target", "guess").await, 300).await;
    }
    let colleague = login_from(&app, OFFICE, "colleague", "colleague-password").await;
    assert_eq!(ok_json(colleague, 200).await["username"], "colleague");
    let owner_at_home = login_from(&app, "198.51.100.77", "target", "target-password").await;
    assert_eq!(ok_json(owner_at_home, 200).await["username"], "target");
}

#[tokio::test]
async fn json_bodies_over_the_limit_are_413_and_uploads_keep_their_own_limit() {
    let Some(app) = crate::spawn_with(|c| c.server.json_limit = 1024).await else {
        return;
    };
    let big = json!({"username": "a".repeat(2000), "password": "x"});
    for path in ["/auth/login", "/api/auth/register"] {
        let response = app
            .client
            .post(app.url(path))
            .json(&big)
            .send()
            .await
            .unwrap();
        let body = assert_error(response, 413, "payload_too_large").await;
        assert!(
            body["message"].as_str().unwrap().contains("1024 bytes"),
            "{body}"
        );
    }
    // Just under the limit is read (and refused for what it says).
    let small = json!({"username": "a".repeat(900), "password": "x"});
    let response = app
        .client
        .post(app.url("/auth/login"))
        .json(&small)
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "invalid_credentials").await;
    // A multipart upload of ~900 KB is not a JSON body.
    let alice = app.new_user().await;
    ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).map(|v| v.to_str().unwrap())
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap()
}

async fn get_from(app: &TestApp, path: &str, origin: &str) -> Response {
    app.client
        .get(app.url(path))
        .header("Origin", origin)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    const ORIGIN: &str = "https://triage.example.org";
    const EVIL: &str = "https://evil.example.com";
    let Some(app) = crate::spawn_with(|c| {
        c.cors.allowed_origins = vec![ORIGIN.to_owned()];
        c.cors.allow_credentials = true;
    })
    .await
    else {
        return;
    };

    let ok = preflight(&app, "/api/auth/login", ORIGIN).await;
    assert_eq!(ok.status(), 204);
    let headers = ok.headers();
    assert_eq!(
        header_text(headers, "access-control-allow-origin"),
        Some(ORIGIN)
    );
    assert_eq!(
        header_text(headers, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(
        header_text(headers, "access-control-allow-methods")
            .unwrap()
            .contains("POST")
    );
    assert!(
        header_text(headers, "access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    assert!(
        headers
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("Origin"))
    );

    let refused = preflight(&app, "/api/auth/login", EVIL).await;
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_error(refused, 403, "origin_not_allowed").await;

    // Real requests: the allowed origin may read the answer and the exposed headers, errors
    // included; another origin gets the answer without the header its browser needs.
    let health = get_from(&app, "/health", ORIGIN).await;
    assert_eq!(health.status(), 200);
    assert_eq!(
        header_text(health.headers(), "access-control-allow-origin"),
        Some(ORIGIN)
    );
    let exposed = header_text(health.headers(), "access-control-expose-headers").unwrap();
    for name in ["Retry-After", "Content-Disposition", "X-Request-Id"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    let unauthenticated = get_from(&app, "/api/jobs", ORIGIN).await;
    assert_eq!(
        header_text(unauthenticated.headers(), "access-control-allow-origin"),
        Some(ORIGIN)
    );
    assert_error(unauthenticated, 401, "unauthenticated").await;

    let evil = get_from(&app, "/health", EVIL).await;
    assert_eq!(evil.status(), 200);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    // Same-origin and non-browser requests carry no Origin and are left alone.
    let plain = app.client.get(app.url("/health")).send().await.unwrap();
    assert!(plain.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn cors_defaults_any_origin_without_credentials_and_can_be_off() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let ok = preflight(&app, "/auth/login", "http://localhost:5173").await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        header_text(ok.headers(), "access-control-allow-origin"),
        Some("*")
    );
    assert!(
        ok.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    let health = get_from(&app, "/health", "http://localhost:5173").await;
    assert_eq!(
        header_text(health.headers(), "access-control-allow-origin"),
        Some("*")
    );

    let Some(closed) = crate::spawn_with(|c| c.cors.allowed_origins.clear()).await else {
        return;
    };
    let preflight = preflight(&closed, "/auth/login", "http://localhost:5173").await;
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_ne!(preflight.status(), 204);
    let health = get_from(&closed, "/health", "http://localhost:5173").await;
    assert!(
        health
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[test]
fn production_config_allows_no_origin_and_wildcards_refuse_credentials() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let figment = triage_server::Config::figment(&dir, "production")
        .merge(("auth.jwt_secret", "p".repeat(32)));
    let config = triage_server::Config::from_figment(figment, "production").unwrap();
    assert!(
        config.cors.allowed_origins.is_empty(),
        "{:?}",
        config.cors.allowed_origins
    );

    let config = triage_server::Config::embedded_defaults().unwrap();
    assert_eq!(config.cors.allowed_origins, ["*"]);
    assert!(!config.cors.allow_credentials);
    let careless =
        triage_server::Config::figment(&dir, "test").merge(("cors.allow_credentials", true));
    let err = triage_server::Config::from_figment(careless, "test").unwrap_err();
    assert!(err.to_string().contains("cors.allow_credentials"), "{err}");
    let typo = triage_server::Config::figment(&dir, "test")
        .merge(("cors.allowed_origins", ["triage.example.org"]));
    let err = triage_server::Config::from_figment(typo, "test").unwrap_err();
    assert!(err.to_string().contains("cors.allowed_origins"), "{err}");
}

/// A built frontend: `index.html`, two assets, and beside it (outside) a secret.
struct Site {
    _root: tempfile::TempDir,
    dir: std::path::PathBuf,
}

const INDEX: &str = "<!doctype html><title>triage</title><div id=root></div>";
const SECRET: &str = "the secret outside the static dir";

fn site() -> Site {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("secret.txt"), SECRET).unwrap();
    let dir = root.path().join("dist");
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/app-1a2b.js"), "console.log('triage');").unwrap();
    std::fs::write(dir.join("assets/app-1a2b.css"), "body{margin:0}").unwrap();
    std::fs::write(dir.join("favicon.png"), [0x89, b'P', b'N', b'G']).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), dir.join("leak.txt")).unwrap();
    Site { _root: root, dir }
}

async fn get(app: &TestApp, path: &str) -> Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

async fn assert_page(response: Response, what: &str) {
    assert_eq!(response.status(), 200, "{what}");
    assert_eq!(
        header_text(response.headers(), "content-type"),
        Some("text/html; charset=utf-8"),
        "{what}"
    );
    assert_eq!(
        header_text(response.headers(), "cache-control"),
        Some("no-cache"),
        "{what}"
    );
    assert_eq!(response.text().await.unwrap(), INDEX, "{what}");
}

#[tokio::test]
async fn the_static_dir_serves_the_frontend_and_the_api_keeps_its_paths() {
    let site = site();
    let dir = site.dir.to_string_lossy().into_owned();
    let Some(app) = crate::spawn_with(|c| c.web.static_dir = dir).await else {
        return;
    };
    for path in [
        "/",
        "/index.html",
        "/dashboard",
        "/dashboard/jobs/42",
        "/login?next=%2F",
    ] {
        assert_page(get(&app, path).await, path).await;
    }
    // A dotted client route still gets the page when a browser asks for HTML.
    let browser = app
        .client
        .get(app.url("/reports/2026.11"))
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_page(browser, "/reports/2026.11").await;

    for (path, content_type, body) in [
        (
            "/assets/app-1a2b.js",
            "text/javascript; charset=utf-8",
            "console.log('triage');",
        ),
        (
            "/assets/app-1a2b.css",
            "text/css; charset=utf-8",
            "body{margin:0}",
        ),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header_text(response.headers(), "content-type"),
            Some(content_type)
        );
        assert_eq!(
            header_text(response.headers(), "x-content-type-options"),
            Some("nosniff")
        );
        assert_eq!(response.text().await.unwrap(), body);
    }
    let png = get(&app, "/favicon.png").await;
    assert_eq!(
        header_text(png.headers(), "content-type"),
        Some("image/png")
    );
    assert_eq!(png.bytes().await.unwrap().len(), 4);
    let head = app.client.head(app.url("/")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        header_text(head.headers(), "content-length"),
        Some(INDEX.len().to_string().as_str())
    );

    // A missing asset is a 404, not a page the browser would try to run.
    assert_error(get(&app, "/assets/missing.js").await, 404, "not_found").await;
    // The API keeps its answers, and its JSON 404s for API-looking paths.
    assert_error(get(&app, "/api/jobs").await, 401, "unauthenticated").await;
    assert_error(get(&app, "/jobs").await, 401, "unauthenticated").await;
    for path in [
        "/jobs/x/y/z",
        "/api/nothing",
        "/api/dashboard",
        "/auth/nope",
    ] {
        assert_error(get(&app, path).await, 404, "not_found").await;
    }
    assert_eq!(
        ok_json(get(&app, "/health").await, 200).await["status"],
        "healthy"
    );
    let post = app.client.post(app.url("/dashboard")).send().await.unwrap();
    assert_error(post, 404, "not_found").await;
}

#[tokio::test]
async fn the_static_dir_never_serves_a_file_outside_it() {
    let site = site();
    let dir = site.dir.to_string_lossy().into_owned();
    let Some(app) = crate::spawn_with(|c| c.web.static_dir = dir).await else {
        return;
    };
    for path in [
        "/..%2fsecret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/assets%2f..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/leak.txt",
        "/.%2e/secret.txt",
    ] {
        let response = get(&app, path).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(!text.contains(SECRET), "{path} leaked: {text}");
        assert_eq!(status, 404, "{path}: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
    }
}

#[test]
fn a_static_dir_without_index_html_is_a_config_error() {
    let empty = tempfile::tempdir().unwrap();
    let mut config = triage_server::Config::embedded_defaults().unwrap();
    config.auth.jwt_secret = "s".repeat(32).into();
    config.web.static_dir = empty.path().to_string_lossy().into_owned();
    let err = triage_server::wiring::settings(&config, None).unwrap_err();
    assert!(err.to_string().contains("web.static_dir"), "{err}");
    config.web.static_dir = String::new();
    assert!(triage_server::wiring::settings(&config, None).is_ok());
}
