//! Infrastructure outages on the production stack: S3 going away in the middle of an upload,
//! PostgreSQL going away and coming back. Each dependency sits behind a proxy the test can
//! take down. Skipped (with a `skipping:` line) without PostgreSQL or S3, except under CI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::stream;
use reqwest::multipart::{Form, Part};
use triage_testkit::pg::TestDb;
use triage_testkit::s3::{RecordingProxy, TestBucket};
use triage_testkit::zips::tiny_dicom;
use triage_testkit::{TestApp, ok_json};

const MIB: usize = 1 << 20;

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A single DICOM file of `size` bytes (a CT slice, then padding), streamed, never in memory.
fn big_dicom(size: usize) -> Part {
    let head = tiny_dicom();
    let chunks = std::iter::once(head.clone()).chain(
        std::iter::repeat_n(vec![0u8; MIB], (size - head.len()) / MIB)
            .chain(std::iter::once(vec![0u8; (size - head.len()) % MIB])),
    );
    let body = reqwest::Body::wrap_stream(stream::iter(chunks.map(Ok::<_, std::io::Error>)));
    Part::stream_with_length(body, size as u64).file_name("big.dcm")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_going_away_mid_upload_is_a_503_that_leaves_nothing() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let s3 = bucket.options();
    let proxy = RecordingProxy::start(&s3.endpoint).await;
    let (url, endpoint) = (db.url().to_owned(), proxy.endpoint.clone());
    let app = TestApp::spawn_with(move |c| {
        c.database.url = url;
        c.blobs.backend = triage_server::config::BlobBackend::S3;
        c.blobs.endpoint = endpoint;
        c.blobs.bucket = s3.bucket.clone();
        c.blobs.access_key = s3.access_key.clone();
        c.blobs.secret_key = s3.secret_key.clone().into();
        c.blobs.create_bucket = false;
        c.blobs.timeout_secs = 5;
    })
    .await;
    let alice = app.new_user().await;

    let form = Form::new().part("file", big_dicom(500 * MIB));
    let request = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(&alice.token)
        .multipart(form)
        .send();
    let upload = tokio::spawn(request);
    // Down once the multipart upload has sent a few parts.
    wait_until("parts on their way", || {
        proxy
            .requests()
            .iter()
            .filter(|line| line.contains("partNumber="))
            .count()
            >= 3
    })
    .await;
    proxy.set_down(true);
    let answer = upload.await.unwrap().unwrap();
    assert!(answer.headers().get("retry-after").is_some());
    let body = ok_json(answer, 503).await;
    assert_eq!(body["code"], "unavailable");

    proxy.set_down(false);
    let jobs = ok_json(app.get("/jobs", &alice).await, 200).await;
    assert_eq!(jobs, serde_json::json!([]), "no job row");
    // The abort is retried until S3 answers it.
    let upload_id = proxy.upload_ids()[0].clone();
    wait_until("the multipart upload aborted", || proxy.aborted(&upload_id)).await;
    assert_eq!(
        app.stored_files().await,
        Vec::<String>::new(),
        "no temp file, no object"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_going_away_is_503_and_triage_recovers_by_itself() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let proxy = RecordingProxy::start_plain("127.0.0.1:5432").await;
    let port = proxy.endpoint.rsplit(':').next().unwrap().to_owned();
    let url = db.url().replace(":5432/", &format!(":{port}/"));
    assert_ne!(url, db.url(), "the URL goes through the proxy");
    let app = TestApp::spawn_with(move |c| {
        c.database.url = url;
        c.database.timeout_secs = 2;
    })
    .await;
    let alice = app.new_user().await;
    ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;

    proxy.set_down(true);
    for path in ["/jobs", "/auth/me"] {
        let answer = app.get(path, &alice).await;
        assert!(answer.headers().get("retry-after").is_some(), "{path}");
        assert_eq!(ok_json(answer, 503).await["code"], "unavailable", "{path}");
    }
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ok_json(ready, 503).await["checks"]["database"]["ok"], false);
    // An upload while the database is down: refused, and nothing is left behind.
    let refused = app.upload_fixture(&alice, "ct-normal.zip").await;
    assert_eq!(refused.status(), 503);

    proxy.set_down(false);
    let jobs = ok_json(app.get("/jobs", &alice).await, 200).await;
    assert_eq!(
        jobs.as_array().unwrap().len(),
        1,
        "recovered without a restart"
    );
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ok_json(ready, 200).await["checks"]["database"]["ok"], true);
    assert_eq!(
        app.stored_files().await.len(),
        1,
        "only the first upload's object"
    );
}
