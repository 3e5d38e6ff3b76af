//! Nothing is lost: an ML outage delays jobs without failing them, and replicas sharing one
//! PostgreSQL database never hand the same job over twice at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use triage_testkit::ml_app::ML_TOKEN;
use triage_testkit::ml_server::{Behaviour, ScriptedMl};
use triage_testkit::pg::TestDb;
use triage_testkit::s3::TestBucket;
use triage_testkit::zips::tiny_dicom;
use triage_testkit::{MlTestApp, TestApp, ok_json};

use super::secs;

#[tokio::test]
async fn a_minute_long_outage_delays_jobs_and_loses_none() {
    let t = MlTestApp::spawn_with(|c| c.ml.max_in_flight = 25).await;
    let alice = t.app.new_user().await;
    t.ml.stop().await;
    let mut ids = Vec::new();
    for _ in 0..100 {
        let job = ok_json(t.app.upload(&alice, "slice.dcm", tiny_dicom()).await, 201).await;
        ids.push(job["id"].as_str().unwrap().to_owned());
    }
    // The first minute: every handover is refused.
    for _ in 0..12 {
        t.app.dispatch().await;
        t.app.clock.advance(secs(5));
    }
    let jobs = ok_json(t.app.get("/jobs?limit=500", &alice).await, 200).await;
    for job in jobs.as_array().unwrap() {
        assert!(
            job["status"] == "queued" || job["status"] == "processing",
            "an outage fails nothing: {job}"
        );
    }
    t.ml.restart().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        t.app.dispatch().await;
        let jobs = ok_json(t.app.get("/jobs?limit=500", &alice).await, 200).await;
        let done = jobs
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["status"] == "succeeded")
            .count();
        if done == ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {} succeeded",
            ids.len()
        );
        // Backoff waits pass on the test clock; callbacks arrive in real time.
        t.app.clock.advance(secs(30));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &ids {
        assert_eq!(t.ml.accepted_count(id), 1, "job {id} accepted exactly once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_hand_one_job_over_twice_at_once() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let ml = ScriptedMl::start(Arc::new(bucket.store().await), ML_TOKEN).await;
    // Slow enough that both replicas are busy at once; callbacks go to whichever dispatched.
    ml.set_default(Behaviour::accept().call_back_after(Duration::from_millis(30)));
    let replica = || {
        let (url, s3, ml_url) = (db.url().to_owned(), bucket.options(), ml.url());
        move |c: &mut triage_server::Config| {
            c.database.url = url;
            c.blobs.backend = triage_server::config::BlobBackend::S3;
            c.blobs.endpoint = s3.endpoint.clone();
            c.blobs.bucket = s3.bucket.clone();
            c.blobs.access_key = s3.access_key.clone();
            c.blobs.secret_key = s3.secret_key.clone().into();
            c.blobs.create_bucket = false;
            c.ml.url = ml_url;
            c.ml.token = ML_TOKEN.into();
            // One deployment: every replica accepts the tokens of every other.
            c.auth.jwt_secret = "replicas-share-this-jwt-secret-0123456789".into();
            c.ml.dispatch = true;
            c.ml.poll_interval_ms = 20;
            c.ml.max_in_flight = 16;
        }
    };
    let a = TestApp::spawn_with(replica()).await;
    let b = TestApp::spawn_with(replica()).await;
    let alice = a.new_user().await;
    let mut ids = Vec::new();
    for i in 0..200 {
        let to = if i % 2 == 0 { &a } else { &b };
        // The same content each time: `reanalyse` keeps deduplication from answering.
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(tiny_dicom()).file_name("slice.dcm"),
            )
            .text("reanalyse", "true");
        let job = ok_json(to.post_form("/jobs", &alice, form).await, 201).await;
        ids.push(job["id"].as_str().unwrap().to_owned());
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let jobs = ok_json(a.get("/jobs?limit=500", &alice).await, 200).await;
        let jobs = jobs.as_array().unwrap();
        let done = jobs.iter().filter(|j| j["status"] == "succeeded").count();
        if done == ids.len() {
            break;
        }
        let failed: Vec<_> = jobs.iter().filter(|j| j["status"] == "failed").collect();
        assert!(failed.is_empty(), "{failed:?}");
        assert!(
            Instant::now() < deadline,
            "{done} of {} succeeded",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &ids {
        assert_eq!(
            ml.max_concurrent(id),
            1,
            "job {id} handed over twice at once"
        );
        assert_eq!(ml.accepted_count(id), 1, "job {id}");
    }
    // The callback URL names the replica that dispatched.
    let workers: std::collections::HashSet<String> = ml
        .infer_calls()
        .iter()
        .filter_map(|call| {
            call.body["callback_url"]
                .as_str()?
                .split("/internal/")
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(workers.len(), 2, "both replicas dispatched");
    a.stop().await;
    b.stop().await;
}
