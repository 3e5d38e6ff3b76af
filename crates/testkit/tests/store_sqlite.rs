//! The store contract on SQLite (a fresh database file in a temp dir per test), plus what
//! only the SQLite backend does: open an existing file, run on a current-thread runtime.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use triage_domain::ports::{JobStore, UserStore};
use triage_domain::{DomainError, JobStatus, Role};
use triage_store_diesel::{PoolOptions, SqliteStore};
use triage_testkit::contract::jobs::new_job;
use triage_testkit::contract::users::{Stores, at, new_user};

async fn sqlite() -> Option<Stores> {
    let dir = tempfile::tempdir().unwrap();
    // A missing parent directory is created.
    let store = SqliteStore::open(&dir.path().join("data/triage.db"), &PoolOptions::default())
        .await
        .unwrap();
    Some(Stores::new(store, dir))
}

triage_testkit::store_contract!(sqlite());

#[tokio::test]
async fn reopening_keeps_the_data_and_migrates_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let store = SqliteStore::open(&path, &PoolOptions::default())
        .await
        .unwrap();
    let user = UserStore::create(&store, new_user("keeper", Role::Admin, at(0)))
        .await
        .unwrap();
    let job = JobStore::create(&store, new_job(user.id, at(1)))
        .await
        .unwrap();
    drop(store);
    let again = SqliteStore::open(&path, &PoolOptions::default())
        .await
        .unwrap();
    assert_eq!(UserStore::get(&again, user.id).await.unwrap(), Some(user));
    assert_eq!(JobStore::get(&again, job.id).await.unwrap(), Some(job));
    // WAL mode leaves its log beside the database while connections are open.
    assert!(dir.path().join("triage.db-wal").exists());
}

/// actix-web runs handlers on current-thread runtimes; the store must work there too.
#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("triage.db"), &PoolOptions::default())
        .await
        .unwrap();
    let users: Arc<dyn UserStore> = Arc::new(store.clone());
    let jobs: Arc<dyn JobStore> = Arc::new(store);
    let owner = users
        .create(new_user("solo", Role::User, at(0)))
        .await
        .unwrap();
    let job = jobs.create(new_job(owner.id, at(1))).await.unwrap();
    let claimed = jobs
        .claim("w", JobStatus::Queued, at(2), at(3), 5)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].0, job);
    users.delete(owner.id).await.unwrap();
    assert_eq!(jobs.get(job.id).await.unwrap(), None);
}

/// Every `down.sql`, newest first, undoes its `up.sql` completely; opening the file again
/// migrates it back.
#[tokio::test]
async fn down_migrations_undo_everything() {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    drop(
        SqliteStore::open(&path, &PoolOptions::default())
            .await
            .unwrap(),
    );
    let mut raw = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/sqlite");
    let mut migrations: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    migrations.sort();
    for migration in migrations.iter().rev() {
        raw.batch_execute(&std::fs::read_to_string(migration.join("down.sql")).unwrap())
            .unwrap();
    }
    let tables = "SELECT count(*) AS n FROM sqlite_master \
                  WHERE type = 'table' AND name NOT IN ('__diesel_schema_migrations', 'sqlite_sequence')";
    assert_eq!(
        diesel::sql_query(tables)
            .get_result::<Count>(&mut raw)
            .unwrap()
            .n,
        0
    );
    raw.batch_execute("DELETE FROM __diesel_schema_migrations")
        .unwrap();
    drop(raw);
    let store = SqliteStore::open(&path, &PoolOptions::default())
        .await
        .unwrap();
    let owner = UserStore::create(&store, new_user("back", Role::User, at(0)))
        .await
        .unwrap();
    JobStore::create(&store, new_job(owner.id, at(1)))
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unusable_location_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(&file.join("triage.db"), &PoolOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DomainError::Unavailable {
                service: "database",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_pool_of_zero_connections_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let options = PoolOptions {
        max_size: 0,
        ..PoolOptions::default()
    };
    let err = SqliteStore::open(&dir.path().join("triage.db"), &options)
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Invalid { .. }), "{err:?}");
}

/// Another process holding the write lock longer than the wait: an outage, not a bug.
#[tokio::test]
async fn a_locked_database_is_unavailable() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let quick = std::time::Duration::from_millis(200);
    let options = PoolOptions {
        wait_timeout: quick,
        ..PoolOptions::default()
    };
    let store = SqliteStore::open(&path, &options).await.unwrap();
    let mut other = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    diesel::sql_query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .unwrap();
    let err = UserStore::create(&store, new_user("blocked", Role::User, at(0)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DomainError::Unavailable {
                service: "database",
                ..
            }
        ),
        "{err:?}"
    );
    diesel::sql_query("ROLLBACK").execute(&mut other).unwrap();
    UserStore::create(&store, new_user("blocked", Role::User, at(0)))
        .await
        .unwrap();
}

/// Rows the domain cannot read are the store's fault (500), never the caller's.
#[tokio::test]
async fn corrupt_rows_are_internal_errors() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let store = SqliteStore::open(&path, &PoolOptions::default())
        .await
        .unwrap();
    let mut raw = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    diesel::sql_query(
        "INSERT INTO users (id, username, username_key, role, password_hash, created_at, updated_at) \
         VALUES ('not-a-uuid', 'ghost', 'ghost', 'user', 'x', '2030-01-01 00:00:00', '2030-01-01 00:00:00')",
    )
    .execute(&mut raw)
    .unwrap();
    let err = UserStore::find_by_username(&store, "ghost")
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Internal(_)), "{err:?}");
    let err = UserStore::list(&store, 0, 10).await.unwrap_err();
    assert!(matches!(err, DomainError::Internal(_)), "{err:?}");
}

/// Rows keyed by an older rule (plain lower case) are re-keyed when the store opens.
#[tokio::test]
async fn opening_rekeys_usernames_stored_under_the_old_rule() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    drop(
        SqliteStore::open(&path, &PoolOptions::default())
            .await
            .unwrap(),
    );
    let mut raw = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    diesel::sql_query(
        "INSERT INTO users (id, username, username_key, role, password_hash, created_at, updated_at) \
         VALUES ('0190a000-0000-7000-8000-000000000001', 'Ｗｉｄｅ', 'ｗｉｄｅ', 'user', 'x', \
         '2030-01-01 00:00:00', '2030-01-01 00:00:00')",
    )
    .execute(&mut raw)
    .unwrap();
    drop(raw);
    let store = SqliteStore::open(&path, &PoolOptions::default())
        .await
        .unwrap();
    let found = UserStore::find_by_username(&store, "wide").await.unwrap();
    assert_eq!(found.map(|u| u.username), Some("Ｗｉｄｅ".to_owned()));
    let err = UserStore::create(&store, new_user("WIDE", Role::User, at(0)))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Conflict(_)), "{err:?}");
}

/// A completion whose study fan-out fails half-way (a trigger refuses the analysis write)
/// leaves the job as it was and the study unchanged: both are one transaction.
#[tokio::test(flavor = "multi_thread")]
async fn a_completion_failing_half_way_changes_neither_job_nor_study() {
    use diesel::{Connection, SqliteConnection, connection::SimpleConnection};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("triage.db");
    let store = SqliteStore::open(&path, &PoolOptions::default())
        .await
        .unwrap();
    let stores = Stores::new(store, ());
    let owner = triage_testkit::contract::users::user(&stores, "owner", Role::User).await;
    let job = triage_testkit::contract::studies::job_with(&stores, owner.id, 1, &["1.2.3"]).await;
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON study_analyses \
         WHEN NEW.completed_at IS NOT NULL \
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
    )
    .unwrap();
    triage_testkit::contract::studies::completion_failing_half_way_changes_nothing(&stores, job)
        .await;
}
