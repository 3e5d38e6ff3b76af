//! The protocol from both ends, as separate components over real HTTP: triage (in-process,
//! `TestApp`) dispatches to triage-ml (in-process, `MlService`), both sharing one store — the
//! local directory triage's embedded defaults use, or one S3 bucket with PostgreSQL — and the
//! results must equal what triage's embedded engine gives for the same upload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::TOKEN;
use triage_ml_service::{Blobs, MlService};
use triage_server::Config;
use triage_testkit::{Actor, TestApp, fixture, ok_json};

const FIXTURES: [&str; 4] = [
    "ct-normal.zip",
    "ct-emphysema.zip",
    "ct-opacity.zip",
    "ct-two-studies-pacs.zip",
];

/// How long one fixture may take end to end (debug builds analyse slowly).
const PATIENCE: Duration = Duration::from_secs(300);

fn wire_triage(config: &mut Config, ml: &MlService) {
    config.ml.url = ml.url();
    config.ml.token = TOKEN.into();
    // Synchronous analyses answer /infer only when done.
    config.ml.request_timeout_secs = PATIENCE.as_secs();
}

/// triage-ml on `data/blobs`, and triage with `data` as its data directory.
async fn on_local_disk(sync: bool) -> (TestApp, MlService, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let mut config = support::config(Blobs::Dir(data.path().join("blobs")), &data);
    config.sync = sync;
    let ml = support::start(config).await;
    let dir = data.path().to_path_buf();
    let app = TestApp::spawn_with(|config| {
        config.data_dir = dir;
        wire_triage(config, &ml);
    })
    .await;
    (app, ml, data)
}

/// Uploads `name` through triage's API, runs one dispatch step and waits for the job to end;
/// returns the job and its result rows.
async fn analysed(app: &TestApp, alice: &Actor, name: &str) -> (Value, Vec<Value>) {
    let job = ok_json(app.upload_fixture(alice, name).await, 201).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let report = app.dispatch().await;
    assert_eq!(report.claimed, 1, "{name}: {report:?}");
    assert_eq!(report.failed + report.retrying, 0, "{name}: {report:?}");
    let deadline = Instant::now() + PATIENCE;
    let job = loop {
        let job = ok_json(app.get(&format!("/jobs/{id}"), alice).await, 200).await;
        if matches!(job["status"].as_str(), Some("succeeded" | "failed")) {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: the job never ended: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(job["status"], "succeeded", "{name}: {job}");
    let results = ok_json(
        app.get(&format!("/api/jobs/{id}/results"), alice).await,
        200,
    )
    .await;
    let rows = results["results"]["rows"].as_array().unwrap().clone();
    (job, rows)
}

/// The rows without what differs between two runs of the same analysis (timings).
fn comparable(rows: &[Value]) -> Vec<Value> {
    let mut rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut row = row.clone();
            row.as_object_mut().unwrap().remove("time_of_processing");
            row
        })
        .collect();
    rows.sort_by_key(|row| row["series_uid"].to_string());
    rows
}

/// What the embedded engine gives for each fixture (a plain `TestApp`, no ML service).
async fn embedded_results() -> Vec<Vec<Value>> {
    let app = TestApp::spawn().await;
    let alice = app.new_user().await;
    let mut all = Vec::new();
    for name in FIXTURES {
        all.push(comparable(&analysed(&app, &alice, name).await.1));
    }
    app.stop().await;
    all
}

/// Every fixture through triage → triage-ml; checks the verdicts and compares the rows with
/// the embedded engine's.
async fn check_fixtures(app: &TestApp, ml: &MlService) {
    let alice = app.new_user().await;
    let mut all = Vec::new();
    for name in FIXTURES {
        let (job, rows) = analysed(app, &alice, name).await;
        assert!(
            rows.iter().all(|r| r["processing_status"] == "Success"),
            "{name}: {rows:?}"
        );
        match name {
            "ct-normal.zip" => {
                assert_eq!(rows.len(), 1, "{rows:?}");
                assert_eq!(rows[0]["pathology"], false);
                assert!(rows[0]["probability_of_pathology"].as_f64().unwrap() < 0.25);
            }
            "ct-two-studies-pacs.zip" => {
                assert_eq!(rows.len(), 2, "{rows:?}");
                assert_ne!(rows[0]["study_uid"], rows[1]["study_uid"]);
            }
            _ => {
                assert_eq!(rows.len(), 1, "{rows:?}");
                assert_eq!(rows[0]["pathology"], true, "{name}: {job}");
            }
        }
        all.push(comparable(&rows));
    }
    assert_eq!(
        all,
        embedded_results().await,
        "triage-ml and the embedded engine differ"
    );
    let stats = ml.stats();
    assert_eq!(stats.succeeded, FIXTURES.len() as u64, "{stats:?}");
    assert_eq!(stats.analyses, FIXTURES.len() as u64, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mode_on_the_local_disk_matches_the_embedded_engine() {
    let (app, ml, _data) = on_local_disk(false).await;
    check_fixtures(&app, &ml).await;
    // Asynchronous: every result came by callback.
    assert_eq!(ml.stats().callbacks_delivered, FIXTURES.len() as u64);
    app.stop().await;
    ml.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_mode_on_the_local_disk_matches_the_embedded_engine() {
    let (app, ml, _data) = on_local_disk(true).await;
    check_fixtures(&app, &ml).await;
    // Synchronous: every result came as the /infer answer.
    assert_eq!(ml.stats().callbacks_delivered, 0);
    app.stop().await;
    ml.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_s3_async_mode_matches_the_embedded_engine() {
    let Some(bucket) = triage_testkit::s3::TestBucket::create().await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let ml = support::start(support::config(Blobs::S3(bucket.options()), &data)).await;
    let Some(app) = TestApp::spawn_production_with(|config| {
        wire_triage(config, &ml);
        let s3 = bucket.options();
        // triage-ml reads the bucket the test made for it: triage must use the same one.
        config.blobs.bucket = s3.bucket;
    })
    .await
    else {
        return;
    };
    check_fixtures(&app, &ml).await;
    assert_eq!(ml.stats().callbacks_delivered, FIXTURES.len() as u64);
    app.stop().await;
    ml.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_on_either_side_never_fakes_a_result() {
    let data = tempfile::tempdir().unwrap();
    let ml = support::start(support::config(
        Blobs::Dir(data.path().join("blobs")),
        &data,
    ))
    .await;
    let dir = data.path().to_path_buf();
    let app = TestApp::spawn_with(|config| {
        config.data_dir = dir;
        wire_triage(config, &ml);
        config.ml.token = "a-different-token-0123456789".into();
    })
    .await;
    let alice = app.new_user().await;
    let job = ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
    let id = job["id"].as_str().unwrap();
    let report = app.dispatch().await;
    // triage-ml refuses triage's token with 401: a permanent refusal.
    assert_eq!(report.failed, 1, "{report:?}");
    let job = ok_json(app.get(&format!("/jobs/{id}"), &alice).await, 200).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(ml.stats().accepted, 0);
    app.stop().await;
    ml.stop().await;
}

#[test]
fn the_fixtures_exist() {
    for name in FIXTURES {
        assert!(fixture(name).is_file(), "{name}");
    }
}
