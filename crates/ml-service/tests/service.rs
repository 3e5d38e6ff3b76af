//! The service on its own, over real HTTP: authentication, validation, the queue's limits,
//! repeats, callback retries, the synchronous mode and a graceful stop. Uploads that are
//! missing from the store make quick `failed` jobs where the analysis itself does not matter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{GatedStore, Receiver, TOKEN, answer, config, eventually, post_infer, start};
use triage_ml_service::{Blobs, MlService};

fn body(job: &str) -> Value {
    json!({"job_uuid": job, "input_object": format!("jobs/{job}.zip"), "output_object": null,
           "profile": "fast_debug", "threshold": 0.25})
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The service on a local directory, calling back `receiver`.
async fn on_dir(
    receiver: &Receiver,
    tweak: impl FnOnce(&mut triage_ml_service::ServiceConfig),
) -> (MlService, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(Blobs::Dir(dir.path().join("blobs")), &dir);
    config.backend_url = Some(receiver.base());
    tweak(&mut config);
    (start(config).await, dir)
}

#[tokio::test]
async fn health_says_healthy_with_the_version() {
    let receiver = Receiver::start(vec![]).await;
    let (ml, _dir) = on_dir(&receiver, |_| {}).await;
    let response = support::client()
        .get(format!("{}/health", ml.url()))
        .send()
        .await
        .unwrap();
    let (status, health) = answer(response).await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["model_loaded"], true);
    assert_eq!(
        health["version"],
        format!("triage-ml {}", env!("CARGO_PKG_VERSION"))
    );
    ml.stop().await;
}

#[tokio::test]
async fn infer_needs_the_bearer_token() {
    let receiver = Receiver::start(vec![]).await;
    let (ml, _dir) = on_dir(&receiver, |_| {}).await;
    let job = new_id();
    for token in [None, Some("wrong-token"), Some("")] {
        let response = post_infer(&ml.url(), token, &body(&job)).await;
        assert_eq!(
            response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned()),
            Some("Bearer".to_owned())
        );
        let (status, answer) = answer(response).await;
        assert_eq!(status, 401, "{token:?}: {answer}");
        assert!(answer["detail"].as_str().unwrap().contains("token"));
    }
    assert_eq!(ml.stats().accepted, 0);
    ml.stop().await;
}

#[tokio::test]
async fn bad_requests_get_422_with_a_detail() {
    let receiver = Receiver::start(vec![]).await;
    let (ml, _dir) = on_dir(&receiver, |_| {}).await;
    let id = new_id();
    let cases = [
        (json!({"input_object": "jobs/a.zip"}), "job_uuid"),
        (
            json!({"job_uuid": id, "input_object": "jobs/a.zip", "profile": "turbo"}),
            "profile",
        ),
        (
            json!({"job_uuid": id, "input_object": "jobs/a.zip", "threshold": 7}),
            "threshold",
        ),
        (
            json!({"job_uuid": "not-a-uuid", "input_object": "jobs/a.zip"}),
            "UUID",
        ),
        (
            json!({"job_uuid": id, "input_object": "../etc/passwd"}),
            "input_object",
        ),
    ];
    for (request, expected) in cases {
        let (status, answer) = answer(post_infer(&ml.url(), Some(TOKEN), &request).await).await;
        assert_eq!(status, 422, "{request}: {answer}");
        let detail = answer["detail"].as_str().unwrap();
        assert!(detail.contains(expected), "{request}: {detail}");
    }
    let not_json = support::client()
        .post(format!("{}/infer", ml.url()))
        .bearer_auth(TOKEN)
        .body("job_uuid=1")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 422);
    assert_eq!(ml.stats().accepted, 0);
    ml.stop().await;
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = GatedStore::open(&dir.path().join("blobs")).await;
    let receiver = Receiver::start(vec![]).await;
    let mut config = config(Blobs::Store(store.clone()), &dir);
    config.backend_url = Some(receiver.base());
    config.concurrency = 1;
    config.queue = 1;
    config.retry_after_secs = 7;
    let ml = start(config).await;

    let (running, queued, refused) = (new_id(), new_id(), new_id());
    let (status, accepted) =
        answer(post_infer(&ml.url(), Some(TOKEN), &body(&running)).await).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted, json!({"status": "accepted", "job_uuid": running}));
    eventually("the first job to run", Duration::from_secs(10), || {
        store.entered() == 1
    })
    .await;
    let queued_answer = post_infer(&ml.url(), Some(TOKEN), &body(&queued)).await;
    assert_eq!(queued_answer.status(), 202);

    let full = post_infer(&ml.url(), Some(TOKEN), &body(&refused)).await;
    assert_eq!(full.status(), 503);
    assert_eq!(full.headers().get("retry-after").unwrap(), "7");
    let (_, detail) = answer(full).await;
    assert!(detail["detail"].as_str().unwrap().contains("queue is full"));
    // A repeat of a queued job is not refused: it joins the job.
    assert_eq!(
        post_infer(&ml.url(), Some(TOKEN), &body(&queued))
            .await
            .status(),
        202
    );

    store.release(2);
    let calls = receiver.wait_for(2).await;
    let mut jobs: Vec<&str> = calls
        .iter()
        .map(|c| c.path.split('/').nth(3).unwrap())
        .collect();
    jobs.sort();
    let mut expected = vec![running.as_str(), queued.as_str()];
    expected.sort();
    assert_eq!(jobs, expected);
    let stats = ml.stats();
    assert_eq!(
        (stats.analyses, stats.refused_full, stats.repeats),
        (2, 1, 1)
    );
    ml.stop().await;
}

#[tokio::test]
async fn a_repeat_infer_joins_the_running_job_instead_of_analysing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let store = GatedStore::open(&dir.path().join("blobs")).await;
    let receiver = Receiver::start(vec![]).await;
    let mut config = config(Blobs::Store(store.clone()), &dir);
    config.backend_url = Some(receiver.base());
    let ml = start(config).await;
    let job = new_id();

    assert_eq!(
        post_infer(&ml.url(), Some(TOKEN), &body(&job))
            .await
            .status(),
        202
    );
    eventually("the job to run", Duration::from_secs(10), || {
        store.entered() == 1
    })
    .await;
    for _ in 0..3 {
        let (status, answer) = answer(post_infer(&ml.url(), Some(TOKEN), &body(&job)).await).await;
        assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    }
    store.release(10);
    let calls = receiver.wait_for(1).await;
    eventually("the job to be finished", Duration::from_secs(10), || {
        ml.stats().active == 0
    })
    .await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    let stats = ml.stats();
    assert_eq!((stats.analyses, stats.repeats, stats.accepted), (1, 3, 1));

    // Once finished it is forgotten: triage dispatching it again gets a new analysis.
    assert_eq!(
        post_infer(&ml.url(), Some(TOKEN), &body(&job))
            .await
            .status(),
        202
    );
    receiver.wait_for(2).await;
    assert_eq!(ml.stats().analyses, 2);
    ml.stop().await;
}

#[tokio::test]
async fn the_callback_is_retried_until_triage_takes_it() {
    let receiver = Receiver::start(vec![503, 500, 429]).await;
    let (ml, _dir) = on_dir(&receiver, |_| {}).await;
    let job = new_id();
    assert_eq!(
        post_infer(&ml.url(), Some(TOKEN), &body(&job))
            .await
            .status(),
        202
    );

    let calls = receiver.wait_for(4).await;
    eventually("the delivery to end", Duration::from_secs(10), || {
        ml.stats().callbacks_delivered == 1
    })
    .await;
    assert_eq!(
        calls.iter().map(|c| c.answered).collect::<Vec<_>>(),
        [503, 500, 429, 200]
    );
    for call in &calls {
        assert_eq!(call.path, format!("/internal/jobs/{job}/completion"));
        assert_eq!(
            call.authorization.as_deref(),
            Some(&*format!("Bearer {TOKEN}"))
        );
        assert_eq!(call.body["status"], "failed");
        assert!(
            call.body["error"].as_str().unwrap().contains("missing"),
            "{}",
            call.body
        );
        assert!(call.body["duration_seconds"].is_number());
    }
    ml.stop().await;
}

#[tokio::test]
async fn the_callback_stops_on_404_and_gives_up_after_its_attempts() {
    let receiver = Receiver::start(vec![404]).await;
    let (ml, _dir) = on_dir(&receiver, |config| config.callback.attempts = 3).await;
    assert_eq!(
        post_infer(&ml.url(), Some(TOKEN), &body(&new_id()))
            .await
            .status(),
        202
    );
    eventually("the refusal", Duration::from_secs(10), || {
        ml.stats().callbacks_refused == 1
    })
    .await;
    assert_eq!(receiver.calls().len(), 1);

    // Nobody listens at the callback URL: three attempts, then the job is forgotten.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut request = body(&new_id());
    request["callback_url"] = json!(format!("http://127.0.0.1:{port}/cb"));
    assert_eq!(
        post_infer(&ml.url(), Some(TOKEN), &request).await.status(),
        202
    );
    eventually("giving up", Duration::from_secs(20), || {
        ml.stats().callbacks_given_up == 1
    })
    .await;
    assert_eq!(ml.stats().active, 0);
    ml.stop().await;
}

#[tokio::test]
async fn sync_mode_answers_the_completion_without_a_callback() {
    let receiver = Receiver::start(vec![]).await;
    let (ml, dir) = on_dir(&receiver, |config| config.sync = true).await;
    let job = new_id();
    let upload = dir.path().join(format!("blobs/jobs/{job}.zip"));
    std::fs::create_dir_all(upload.parent().unwrap()).unwrap();
    std::fs::copy(triage_testkit::fixture("ct-normal.zip"), &upload).unwrap();

    let (status, done) = answer(post_infer(&ml.url(), Some(TOKEN), &body(&job)).await).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["job_uuid"], job.as_str());
    let key = format!("results/{job}.xlsx");
    assert_eq!(done["output_object"], key.as_str());
    let report = std::fs::read(dir.path().join("blobs").join(&key)).unwrap();
    assert_eq!(done["file_size"], report.len() as u64);
    let parsed = triage_report::parse(&report, Some(0.25), chrono::Utc::now()).unwrap();
    assert_eq!(parsed.rows.len(), 1);

    let missing = new_id();
    let (status, failed) = answer(post_infer(&ml.url(), Some(TOKEN), &body(&missing)).await).await;
    assert_eq!(
        (status, failed["status"].as_str()),
        (200, Some("failed")),
        "{failed}"
    );
    assert!(failed["error"].as_str().unwrap().contains("missing"));
    assert!(receiver.calls().is_empty(), "no callback in sync mode");
    ml.stop().await;
}

#[tokio::test]
async fn stopping_finishes_the_running_job_and_drops_the_queued_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = GatedStore::open(&dir.path().join("blobs")).await;
    let receiver = Receiver::start(vec![]).await;
    let mut config = config(Blobs::Store(store.clone()), &dir);
    config.backend_url = Some(receiver.base());
    let ml = start(config).await;
    let url = ml.url();
    let (running, queued) = (new_id(), new_id());
    assert_eq!(
        post_infer(&url, Some(TOKEN), &body(&running))
            .await
            .status(),
        202
    );
    eventually("the job to run", Duration::from_secs(10), || {
        store.entered() == 1
    })
    .await;
    assert_eq!(
        post_infer(&url, Some(TOKEN), &body(&queued)).await.status(),
        202
    );

    let stopping = tokio::spawn(ml.stop_within(Duration::from_secs(30)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!stopping.is_finished(), "the running job holds the stop");
    store.release(10);
    stopping.await.unwrap();
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(
        calls[0].path,
        format!("/internal/jobs/{running}/completion")
    );
    assert!(
        support::client()
            .get(format!("{url}/health"))
            .send()
            .await
            .is_err()
    );
}
