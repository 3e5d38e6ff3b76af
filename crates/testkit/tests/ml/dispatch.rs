//! Handing jobs over: the request, the answers that mean "accepted" and "done".

use serde_json::Value;
use triage_testkit::ml_server::Behaviour;
use triage_testkit::{MlTestApp, ok_json};

#[tokio::test]
async fn an_accepted_job_completes_by_callback() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept());

    let report = t.app.dispatch().await;
    assert_eq!((report.claimed, report.accepted), (1, 1), "{report:?}");
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "processing");
    assert_eq!(job["attempts"], 1);

    // The request, exactly.
    let calls = t.ml.infer_calls_for(&id);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {}", t.ml.token()).as_str())
    );
    let body: &Value = &call.body;
    assert_eq!(body["job_uuid"], id.as_str());
    assert_eq!(body["input_object"], format!("jobs/{id}.zip"));
    assert_eq!(body["output_object"], format!("results/{id}.xlsx"));
    assert_eq!(body["profile"], "fast_debug");
    assert_eq!(body["threshold"], 0.25);
    assert_eq!(body["bucket"], "uploads");
    assert_eq!(
        body["callback_url"],
        format!("{}/internal/jobs/{id}/completion", t.app.base)
    );

    let record = t.ml.complete(&id).await;
    assert_eq!(record.status, Some(200), "{record:?}");
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "succeeded");
    assert!(job["completed_at"].is_string());
    assert!(job["status_reason"].is_null());
    assert_eq!(job["results_payload"]["rows"].as_array().unwrap().len(), 2);

    let results = ok_json(t.app.get(&format!("/jobs/{id}/results"), &alice).await, 200).await;
    assert_eq!(results["source"], "cached");
    assert_eq!(results["results"]["rows"][0]["pathology"], true);
    let xlsx = t
        .app
        .get(&format!("/api/jobs/{id}/results.xlsx"), &alice)
        .await;
    assert_eq!(xlsx.status(), 200);
    assert!(xlsx.bytes().await.unwrap().starts_with(b"PK"));
    // The upload's key is kept: the original still downloads.
    let original = std::fs::read(triage_testkit::fixture("ct-normal.zip")).unwrap();
    let file = t.app.get(&format!("/jobs/{id}/file"), &alice).await;
    assert_eq!(file.bytes().await.unwrap().as_ref(), &original[..]);
    // Nothing left to dispatch.
    assert_eq!(t.app.dispatch().await.claimed, 0);
}

#[tokio::test]
async fn a_200_accepted_answer_is_asynchronous() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept_ok());
    assert_eq!(t.app.dispatch().await.accepted, 1);
    assert_eq!(t.job(&alice, &id).await["status"], "processing");
}

#[tokio::test]
async fn a_synchronous_answer_completes_the_job_and_a_later_callback_changes_nothing() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-emphysema.zip").await;
    t.ml.set_default(Behaviour::complete_sync());
    let report = t.app.dispatch().await;
    assert_eq!(report.completed, 1, "{report:?}");
    let done = t.job(&alice, &id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempts"], 0, "a synchronous answer is no retry");

    let record = t.ml.complete(&id).await;
    assert_eq!(record.status, Some(200));
    let after = t.job(&alice, &id).await;
    assert_eq!(
        after["updated_at"], done["updated_at"],
        "a repeat changes nothing"
    );
}

#[tokio::test]
async fn a_callback_that_overtakes_the_answer_is_applied_once() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept().call_back_before_answer());
    let report = t.app.dispatch().await;
    assert_eq!(report.claimed, 1);
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "succeeded", "{report:?}");
    assert_eq!(t.ml.callbacks_for(&id)[0].status, Some(200));
    assert_eq!(t.app.dispatch().await.claimed, 0, "no entry left behind");
}

#[tokio::test]
async fn two_callbacks_change_the_job_once() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept().call_back().call_back());
    t.app.dispatch().await;
    assert!(t.ml.wait_for_callbacks(2, super::secs(10)).await);
    let statuses: Vec<_> = t.ml.callbacks_for(&id).iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Some(200), Some(200)]);
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "succeeded");
}

#[tokio::test]
async fn at_most_max_in_flight_jobs_are_handed_over() {
    let t = MlTestApp::spawn_with(|c| c.ml.max_in_flight = 2).await;
    let alice = t.app.new_user().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(t.upload(&alice, "ct-normal.zip").await);
    }
    t.ml.set_default(Behaviour::accept());
    assert_eq!(t.app.dispatch().await.accepted, 2);
    assert_eq!(t.app.dispatch().await.claimed, 0, "no free slot");
    let waiting: Vec<&String> = ids.iter().filter(|id| t.ml.infer_count(id) == 0).collect();
    assert_eq!(waiting.len(), 1);
    assert_eq!(t.job(&alice, waiting[0]).await["status"], "queued");

    let first = ids.iter().find(|id| t.ml.infer_count(id) == 1).unwrap();
    t.ml.complete(first).await;
    assert_eq!(t.app.dispatch().await.accepted, 1, "a slot came free");
    assert_eq!(t.ml.infer_count(waiting[0]), 1);
}

#[tokio::test]
async fn ready_is_degraded_while_the_service_is_down() {
    let t = MlTestApp::spawn().await;
    let ready = ok_json(
        t.app.client.get(t.app.url("/ready")).send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["checks"]["ml"]["ok"], true);
    t.ml.stop().await;
    let ready = ok_json(
        t.app
            .client
            .get(t.app.url("/api/ready"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ready["status"], "degraded");
    assert_eq!(ready["checks"]["ml"]["ok"], false);
}

/// The value of the first sample line starting with `series` (name plus labels).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_move_over_a_jobs_life() {
    let t = MlTestApp::spawn().await;
    let scrape = async || {
        let answer = t
            .app
            .client
            .get(t.app.url("/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        assert!(
            answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        answer.text().await.unwrap()
    };
    let before = scrape().await;
    assert_eq!(sample(&before, "triage_uploads_total"), 0.0);
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept());
    t.app.dispatch().await;
    let during = scrape().await;
    assert_eq!(sample(&during, r#"triage_jobs{status="processing"}"#), 1.0);
    t.ml.complete(&id).await;
    let after = scrape().await;
    assert_eq!(sample(&after, "triage_uploads_total"), 1.0);
    let size = std::fs::metadata(triage_testkit::fixture("ct-normal.zip"))
        .unwrap()
        .len();
    assert_eq!(sample(&after, "triage_upload_bytes_total"), size as f64);
    assert_eq!(sample(&after, "triage_dispatch_attempts_total"), 1.0);
    assert_eq!(
        sample(
            &after,
            r#"triage_dispatch_outcomes_total{outcome="accepted"}"#
        ),
        1.0
    );
    assert_eq!(sample(&after, r#"triage_jobs{status="succeeded"}"#), 1.0);
    assert_eq!(sample(&after, "triage_queue_depth"), 0.0);
    assert_eq!(sample(&after, "triage_ml_round_trip_seconds_count"), 1.0);
    assert_eq!(
        sample(
            &after,
            r#"triage_http_requests_total{method="POST",route="/jobs",status="201"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            r#"triage_http_requests_total{method="POST",route="/internal/jobs/{id}/completion",status="200"}"#
        ),
        1.0
    );
    assert!(
        after
            .contains("triage_http_request_duration_seconds_bucket{route=\"/jobs\",le=\"+Inf\"} 1")
    );
}
