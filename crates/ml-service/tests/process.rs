//! The real `triage-ml` binary: configured from the environment only (the legacy names), it
//! answers `/health` on its port and stops on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(port: u16, dir: &std::path::Path, extra: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_triage-ml"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ML_BIND", format!("127.0.0.1:{port}"))
        .env("ML_SERVICE_TOKEN", "process-test-token-0123456789")
        .env("ML_BLOBS_DIR", dir.join("blobs"))
        .env("ML_TMP_DIR", dir.join("tmp"))
        .env("BACKEND_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra {
        command.env(name, value);
    }
    command.spawn().expect("triage-ml starts")
}

/// Waits for `child` to exit within `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn the_binary_serves_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = spawn(port, dir.path(), &[("ML_SYNC", "true")]);
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/health");
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        if let Ok(response) = client.get(&url).send().await {
            break response.json::<serde_json::Value>().await.unwrap();
        }
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "triage-ml exited with {status}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(Instant::now() < deadline, "triage-ml never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["model_loaded"], true);
    assert_eq!(health["mode"], "sync");

    // Unauthenticated /infer is refused by the real binary too.
    let refused = client
        .post(format!("http://127.0.0.1:{port}/infer"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(30)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("triage-ml ignored SIGTERM")
    });
    assert!(status.success(), "{status}");
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout);
    assert!(logs.contains("triage-ml is listening"), "{logs}");
    assert!(logs.contains("triage-ml stopped"), "{logs}");
    assert!(
        !logs.contains("process-test-token-0123456789"),
        "the token leaked into the logs"
    );
}

#[test]
fn the_binary_refuses_to_start_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn(free_port(), dir.path(), &[("ML_SERVICE_TOKEN", "")]);
    let status = wait_exit(&mut child, Duration::from_secs(30)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("triage-ml started without a token")
    });
    assert_eq!(status.code(), Some(2));
    let output = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("ML_SERVICE_TOKEN"));
}
