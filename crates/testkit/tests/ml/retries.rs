//! Transient failures wait with backoff (never using up attempts), permanent ones fail the
//! job, processing timeouts hand the job over again and count, and the deadline ends it.

use triage_testkit::MlTestApp;
use triage_testkit::ml_server::Behaviour;

use super::{due_in, secs};

#[tokio::test]
async fn transient_answers_wait_and_do_not_use_attempts() {
    for status in [408, 429, 500, 502, 503, 504] {
        let t = MlTestApp::spawn().await;
        let alice = t.app.new_user().await;
        let id = t.upload(&alice, "ct-normal.zip").await;
        t.ml.script_job(&id, [Behaviour::error(status, "busy"), Behaviour::accept()]);

        let report = t.app.dispatch().await;
        assert_eq!(report.retrying, 1, "{status}: {report:?}");
        let job = t.job(&alice, &id).await;
        assert_eq!(job["attempts"], 0, "{status}");
        let reason = job["status_reason"].as_str().unwrap();
        assert!(
            reason.contains("unavailable") && reason.contains("next attempt"),
            "{reason}"
        );
        // The first delay is about 2 s (with jitter).
        let wait = due_in(&t, &id).await.unwrap();
        assert!((1..=3).contains(&wait), "{status}: {wait}");
        assert_eq!(t.app.dispatch().await.claimed, 0, "not before the backoff");

        t.app.clock.advance(secs(3));
        assert_eq!(t.app.dispatch().await.accepted, 1, "{status}");
        assert_eq!(t.job(&alice, &id).await["attempts"], 1);
    }
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.script_job(
        &id,
        [
            Behaviour::unavailable().retry_after("120"),
            Behaviour::accept(),
        ],
    );
    assert_eq!(t.app.dispatch().await.retrying, 1);
    let wait = due_in(&t, &id).await.unwrap();
    assert!((118..=120).contains(&wait), "{wait}");
    t.app.clock.advance(secs(60));
    assert_eq!(t.app.dispatch().await.claimed, 0);
    t.app.clock.advance(secs(61));
    assert_eq!(t.app.dispatch().await.accepted, 1);
}

#[tokio::test]
async fn refused_connections_and_timeouts_are_transient() {
    let t = MlTestApp::spawn_with(|c| c.ml.request_timeout_secs = 1).await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.stop().await;
    assert_eq!(t.app.dispatch().await.retrying, 1);
    t.ml.restart().await;

    t.ml.script_job(&id, [Behaviour::hang(secs(5)), Behaviour::accept()]);
    t.app.clock.advance(secs(3));
    assert_eq!(
        t.app.dispatch().await.retrying,
        1,
        "the hanging call timed out"
    );
    assert_eq!(t.job(&alice, &id).await["attempts"], 0);
    t.app.clock.advance(secs(5));
    assert_eq!(t.app.dispatch().await.accepted, 1);
    assert_eq!(t.ml.max_concurrent(&id), 1);
}

#[tokio::test]
async fn a_refusal_fails_the_job_with_the_services_message() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::error(422, "unknown profile fast_debug"));
    assert_eq!(t.app.dispatch().await.failed, 1);
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "failed");
    let reason = job["status_reason"].as_str().unwrap();
    assert!(reason.contains("unknown profile fast_debug"), "{reason}");
    assert!(job["completed_at"].is_string());
}

#[tokio::test]
async fn an_outage_past_the_dispatch_deadline_fails_the_job() {
    let t = MlTestApp::spawn_with(|c| c.ml.dispatch_deadline_secs = 60).await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.stop().await;
    for _ in 0..40 {
        t.app.dispatch().await;
        if t.job(&alice, &id).await["status"] == "failed" {
            break;
        }
        t.app.clock.advance(secs(10));
    }
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["status_reason"].as_str().unwrap().contains("gave up"),
        "{job}"
    );
    assert_eq!(job["attempts"], 0);
}

#[tokio::test]
async fn a_processing_timeout_hands_over_again_until_attempts_run_out() {
    let t = MlTestApp::spawn_with(|c| {
        c.ml.processing_timeout_secs = 60;
        c.ml.max_attempts = 2;
    })
    .await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.set_default(Behaviour::accept());
    assert_eq!(t.app.dispatch().await.accepted, 1);
    assert!((58..=60).contains(&due_in(&t, &id).await.unwrap()));
    assert_eq!(t.app.dispatch().await.claimed, 0, "the watchdog waits");

    t.app.clock.advance(secs(61));
    assert_eq!(t.app.dispatch().await.accepted, 1, "handed over again");
    assert_eq!(t.job(&alice, &id).await["attempts"], 2);
    assert_eq!(t.ml.infer_count(&id), 2);

    t.app.clock.advance(secs(61));
    assert_eq!(t.app.dispatch().await.failed, 1);
    let job = t.job(&alice, &id).await;
    assert_eq!(job["status"], "failed");
    assert!(
        job["status_reason"]
            .as_str()
            .unwrap()
            .contains("2 attempts"),
        "{job}"
    );
    assert_eq!(t.ml.infer_count(&id), 2, "no third handover");
}

#[tokio::test]
async fn a_retried_job_is_dispatched_again() {
    let t = MlTestApp::spawn().await;
    let alice = t.app.new_user().await;
    let id = t.upload(&alice, "ct-normal.zip").await;
    t.ml.script_job(
        &id,
        [
            Behaviour::error(400, "bad input"),
            Behaviour::complete_sync(),
        ],
    );
    assert_eq!(t.app.dispatch().await.failed, 1);
    let retried = t
        .app
        .client
        .post(t.app.url(&format!("/jobs/{id}/retry")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(t.app.dispatch().await.completed, 1);
    assert_eq!(t.job(&alice, &id).await["status"], "succeeded");
}

#[tokio::test]
async fn a_job_waiting_for_an_unreachable_service_is_queued_and_holds_no_slot() {
    let t = MlTestApp::spawn_with(|c| c.ml.max_in_flight = 1).await;
    let alice = t.app.new_user().await;
    let waiting = t.upload(&alice, "ct-normal.zip").await;
    t.ml.stop().await;
    assert_eq!(t.app.dispatch().await.retrying, 1);
    let job = t.job(&alice, &waiting).await;
    assert_eq!(job["status"], "queued", "{job}");
    let reason = job["status_reason"].as_str().unwrap();
    assert!(
        reason.contains("unavailable") && reason.contains("next attempt at"),
        "{reason}"
    );
    assert_eq!(job["attempts"], 0);

    // The one slot is free for another job while the first one waits.
    t.ml.restart().await;
    t.ml.set_default(Behaviour::accept());
    let other = t.upload(&alice, "ct-normal.zip").await;
    let report = t.app.dispatch().await;
    assert_eq!((report.claimed, report.accepted), (1, 1), "{report:?}");
    assert_eq!(t.job(&alice, &other).await["status"], "processing");

    // Once its backoff is over the first job waits for the slot, still queued.
    t.app.clock.advance(secs(3));
    assert_eq!(t.app.dispatch().await.claimed, 0);
    assert_eq!(t.job(&alice, &waiting).await["status"], "queued");

    // It becomes processing only when the service accepts it.
    assert_eq!(t.ml.complete(&other).await.status, Some(200));
    assert_eq!(t.app.dispatch().await.accepted, 1);
    let job = t.job(&alice, &waiting).await;
    assert_eq!(job["status"], "processing");
    assert_eq!(job["attempts"], 1);
}
