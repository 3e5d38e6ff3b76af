//! `GET /ws/jobs/{id}`: snapshot, one frame per change, close 1000 after a terminal status,
//! the three ways of sending a token, 4401/4403, unknown ids, resync, idle clients and
//! shutdown — on SQLite with the in-process fan-out.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use triage_domain::{JobId, JobStatus};
use triage_testkit::{Actor, TestApp, ok_json};

use crate::client::{
    Auth, Event, Socket, WAIT, assert_status_only, create_job, eventually, move_job, spawn,
    spawn_with,
};

async fn upload(app: &TestApp, actor: &Actor) -> String {
    let job = ok_json(app.upload_fixture(actor, "ct-normal.zip").await, 201).await;
    job["id"].as_str().unwrap().to_owned()
}

async fn get_job(app: &TestApp, actor: &Actor, id: &str) -> Value {
    ok_json(app.get(&format!("/jobs/{id}"), actor).await, 200).await
}

#[tokio::test]
async fn an_anonymous_watcher_follows_a_job_to_its_end_with_status_only_frames() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let mut ws = Socket::open(&app, &format!("/api/ws/jobs/{id}"), Auth::Anonymous).await;
    assert_eq!(ws.protocol, None);

    let snapshot = ws.update().await;
    assert_status_only(&snapshot);
    assert_eq!(snapshot["id"], id.as_str());
    assert_eq!(snapshot["status"], "queued");
    assert!(snapshot["completed_at"].is_null());

    move_job(app.app(), &id, JobStatus::Processing).await;
    let processing = ws.update().await;
    assert_status_only(&processing);
    assert_eq!(processing["status"], "processing");

    move_job(app.app(), &id, JobStatus::Succeeded).await;
    let done = ws.update().await;
    assert_status_only(&done);
    assert_eq!(done["status"], "succeeded");
    assert!(done["completed_at"].is_string());
    assert_eq!(done["status_reason"], "test moved it to succeeded");
    assert_eq!(ws.close_code().await, 1000);
}

#[tokio::test]
async fn the_owner_and_admins_see_whole_jobs_with_every_kind_of_token() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let admin = app.new_admin().await;
    let id = upload(&app, &alice).await;
    let path = format!("/api/ws/jobs/{id}");
    let rest = get_job(&app, &alice, &id).await;

    let mut sockets = vec![
        Socket::open(&app, &path, Auth::Query(&alice.token)).await,
        Socket::open(&app, &path, Auth::Header(&alice.token)).await,
        Socket::open(&app, &path, Auth::Protocol(&alice.token)).await,
        Socket::open(&app, &format!("/ws/jobs/{id}"), Auth::Header(&admin.token)).await,
    ];
    assert_eq!(sockets[2].protocol.as_deref(), Some("bearer"));
    for ws in &mut sockets {
        // The snapshot is the REST API's Job JSON, field for field and in order.
        let snapshot = ws.update().await;
        assert_eq!(snapshot, rest);
        let keys: Vec<&String> = snapshot.as_object().unwrap().keys().collect();
        let rest_keys: Vec<&String> = rest.as_object().unwrap().keys().collect();
        assert_eq!(keys, rest_keys);
    }
    assert_eq!(app.app().open_watches(), 4);
    assert_eq!(open_sockets_metric(&app).await, 4);

    let cancelled = app
        .client
        .post(app.url(&format!("/jobs/{id}/cancel")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    let cancelled = ok_json(cancelled, 200).await;
    for ws in &mut sockets {
        assert_eq!(ws.update().await, cancelled);
        assert_eq!(ws.close_code().await, 1000);
    }
    // Closed sockets leave nothing behind.
    eventually("every watch ended", || app.app().open_watches() == 0).await;
    assert_eq!(open_sockets_metric(&app).await, 0);
}

/// `triage_websockets_open` of `/metrics`.
async fn open_sockets_metric(app: &TestApp) -> i64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("triage_websockets_open "))
        .unwrap_or_else(|| panic!("no gauge in {text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_token_for_someone_elses_job_is_closed_with_4403() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let id = upload(&app, &alice).await;
    let path = format!("/api/ws/jobs/{id}");
    for auth in [
        Auth::Query(&bob.token),
        Auth::Header(&bob.token),
        Auth::Protocol(&bob.token),
    ] {
        let mut ws = Socket::open(&app, &path, auth).await;
        // Refused before any frame: nothing about the job leaks.
        assert_eq!(ws.close_code().await, 4403, "{auth:?}");
    }
}

#[tokio::test]
async fn a_bad_token_is_closed_with_4401() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let other = spawn().await;
    let foreign = other.new_user().await;
    let path = format!("/api/ws/jobs/{id}");
    for token in ["garbage", "a.b.c", foreign.token.as_str()] {
        for auth in [
            Auth::Query(token),
            Auth::Header(token),
            Auth::Protocol(token),
        ] {
            let mut ws = Socket::open(&app, &path, auth).await;
            assert_eq!(ws.close_code().await, 4401, "{auth:?}");
        }
    }
}

#[tokio::test]
async fn without_anonymous_frames_a_socket_needs_a_token() {
    let app = spawn_with(|config| config.ws.anonymous_status_frames = false).await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let path = format!("/api/ws/jobs/{id}");
    let mut ws = Socket::open(&app, &path, Auth::Anonymous).await;
    assert_eq!(ws.close_code().await, 4401);
    let mut ws = Socket::open(&app, &path, Auth::Query(&alice.token)).await;
    assert_eq!(ws.update().await["title"], "ct-normal.zip");
}

#[tokio::test]
async fn an_unknown_id_gets_not_found_stays_open_and_gets_the_job_when_it_appears() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let id = JobId::random();
    let path = format!("/api/ws/jobs/{id}");
    let mut anonymous = Socket::open(&app, &path, Auth::Anonymous).await;
    let mut owner = Socket::open(&app, &path, Auth::Header(&alice.token)).await;
    let mut stranger = Socket::open(&app, &path, Auth::Header(&bob.token)).await;
    for ws in [&mut anonymous, &mut owner, &mut stranger] {
        let frame = ws.frame().await;
        assert_eq!(
            frame,
            json!({"type": "job.not_found", "job_id": id.to_string()})
        );
    }
    anonymous.stays_quiet(Duration::from_millis(300)).await;

    create_job(app.app(), &alice.id, id).await;
    let seen = anonymous.update().await;
    assert_status_only(&seen);
    assert_eq!(seen["status"], "queued");
    let full = owner.update().await;
    assert_eq!(full["id"], id.to_string());
    assert_eq!(full["owner_id"], alice.id.as_str());
    assert!(full["title"].is_string());
    // Once the job exists it is someone else's.
    assert_eq!(stranger.close_code().await, 4403);
}

#[tokio::test]
async fn a_resync_request_is_answered_with_a_fresh_snapshot_and_other_frames_are_ignored() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let mut ws = Socket::open(&app, &format!("/api/ws/jobs/{id}"), Auth::Anonymous).await;
    let first = ws.update().await;

    ws.send_json(json!({"type": "hello"})).await;
    ws.stays_quiet(Duration::from_millis(300)).await;
    ws.send_json(json!({"type": "resync"})).await;
    assert_eq!(ws.update().await, first);

    // Requests in a burst are merged, never dropped: the last one is answered.
    for _ in 0..5 {
        ws.send_json(json!({"type": "resync"})).await;
    }
    assert_eq!(ws.update().await, first);
    while let Some(event) = ws.event_within(Duration::from_millis(800)).await {
        match event {
            Event::Frame(frame) => assert_eq!(frame["job"], first),
            other => panic!("unexpected {other:?}"),
        }
    }

    let mut unknown = Socket::open(
        &app,
        &format!("/api/ws/jobs/{}", JobId::random()),
        Auth::Anonymous,
    )
    .await;
    let not_found = unknown.frame().await;
    unknown.send_json(json!({"type": "resync"})).await;
    assert_eq!(unknown.frame().await, not_found);
}

#[tokio::test]
async fn a_terminal_job_is_sent_once_and_closed() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    move_job(app.app(), &id, JobStatus::Cancelled).await;
    let mut ws = Socket::open(&app, &format!("/api/ws/jobs/{id}"), Auth::Anonymous).await;
    assert_eq!(ws.update().await["status"], "cancelled");
    assert_eq!(ws.close_code().await, 1000);
}

#[tokio::test]
async fn deleting_a_job_ends_its_watch() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let mut ws = Socket::open(&app, &format!("/api/ws/jobs/{id}"), Auth::Anonymous).await;
    ws.update().await;
    let deleted = app
        .client
        .delete(app.url(&format!("/jobs/{id}")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        ws.frame().await,
        json!({"type": "job.deleted", "job_id": id})
    );
    assert_eq!(ws.close_code().await, 1000);
}

#[tokio::test]
async fn every_change_is_one_frame_in_version_order() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let mut ws = Socket::open(&app, &format!("/ws/jobs/{id}"), Auth::Query(&alice.token)).await;
    ws.update().await;
    for n in 0..20 {
        let body = json!({"title": format!("title {n}")});
        let res = app
            .client
            .put(app.url(&format!("/jobs/{id}")))
            .header("Authorization", alice.bearer())
            .json(&body)
            .send()
            .await
            .unwrap();
        ok_json(res, 200).await;
    }
    // Edits may be merged when they come faster than they are read, but never reordered or
    // repeated, and the last one always arrives.
    let mut last = -1;
    loop {
        let job = ws.update().await;
        let n: i64 = job["title"].as_str().unwrap()["title ".len()..]
            .parse()
            .unwrap();
        assert!(n > last, "{n} after {last}");
        last = n;
        if n == 19 {
            break;
        }
    }
    ws.stays_quiet(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn silent_clients_are_dropped_and_answering_ones_are_kept() {
    let app = spawn_with(|config| {
        config.ws.ping_interval_secs = 1;
        config.ws.idle_timeout_secs = 3;
    })
    .await;
    let path = format!("/api/ws/jobs/{}", JobId::random());
    let mut ws = Socket::open(&app, &path, Auth::Anonymous).await;
    ws.frame().await;
    // Reading answers the pings: the socket outlives the idle timeout.
    ws.stays_quiet(Duration::from_secs(5)).await;

    // Not reading: no pongs, dropped after the idle timeout (with a goodbye).
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    match ws.event().await {
        Event::Closed(Some(1001)) | Event::Gone(_) => {}
        other => panic!("expected the idle socket to be dropped, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5) + WAIT);
}

#[tokio::test]
async fn shutting_down_closes_open_sockets_at_once() {
    let app = spawn().await;
    let mut ws = Socket::open(
        &app,
        &format!("/api/ws/jobs/{}", JobId::random()),
        Auth::Anonymous,
    )
    .await;
    ws.frame().await;
    let started = Instant::now();
    let stopping = tokio::spawn(app.stop());
    assert_eq!(ws.close_code().await, 1001);
    tokio::time::timeout(WAIT, stopping)
        .await
        .expect("the server stops without waiting for its sockets")
        .unwrap();
    assert!(started.elapsed() < WAIT);
}

#[tokio::test]
async fn the_routes_refuse_what_is_not_a_watcher_handshake() {
    let app = spawn().await;
    let id = JobId::random();
    for path in [
        format!("/ws/jobs/{id}"),
        format!("/api/ws/jobs/{id}"),
        "/ws/jobs".into(),
    ] {
        // A plain GET.
        let res = app.client.get(app.url(&path)).send().await.unwrap();
        let body = ok_json(res, 400).await;
        assert_eq!(body["code"], "websocket_required", "{path}");
        // Another method.
        let res = app.client.post(app.url(&path)).send().await.unwrap();
        assert_eq!(res.status(), 405, "{path}");
    }
    // A malformed id is 404, before any upgrade.
    let err = Socket::try_open(&app, "/api/ws/jobs/not-a-uuid", Auth::Anonymous)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_up_nobody() {
    let app = spawn().await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let path = format!("/api/ws/jobs/{id}");
    let mut stalled = Socket::open(&app, &path, Auth::Header(&alice.token)).await;
    stalled.update().await;
    let mut reader = Socket::open(&app, &path, Auth::Header(&alice.token)).await;
    reader.update().await;

    // Frames of ~10 kB each, far more than the stalled socket's buffers hold.
    let long = "x".repeat(9_000);
    let edits = 400;
    let reading = tokio::spawn(async move {
        loop {
            let job = reader.update().await;
            if job["title"] == format!("edit {}", edits - 1) {
                return job;
            }
        }
    });
    for n in 0..edits {
        let body = json!({"title": format!("edit {n}"), "description": format!("{n} {long}")});
        let res = app
            .client
            .put(app.url(&format!("/jobs/{id}")))
            .header("Authorization", alice.bearer())
            .json(&body)
            .send()
            .await
            .unwrap();
        ok_json(res, 200).await;
    }
    // The reader saw the last edit although the other socket never read a byte.
    let last = tokio::time::timeout(WAIT, reading)
        .await
        .expect("the reader keeps up")
        .unwrap();
    assert!(
        last["description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} ", edits - 1))
    );
    drop(stalled);
}
