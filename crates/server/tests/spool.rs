//! Spool files of a killed run: a real `triage serve` is killed with SIGKILL in the middle of
//! an upload, which leaves its temp file behind; the next start removes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Process, free_port, http_client, sign_up, wait_healthy};

fn start(dir: &Path, port: u16) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_triage"))
            .arg("serve")
            .current_dir(dir)
            .env("TRIAGE_CONFIG_DIR", dir.join("no-config"))
            .env("TRIAGE_ENV", "test")
            .env("TRIAGE__DATA_DIR", dir)
            .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("TRIAGE__SERVER__WORKERS", "1")
            .env(
                "TRIAGE__AUTH__JWT_SECRET",
                "spool-test-jwt-secret-0123456789abcdef",
            )
            .env("TRIAGE__ML__DISPATCH", "false")
            .env_remove("DATABASE_URL")
            .env_remove("ML_SERVICE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start triage"),
    )
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("tmp"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("upload-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_sweeps_the_spool_of_a_killed_run() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    let mut triage = start(dir.path(), port);
    wait_healthy(&client, &base).await;
    let token = sign_up(&client, &base, "secret-password").await;

    // A multipart upload whose body stops half-way and stays open.
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let upload = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/jobs");
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "multipart/form-data; boundary=XyZ")
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
        }
    });
    let head = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\
                Content-Type: application/zip\r\n\r\n";
    tx.send(head.as_bytes().to_vec()).await.unwrap();
    tx.send(vec![b'P'; 512 * 1024]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while spool_files(dir.path()).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the upload never reached the spool"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    triage.kill_9();
    drop(tx);
    let _ = upload.await;
    let left = spool_files(dir.path());
    assert_eq!(
        left.len(),
        1,
        "the killed run left its spool file: {left:?}"
    );

    let _triage = start(dir.path(), port);
    wait_healthy(&client, &base).await;
    assert_eq!(spool_files(dir.path()), Vec::<PathBuf>::new());
}
