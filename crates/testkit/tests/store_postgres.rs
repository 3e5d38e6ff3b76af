//! The store contract on PostgreSQL (a database cloned from the migrated template per test),
//! plus the migration runner and the error mapping of an unreachable server. Skipped with a
//! `skipping:` line when PostgreSQL is not reachable, except under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use triage_domain::ports::{JobStore, UserStore};
use triage_domain::{DomainError, Role};
use triage_store_diesel::{PgStore, PoolOptions, migrate_postgres};
use triage_testkit::contract::jobs::new_job;
use triage_testkit::contract::users::{Stores, at, new_user};
use triage_testkit::pg::TestDb;

async fn postgres() -> Option<Stores> {
    let db = TestDb::create().await?;
    let store = PgStore::connect(db.url(), &PoolOptions::default()).unwrap();
    Some(Stores::new(store, db))
}

triage_testkit::store_contract!(postgres());

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// (applied migrations, columns in the public schema)
async fn schema_fingerprint(url: &str) -> (i64, i64) {
    let mut conn = AsyncPgConnection::establish(url).await.unwrap();
    let count = async |conn: &mut AsyncPgConnection, sql: &str| {
        diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .await
            .unwrap()
            .n
    };
    let migrations = count(
        &mut conn,
        "SELECT count(*) AS n FROM __diesel_schema_migrations",
    )
    .await;
    let columns = count(
        &mut conn,
        "SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = 'public'",
    )
    .await;
    (migrations, columns)
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_apply_once_and_rerun_as_a_no_op() {
    let Some(db) = TestDb::create_empty().await else {
        return;
    };
    migrate_postgres(db.url()).await.unwrap();
    let migrated = schema_fingerprint(db.url()).await;
    assert!(migrated.0 >= 1 && migrated.1 > 20, "{migrated:?}");
    migrate_postgres(db.url()).await.unwrap();
    migrate_postgres(db.url()).await.unwrap();
    assert_eq!(schema_fingerprint(db.url()).await, migrated);
    // And the result is a working store.
    let store = PgStore::connect(db.url(), &PoolOptions::default()).unwrap();
    let owner = UserStore::create(&store, new_user("m", Role::User, at(0)))
        .await
        .unwrap();
    JobStore::create(&store, new_job(owner.id, at(1)))
        .await
        .unwrap();
}

/// `AsyncMigrationHarness` would panic here (it uses `block_in_place`).
#[tokio::test(flavor = "current_thread")]
async fn migrate_postgres_works_on_a_current_thread_runtime() {
    let Some(db) = TestDb::create_empty().await else {
        return;
    };
    migrate_postgres(db.url()).await.unwrap();
    assert!(schema_fingerprint(db.url()).await.0 >= 1);
}

/// Replicas starting together: concurrent migrations of one database all succeed, once.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_migrations_are_serialised() {
    let Some(db) = TestDb::create_empty().await else {
        return;
    };
    let runs: Vec<_> = (0..4)
        .map(|_| tokio::spawn(migrate_postgres_owned(db.url().to_owned())))
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
    let reference = TestDb::create().await.unwrap();
    assert_eq!(
        schema_fingerprint(db.url()).await,
        schema_fingerprint(reference.url()).await
    );
}

async fn migrate_postgres_owned(url: String) -> Result<(), DomainError> {
    migrate_postgres(&url).await
}

/// Every `down.sql`, newest first, undoes its `up.sql` completely; migrating again rebuilds
/// the same schema.
#[tokio::test(flavor = "multi_thread")]
async fn down_migrations_undo_everything() {
    use diesel_async::SimpleAsyncConnection;
    let Some(db) = TestDb::create().await else {
        return;
    };
    let migrated = schema_fingerprint(db.url()).await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    for down in down_scripts("postgres") {
        conn.batch_execute(&down).await.unwrap();
    }
    let count = "SELECT count(*) AS n FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'";
    assert_eq!(
        diesel::sql_query(count)
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n,
        0
    );
    conn.batch_execute("DELETE FROM __diesel_schema_migrations")
        .await
        .unwrap();
    drop(conn);
    migrate_postgres(db.url()).await.unwrap();
    assert_eq!(schema_fingerprint(db.url()).await, migrated);
}

/// The `down.sql` scripts under `migrations/<backend>`, newest first.
fn down_scripts(backend: &str) -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    dirs.sort();
    dirs.iter()
        .rev()
        .map(|dir| std::fs::read_to_string(dir.join("down.sql")).unwrap())
        .collect()
}

#[tokio::test]
async fn malformed_urls_are_invalid_and_never_echoed() {
    for url in [
        "postgres://user:hunter2@host:notaport/db",
        "postgres://[::1",
    ] {
        let err = PgStore::connect(url, &PoolOptions::default()).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { .. }), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = migrate_postgres(url).await.unwrap_err();
        assert!(matches!(err, DomainError::Invalid { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on loopback: connection refused at once.
    let url = "postgres://postgres:hunter2@127.0.0.1:1/triage";
    let quick = Duration::from_secs(2);
    let options = PoolOptions {
        max_size: 2,
        wait_timeout: quick,
        create_timeout: quick,
        recycle_timeout: quick,
    };
    let store = PgStore::connect(url, &options).unwrap();
    let err = store.ping().await.unwrap_err();
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
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = UserStore::get(&store, triage_domain::UserId::random())
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let err = migrate_postgres(url).await.unwrap_err();
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

/// Rows keyed by an older rule (plain lower case) are re-keyed by the migration runner.
#[tokio::test(flavor = "multi_thread")]
async fn migrating_rekeys_usernames_stored_under_the_old_rule() {
    let Some(db) = TestDb::create().await else {
        return;
    };
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    diesel::sql_query(
        "INSERT INTO users (id, username, username_key, role, password_hash, created_at, updated_at) \
         VALUES ('0190a000-0000-7000-8000-000000000001', 'Ｗｉｄｅ', 'ｗｉｄｅ', 'user', 'x', \
         '2030-01-01 00:00:00', '2030-01-01 00:00:00')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    migrate_postgres(db.url()).await.unwrap();
    let store = PgStore::connect(db.url(), &PoolOptions::default()).unwrap();
    let found = UserStore::find_by_username(&store, "wide").await.unwrap();
    assert_eq!(found.map(|u| u.username), Some("Ｗｉｄｅ".to_owned()));
}

/// A completion whose study fan-out fails half-way (a trigger refuses the analysis write)
/// leaves the job as it was and the study unchanged: both are one transaction.
#[tokio::test(flavor = "multi_thread")]
async fn a_completion_failing_half_way_changes_neither_job_nor_study() {
    use diesel_async::SimpleAsyncConnection;
    let Some(db) = TestDb::create().await else {
        return;
    };
    let store = PgStore::connect(db.url(), &PoolOptions::default()).unwrap();
    let stores = Stores::new(store, ());
    let owner = triage_testkit::contract::users::user(&stores, "owner", Role::User).await;
    let job = triage_testkit::contract::studies::job_with(&stores, owner.id, 1, &["1.2.3"]).await;
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    conn.batch_execute(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
         CREATE TRIGGER refuse BEFORE UPDATE ON study_analyses \
         FOR EACH ROW WHEN (NEW.completed_at IS NOT NULL) EXECUTE FUNCTION refuse();",
    )
    .await
    .unwrap();
    triage_testkit::contract::studies::completion_failing_half_way_changes_nothing(&stores, job)
        .await;
}
