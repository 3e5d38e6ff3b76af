//! The logs of a whole job's life from the real binary in production mode (JSON lines): the
//! request id is on the lines of its request, the job id on the lines about the job, and no
//! token, password, secret or URL signature appears anywhere.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{free_port, http_client, sign_up, wait_healthy};

const SECRET: &str = "logs-test-jwt-secret-0123456789abcdef";
const PASSWORD: &str = "pw-Very-Secret-4711";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_life_is_traceable_and_leaks_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = dir.path().join("triage.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .current_dir(dir.path())
        .env("TRIAGE_CONFIG_DIR", dir.path().join("no-config"))
        .env("TRIAGE_ENV", "production")
        .env("TRIAGE__DATA_DIR", dir.path())
        .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TRIAGE__SERVER__WORKERS", "2")
        .env("TRIAGE__AUTH__JWT_SECRET", SECRET)
        .env(
            "TRIAGE__LOG__FILTER",
            "debug,h2=info,hyper=info,reqwest=info",
        )
        .env("TRIAGE__ML__POLL_INTERVAL_MS", "50")
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("ML_SERVICE_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    wait_healthy(&client, &base).await;
    let token = sign_up(&client, &base, PASSWORD).await;

    let bytes = std::fs::read(triage_testkit::fixture("ct-normal.zip")).unwrap();
    let part = reqwest::multipart::Part::bytes(bytes).file_name("ct-normal.zip");
    let answer = client
        .post(format!("{base}/api/jobs"))
        .bearer_auth(&token)
        .header("X-Request-Id", "upload-req-42")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "upload-req-42");
    let job: Value = answer.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job: Value = client
            .get(format!("{base}/jobs/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] == "succeeded" {
            break;
        }
        assert!(Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A signed download URL and a token in a WebSocket-style query string.
    let part = reqwest::multipart::Part::bytes(b"notes".to_vec()).file_name("notes.txt");
    client
        .post(format!("{base}/upload"))
        .bearer_auth(&token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    let url: Value = client
        .get(format!("{base}/files/notes.txt/url"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = url["url"].as_str().unwrap().to_owned();
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
    let signature = url.split("signature=").nth(1).unwrap().to_owned();
    client
        .get(format!("{base}/jobs/{id}?token={token}"))
        .send()
        .await
        .unwrap();
    // A bad ML callback token.
    client
        .post(format!("{base}/internal/jobs/{id}/completion"))
        .header("Authorization", "Bearer leaked-callback-token-998877")
        .json(&json!({"status": "succeeded"}))
        .send()
        .await
        .unwrap();

    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(lines.len() > 10, "{text}");

    let of_upload: Vec<&Value> = lines
        .iter()
        .filter(|l| l.to_string().contains("upload-req-42"))
        .collect();
    assert!(!of_upload.is_empty(), "no line carries the request id");
    assert!(
        of_upload
            .iter()
            .any(|l| l["route"] == "/jobs" && l["status"] == 201),
        "the access line of the upload: {of_upload:?}"
    );
    let of_job = lines.iter().filter(|l| l.to_string().contains(&id)).count();
    assert!(of_job >= 2, "lines about the job name it: {text}");
    for secret in [
        token.as_str(),
        PASSWORD,
        SECRET,
        signature.as_str(),
        "leaked-callback-token-998877",
    ] {
        assert!(!text.contains(secret), "the log leaks {secret:?}");
    }
}

/// Anyone can send broken HTTP; the framework's ERROR line per refused connection must not
/// reach the log (they are summarised at WARN once a minute instead).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_do_not_flood_the_error_log() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log_path = dir.path().join("triage.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_triage"))
        .current_dir(dir.path())
        .env("TRIAGE_CONFIG_DIR", dir.path().join("no-config"))
        .env("TRIAGE_ENV", "production")
        .env("TRIAGE__DATA_DIR", dir.path())
        .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("TRIAGE__SERVER__WORKERS", "1")
        .env("TRIAGE__AUTH__JWT_SECRET", SECRET)
        .env("TRIAGE__LOG__FILTER", "info")
        .env("TRIAGE__ML__DISPATCH", "false")
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("ML_SERVICE_URL")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    wait_healthy(&client, &base).await;

    let broken: [&[u8]; 4] = [
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        b"\x00\x01\x02garbage\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\x02\r\n\r\n",
    ];
    for round in 0..50 {
        let request = broken[round % broken.len()];
        let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        conn.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        conn.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
    }
    // The server still works, and its own lines still reach the log.
    wait_healthy(&client, &base).await;

    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["route"] == "/health"),
        "no access line: {text}"
    );
    let errors: Vec<&Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert!(errors.is_empty(), "ERROR lines: {errors:?}");
    assert!(!text.contains("parse error"), "{text}");
}
