//! A deployment as separate processes: the `triage` and `triage-ml` binaries over one
//! PostgreSQL database and one S3 bucket. Jobs uploaded while triage-ml is down succeed once
//! it starts; asynchronous (202 + callback) and synchronous (`--sync`) service modes give
//! the same results. Skipped without PostgreSQL or S3, except under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use triage_testkit::fixture;
use triage_testkit::pg::TestDb;
use triage_testkit::s3::TestBucket;

use support::{Process, free_port, http_client, sign_up, wait_healthy};

const TOKEN: &str = "processes-test-ml-token-0123456789";
const SECRET: &str = "processes-test-jwt-secret-0123456789abcdef";
const FIXTURES: [&str; 4] = [
    "ct-normal.zip",
    "ct-emphysema.zip",
    "ct-opacity.zip",
    "ct-two-studies-pacs.zip",
];

/// `triage-ml` sits next to `triage` in the target directory: `cargo test --workspace` builds
/// it for the ml-service crate's own process tests.
fn triage_ml_binary() -> PathBuf {
    let triage = Path::new(env!("CARGO_BIN_EXE_triage"));
    let ml = triage.with_file_name(format!("triage-ml{}", std::env::consts::EXE_SUFFIX));
    if !ml.exists() {
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "triage-ml-service",
                "--bin",
                "triage-ml",
            ])
            .status()
            .unwrap();
        assert!(status.success(), "building triage-ml failed");
    }
    ml
}

fn start_ml(bucket: &TestBucket, port: u16, triage_port: u16, sync: bool) -> Process {
    let s3 = bucket.options();
    let mut command = Command::new(triage_ml_binary());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ML_BIND", format!("127.0.0.1:{port}"))
        .env("ML_SERVICE_TOKEN", TOKEN)
        .env("MINIO_ENDPOINT", &s3.endpoint)
        .env("MINIO_ACCESS_KEY", &s3.access_key)
        .env("MINIO_SECRET_KEY", &s3.secret_key)
        .env("MINIO_BUCKET", &s3.bucket)
        .env("BACKEND_URL", format!("http://127.0.0.1:{triage_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if sync {
        command.arg("--sync");
    }
    Process(command.spawn().expect("start triage-ml"))
}

fn start_triage(dir: &Path, db: &TestDb, bucket: &TestBucket, port: u16, ml_port: u16) -> Process {
    let s3 = bucket.options();
    Process(
        Command::new(env!("CARGO_BIN_EXE_triage"))
            .current_dir(dir)
            .env("TRIAGE_CONFIG_DIR", dir.join("no-config"))
            .env("TRIAGE_ENV", "test")
            .env("TRIAGE__DATA_DIR", dir)
            .env("TRIAGE__SERVER__BIND", format!("127.0.0.1:{port}"))
            .env("TRIAGE__SERVER__WORKERS", "2")
            .env("TRIAGE__AUTH__JWT_SECRET", SECRET)
            .env("DATABASE_URL", db.url())
            .env("MINIO_ENDPOINT", &s3.endpoint)
            .env("MINIO_ACCESS_KEY", &s3.access_key)
            .env("MINIO_SECRET_KEY", &s3.secret_key)
            .env("MINIO_BUCKET", &s3.bucket)
            .env("ML_SERVICE_URL", format!("http://127.0.0.1:{ml_port}"))
            .env("ML_SERVICE_TOKEN", TOKEN)
            .env("TRIAGE__ML__POLL_INTERVAL_MS", "100")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start triage"),
    )
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    async fn upload(&self, name: &str) -> String {
        let part = reqwest::multipart::Part::bytes(std::fs::read(fixture(name)).unwrap())
            .file_name(name.to_owned());
        let job: Value = self
            .http
            .post(format!("{}/jobs", self.base))
            .bearer_auth(&self.token)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        job["id"].as_str().expect("job id").to_owned()
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Each job's result rows as (study, series, pathology), once every job succeeded.
    async fn results(&self, ids: &[String]) -> Vec<Vec<(String, String, bool)>> {
        let deadline = Instant::now() + Duration::from_secs(120);
        for id in ids {
            loop {
                let job = self.get(&format!("/jobs/{id}")).await;
                if job["status"] == "succeeded" {
                    break;
                }
                assert_ne!(job["status"], "failed", "{job}");
                assert!(Instant::now() < deadline, "{job}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        let mut all = Vec::new();
        for id in ids {
            let results = self.get(&format!("/jobs/{id}/results")).await;
            let mut rows: Vec<_> = results["results"]["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["study_uid"].as_str().unwrap().to_owned(),
                        r["series_uid"].as_str().unwrap().to_owned(),
                        r["pathology"].as_bool().unwrap(),
                    )
                })
                .collect();
            rows.sort();
            all.push(rows);
        }
        all
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_and_triage_ml_as_processes_on_postgres_and_s3() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (port, ml_port) = (free_port(), free_port());
    let http = http_client();
    let _triage = start_triage(dir.path(), &db, &bucket, port, ml_port);
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&http, &base).await;
    let token = sign_up(&http, &base, "secret-password").await;
    let client = Client {
        http: http.clone(),
        base: base.clone(),
        token,
    };

    // triage-ml is not running yet: the uploads wait and retry.
    let mut first = Vec::new();
    for name in FIXTURES {
        first.push(client.upload(name).await);
    }
    let ready = client.get("/ready").await;
    assert_eq!(ready["status"], "degraded", "{ready}");
    let ml = start_ml(&bucket, ml_port, port, false);
    wait_healthy(&http, &format!("http://127.0.0.1:{ml_port}")).await;
    let asynchronous = client.results(&first).await;
    drop(ml);

    let ml = start_ml(&bucket, ml_port, port, true);
    wait_healthy(&http, &format!("http://127.0.0.1:{ml_port}")).await;
    let mut second = Vec::new();
    for name in FIXTURES {
        second.push(client.upload(name).await);
    }
    let synchronous = client.results(&second).await;
    drop(ml);

    assert_eq!(
        asynchronous, synchronous,
        "both modes give the same results"
    );
    let pathology: Vec<Vec<bool>> = asynchronous
        .iter()
        .map(|rows| rows.iter().map(|r| r.2).collect())
        .collect();
    assert_eq!(
        pathology,
        [vec![false], vec![true], vec![true], vec![false, false]]
    );
    assert_ne!(asynchronous[3][0].0, asynchronous[3][1].0, "two studies");
}
