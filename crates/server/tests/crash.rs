//! `kill -9` of a real `triage serve` process while jobs are with the analysis, then a
//! restart: every job still ends terminal, with its results stored once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use triage_blob_fs::FsBlobStore;
use triage_testkit::ml_server::{Behaviour, ScriptedMl};
use triage_testkit::zips::tiny_dicom;

use support::{Process, free_port, http_client, sign_up, wait_healthy};

const TOKEN: &str = "crash-test-ml-token-0123456789";
const SECRET: &str = "crash-test-jwt-secret-0123456789abcdef";

fn start(dir: &Path, port: u16, ml_url: &str) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_triage"))
            .arg("serve")
            .current_dir(dir)
            .env("TRIAGE_CONFIG_DIR", dir.join("no-config"))
            .env("TRIAGE_ENV", "test")
            .env("TRIAGE__DATA_DIR", dir)
            .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("TRIAGE__SERVER__WORKERS", "2")
            .env("TRIAGE__AUTH__JWT_SECRET", SECRET)
            .env("TRIAGE__ML__URL", ml_url)
            .env("TRIAGE__ML__TOKEN", TOKEN)
            .env("TRIAGE__ML__PROCESSING_TIMEOUT_SECS", "3")
            .env("TRIAGE__ML__POLL_INTERVAL_MS", "100")
            .env("TRIAGE__ML__MAX_IN_FLIGHT", "16")
            .env_remove("DATABASE_URL")
            .env_remove("ML_SERVICE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start triage"),
    )
}

async fn jobs(client: &reqwest::Client, base: &str, token: &str) -> Vec<Value> {
    let answer = client
        .get(format!("{base}/jobs?limit=500"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    answer
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_leaves_no_job_behind() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let ml = ScriptedMl::start(Arc::new(blobs), TOKEN).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    let mut triage = start(dir.path(), port, &ml.url());
    wait_healthy(&client, &base).await;
    let token = sign_up(&client, &base, "secret-password").await;

    let upload = async |client: &reqwest::Client| {
        let part = reqwest::multipart::Part::bytes(tiny_dicom()).file_name("slice.dcm");
        let form = reqwest::multipart::Form::new().part("file", part);
        let answer = client
            .post(format!("{base}/jobs"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 201);
    };

    // Two jobs caught inside /infer, six accepted whose callbacks will be lost.
    ml.set_default(Behaviour::hang(Duration::from_secs(60)));
    for _ in 0..2 {
        upload(&client).await;
    }
    wait_until("two calls in flight", async || ml.in_flight() == 2).await;
    ml.set_default(Behaviour::accept());
    for _ in 0..6 {
        upload(&client).await;
    }
    wait_until("six accepted", async || {
        let all = jobs(&client, &base, &token).await;
        all.iter().filter(|j| j["status"] == "processing").count() == 8
            && all.iter().filter(|j| j["attempts"] == 1).count() == 6
    })
    .await;

    triage.kill_9();
    ml.set_default(Behaviour::complete_sync());
    let mut triage = start(dir.path(), port, &ml.url());
    wait_healthy(&client, &base).await;

    // Half of the accepted jobs get their (late) callback; the rest are left to the watchdog.
    let all = jobs(&client, &base, &token).await;
    let accepted: Vec<String> = all
        .iter()
        .filter(|j| j["attempts"] == 1)
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &accepted[..3] {
        assert_eq!(ml.complete(id).await.status, Some(200));
    }
    wait_until("every job terminal", async || {
        jobs(&client, &base, &token)
            .await
            .iter()
            .all(|j| j["status"] == "succeeded")
    })
    .await;

    for job in jobs(&client, &base, &token).await {
        let id = job["id"].as_str().unwrap();
        let report = client
            .get(format!("{base}/jobs/{id}/results.xlsx"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(report.status(), 200, "{job}");
        // One report object per job, under its own key.
        assert!(dir.path().join(format!("blobs/results/{id}.xlsx")).exists());
    }
    let reports = std::fs::read_dir(dir.path().join("blobs/results"))
        .unwrap()
        .count();
    assert_eq!(reports, 8);
    triage.kill_9();
}
