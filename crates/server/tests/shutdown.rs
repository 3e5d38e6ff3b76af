//! SIGTERM of a real `triage serve`: an upload in flight still finishes, the dispatch loop
//! gives its leases back (a handover stuck in `/infer` included), and the process exits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream;
use serde_json::Value;
use triage_blob_fs::FsBlobStore;
use triage_domain::JobId;
use triage_domain::ports::JobStore;
use triage_store_diesel::{PoolOptions, SqliteStore};
use triage_testkit::ml_server::{Behaviour, ScriptedMl};
use triage_testkit::zips::tiny_dicom;

use support::{free_port, http_client, sign_up, wait_healthy};

const TOKEN: &str = "shutdown-test-ml-token-0123456789";
const SECRET: &str = "shutdown-test-jwt-secret-0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_uploads_finish_and_releases_leases() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let ml = ScriptedMl::start(Arc::new(blobs), TOKEN).await;
    ml.set_default(Behaviour::hang(Duration::from_secs(120)));
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .current_dir(dir.path())
        .env("TRIAGE_CONFIG_DIR", dir.path().join("no-config"))
        .env("TRIAGE_ENV", "test")
        .env("TRIAGE__DATA_DIR", dir.path())
        .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TRIAGE__AUTH__JWT_SECRET", SECRET)
        .env("TRIAGE__ML__URL", ml.url())
        .env("TRIAGE__ML__TOKEN", TOKEN)
        .env("TRIAGE__ML__POLL_INTERVAL_MS", "50")
        .env_remove("DATABASE_URL")
        .env_remove("ML_SERVICE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = http_client();
    wait_healthy(&http, &base).await;
    let token = sign_up(&http, &base, "secret-password").await;

    // A job stuck inside /infer: its queue entry is leased.
    let part = reqwest::multipart::Part::bytes(tiny_dicom()).file_name("a.dcm");
    let first: Value = http
        .post(format!("{base}/jobs"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let first: JobId = first["id"].as_str().unwrap().parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ml.in_flight() == 0 {
        assert!(Instant::now() < deadline, "never dispatched");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // An upload that trickles in: the signal arrives half-way through its body.
    let (sent_half, half) = tokio::sync::oneshot::channel::<()>();
    let body = tiny_dicom();
    let middle = body.len() / 2;
    let chunks = vec![body[..middle].to_vec(), body[middle..].to_vec()];
    let mut sent_half = Some(sent_half);
    let slow = stream::unfold((chunks.into_iter(), 0), move |(mut rest, n)| {
        let signal = if n == 1 { sent_half.take() } else { None };
        async move {
            if let Some(signal) = signal {
                let _ = signal.send(());
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            rest.next()
                .map(|chunk| (Ok::<_, std::io::Error>(chunk), (rest, n + 1)))
        }
    });
    let length = body.len() as u64;
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(slow), length)
            .file_name("b.dcm");
    let upload = http
        .post(format!("{base}/jobs"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send();
    let upload = tokio::spawn(upload);
    half.await.unwrap();
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());

    let answer = upload.await.unwrap().unwrap();
    assert_eq!(answer.status(), 201, "the upload in flight finished");
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exited.success(), "{exited:?}");

    let store = SqliteStore::open(&dir.path().join("triage.db"), &PoolOptions::default())
        .await
        .unwrap();
    let entry = store
        .queue_entry(first)
        .await
        .unwrap()
        .expect("still queued");
    assert_eq!(entry.lease_owner, None, "the lease went back at shutdown");
}
