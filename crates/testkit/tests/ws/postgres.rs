//! Two replicas on one PostgreSQL database: a watcher on one sees the changes made on the
//! other (NOTIFY from the writing transaction, LISTEN on each replica's own connection), and a
//! replica whose listener connection dies reconnects and tells its watchers to resync.
//! Skipped with a `skipping:` line without PostgreSQL, except under `CI=true`.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use triage_domain::{JobId, JobStatus};
use triage_testkit::pg::TestDb;
use triage_testkit::{Actor, TestApp, ok_json};

use crate::client::{Auth, Event, Socket, assert_status_only, create_job, move_job, spawn_with};

/// How fast a change must reach a watcher on another replica.
const ACROSS_REPLICAS: Duration = Duration::from_secs(1);

/// Two replicas of one deployment: same database, same JWT secret.
async fn replicas(db: &TestDb) -> (TestApp, TestApp) {
    let secret = format!("shared-test-secret-{}", uuid::Uuid::new_v4());
    let replica = || {
        let (url, secret) = (db.url().to_owned(), secret.clone());
        spawn_with(move |config| {
            config.database.url = url;
            config.auth.jwt_secret = secret.into();
        })
    };
    let a = replica().await;
    let b = replica().await;
    (a, b)
}

async fn frame_within(ws: &mut Socket, within: Duration) -> Value {
    match ws.event_within(within).await {
        Some(Event::Frame(frame)) => frame,
        other => panic!("expected a frame within {within:?}, got {other:?}"),
    }
}

async fn upload(app: &TestApp, actor: &Actor) -> String {
    let job = ok_json(app.upload_fixture(actor, "ct-normal.zip").await, 201).await;
    job["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_watcher_on_one_replica_sees_changes_made_on_another() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = replicas(&db).await;
    let alice = b.new_user().await;
    let mut all_on_a = Socket::open(&a, "/api/ws/jobs", Auth::Header(&alice.token)).await;
    all_on_a.stays_quiet(Duration::from_millis(200)).await;

    let id = upload(&b, &alice).await;
    let created = frame_within(&mut all_on_a, ACROSS_REPLICAS).await;
    assert_eq!(created["type"], "job.update");
    assert_eq!(created["job"]["id"], id.as_str());

    let path = format!("/api/ws/jobs/{id}");
    let mut anonymous_on_a = Socket::open(&a, &path, Auth::Anonymous).await;
    let mut owner_on_a = Socket::open(&a, &path, Auth::Protocol(&alice.token)).await;
    assert_status_only(&anonymous_on_a.update().await);
    assert_eq!(owner_on_a.update().await["status"], "queued");

    move_job(b.app(), &id, JobStatus::Processing).await;
    for ws in [&mut anonymous_on_a, &mut owner_on_a, &mut all_on_a] {
        let frame = frame_within(ws, ACROSS_REPLICAS).await;
        assert_eq!(frame["job"]["status"], "processing", "{frame}");
    }

    let res = b
        .client
        .post(b.url(&format!("/jobs/{id}/cancel")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    let cancelled = ok_json(res, 200).await;
    let frame = frame_within(&mut owner_on_a, ACROSS_REPLICAS).await;
    assert_eq!(frame["job"], cancelled);
    assert_eq!(owner_on_a.close_code().await, 1000);
    let frame = frame_within(&mut anonymous_on_a, ACROSS_REPLICAS).await;
    assert_status_only(&frame["job"]);
    assert_eq!(frame["job"]["status"], "cancelled");
    assert_eq!(anonymous_on_a.close_code().await, 1000);
    assert_eq!(
        frame_within(&mut all_on_a, ACROSS_REPLICAS).await["job"],
        cancelled
    );

    // A job that appears on B for an id watched on A.
    let later = JobId::random();
    let mut waiting_on_a = Socket::open(&a, &format!("/ws/jobs/{later}"), Auth::Anonymous).await;
    assert_eq!(waiting_on_a.frame().await["type"], "job.not_found");
    create_job(b.app(), &alice.id, later).await;
    let frame = frame_within(&mut waiting_on_a, ACROSS_REPLICAS).await;
    assert_eq!(frame["job"]["id"], later.to_string());
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Terminates the listener connections on the test database; returns how many there were.
async fn kill_listeners(db: &TestDb) -> i64 {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE application_name = 'triage-listener' AND datname = current_database()",
    )
    .get_result::<Count>(&mut conn)
    .await
    .unwrap()
    .n
}

#[tokio::test]
async fn watchers_resync_after_the_listener_reconnects() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let (a, b) = replicas(&db).await;
    let alice = a.new_user().await;
    let id = upload(&a, &alice).await;
    let mut ws = Socket::open(&a, &format!("/api/ws/jobs/{id}"), Auth::Anonymous).await;
    let snapshot = ws.update().await;
    let mut all = Socket::open(&a, "/ws/jobs", Auth::Query(&alice.token)).await;
    assert_eq!(all.update().await["id"], id.as_str());

    // One listener per replica, each on its own connection.
    assert_eq!(kill_listeners(&db).await, 2);
    assert_eq!(ws.frame().await, json!({"type": "resync"}));
    assert_eq!(ws.update().await, snapshot);
    assert_eq!(all.frame().await, json!({"type": "resync"}));
    assert_eq!(all.update().await["id"], id.as_str());

    // Listening again: later changes from either replica arrive.
    move_job(b.app(), &id, JobStatus::Processing).await;
    let frame = frame_within(&mut ws, ACROSS_REPLICAS).await;
    assert_eq!(frame["job"]["status"], "processing");
    assert_eq!(
        frame_within(&mut all, ACROSS_REPLICAS).await["job"]["status"],
        "processing"
    );
    move_job(a.app(), &id, JobStatus::Failed).await;
    let frame = frame_within(&mut ws, ACROSS_REPLICAS).await;
    assert_eq!(frame["job"]["status"], "failed");
    assert_eq!(ws.close_code().await, 1000);
}

/// Changes the job's title in SQL and announces it as the store does, then commits or rolls
/// back.
async fn raw_change(db: &TestDb, id: &str, owner: &str, title: &str, commit: bool) {
    use diesel_async::SimpleAsyncConnection;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let version: i64 = diesel::sql_query("SELECT version + 1 AS n FROM jobs WHERE id = $1")
        .bind::<diesel::sql_types::Text, _>(id)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n;
    let change = json!({
        "job_id": id, "owner_id": owner, "kind": "updated", "status": "queued", "version": version,
    });
    let end = if commit { "COMMIT" } else { "ROLLBACK" };
    conn.batch_execute(&format!(
        "BEGIN; \
         UPDATE jobs SET title = '{title}', version = {version} WHERE id = '{id}'; \
         SELECT pg_notify('triage_job_changes', '{change}'); \
         {end};"
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn only_committed_changes_are_announced() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let url = db.url().to_owned();
    let app = spawn_with(move |config| config.database.url = url).await;
    let alice = app.new_user().await;
    let id = upload(&app, &alice).await;
    let mut ws = Socket::open(&app, &format!("/ws/jobs/{id}"), Auth::Header(&alice.token)).await;
    assert_eq!(ws.update().await["title"], "ct-normal.zip");

    raw_change(&db, &id, &alice.id, "rolled back", false).await;
    ws.stays_quiet(Duration::from_millis(500)).await;
    raw_change(&db, &id, &alice.id, "committed", true).await;
    let frame = frame_within(&mut ws, ACROSS_REPLICAS).await;
    assert_eq!(frame["job"]["title"], "committed");
    assert_eq!(frame["job"]["status"], "queued");
}
