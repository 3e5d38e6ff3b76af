//! What the process-level tests share: a free port, a child process that dies with the
//! test, waiting for `/health`, and a signed-up user.

// Each test binary uses its own subset.
#![allow(dead_code)]

pub mod tree;

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process, killed when the test ends however it ends.
pub struct Process(pub Child);

impl Process {
    /// SIGKILL, and reap it.
    pub fn kill_9(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A client that ignores proxy settings of the environment.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Polls `{base}/health` until it answers 2xx (the failure bound is 30 s).
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "{base} never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Registers `radiologist` with `password` and returns an access token.
pub async fn sign_up(client: &reqwest::Client, base: &str, password: &str) -> String {
    let user = json!({"username": "radiologist", "password": password});
    let created = client
        .post(format!("{base}/auth/register"))
        .json(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}
