//! `GET /ws/jobs`: every change to the caller's jobs (an administrator: everyone's), token
//! required, a snapshot of the active jobs on connect and on request.

use std::time::Duration;

use serde_json::{Value, json};
use triage_domain::JobStatus;
use triage_testkit::{Actor, TestApp, ok_json};

use crate::client::{Auth, Socket, move_job, spawn};

async fn upload(app: &TestApp, actor: &Actor) -> String {
    let job = ok_json(app.upload_fixture(actor, "ct-normal.zip").await, 201).await;
    job["id"].as_str().unwrap().to_owned()
}

async fn cancel(app: &TestApp, actor: &Actor, id: &str) -> Value {
    let res = app
        .client
        .post(app.url(&format!("/jobs/{id}/cancel")))
        .header("Authorization", actor.bearer())
        .send()
        .await
        .unwrap();
    ok_json(res, 200).await
}

#[tokio::test]
async fn the_jobs_socket_sees_the_callers_jobs_only_and_admins_see_all() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let admin = app.new_admin().await;
    let mut mine = Socket::open(&app, "/api/ws/jobs", Auth::Header(&alice.token)).await;
    let mut all = Socket::open(&app, "/ws/jobs", Auth::Protocol(&admin.token)).await;
    assert_eq!(all.protocol.as_deref(), Some("bearer"));
    // Nobody has an active job yet: an empty snapshot.
    mine.stays_quiet(Duration::from_millis(200)).await;

    let bobs = upload(&app, &bob).await;
    let alices = upload(&app, &alice).await;
    let job = mine.update().await;
    assert_eq!(job["id"], alices.as_str());
    assert_eq!(job["status"], "queued");
    assert_eq!(job["title"], "ct-normal.zip");
    assert_eq!(all.update().await["id"], bobs.as_str());
    assert_eq!(all.update().await["id"], alices.as_str());

    let bobs_cancelled = cancel(&app, &bob, &bobs).await;
    let alices_cancelled = cancel(&app, &alice, &alices).await;
    assert_eq!(mine.update().await, alices_cancelled);
    assert_eq!(all.update().await, bobs_cancelled);
    assert_eq!(all.update().await, alices_cancelled);
    // A terminal status does not end this socket, and nothing of Bob's ever came.
    mine.stays_quiet(Duration::from_millis(300)).await;
    move_job(app.app(), &alices, JobStatus::Queued).await;
    assert_eq!(mine.update().await["status"], "queued");

    let deleted = app
        .client
        .delete(app.url(&format!("/jobs/{alices}")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        mine.frame().await,
        json!({"type": "job.deleted", "job_id": alices})
    );
    mine.stays_quiet(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn the_jobs_socket_requires_a_valid_token() {
    let app = spawn().await;
    for auth in [
        Auth::Anonymous,
        Auth::Query("garbage"),
        Auth::Header("a.b.c"),
    ] {
        let mut ws = Socket::open(&app, "/api/ws/jobs", auth).await;
        assert_eq!(ws.close_code().await, 4401, "{auth:?}");
    }
}

#[tokio::test]
async fn the_jobs_socket_starts_from_the_active_jobs_and_resends_them_on_request() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let done = upload(&app, &alice).await;
    cancel(&app, &alice, &done).await;
    let running = upload(&app, &alice).await;
    move_job(app.app(), &running, JobStatus::Processing).await;
    let waiting = upload(&app, &alice).await;

    let mut ws = Socket::open(&app, "/ws/jobs", Auth::Query(&alice.token)).await;
    let snapshot = [ws.update().await, ws.update().await];
    assert_eq!(snapshot[0]["id"], running.as_str());
    assert_eq!(snapshot[0]["status"], "processing");
    assert_eq!(snapshot[1]["id"], waiting.as_str());
    ws.stays_quiet(Duration::from_millis(300)).await;

    ws.send_json(json!({"type": "resync"})).await;
    assert_eq!([ws.update().await, ws.update().await], snapshot);
    ws.stays_quiet(Duration::from_millis(300)).await;
}
