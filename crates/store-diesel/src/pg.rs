//! The production backend: PostgreSQL through `AsyncPgConnection`, and the PostgreSQL-only
//! SQL: the `FOR UPDATE SKIP LOCKED` claim, the advisory lock of the last-admin rule, and the
//! migration runner.

use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use triage_domain::{DomainError, DomainResult};

use crate::connection::{BoxFuture, StoreConnection};
use crate::error::{StoreError, map_error};
use crate::models::QueueRow;
use crate::queue::{insert_queue_entry_if_missing, upsert_queue_entry};
use crate::users::rekey_usernames;
use crate::{DieselStore, PoolOptions, build_pool};

/// The store on PostgreSQL: production, several replicas may share the database.
pub type PgStore = DieselStore<AsyncPgConnection>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// Advisory lock keys (64-bit, arbitrary but fixed): "triage" in ASCII plus a number.
const ADMIN_LOCK: i64 = 0x7472_6961_6765_0001;
const MIGRATION_LOCK: i64 = 0x7472_6961_6765_0002;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The NOTIFY channel of job changes; `triage-events-pg` listens on the same name.
pub const JOB_CHANGES_CHANNEL: &str = "triage_job_changes";

/// Leases the oldest claimable entries in one statement. `SKIP LOCKED` makes concurrent
/// claimers (other replicas) pass over rows another claim is leasing right now instead of
/// waiting for them or leasing them twice; rows changed by a claim that committed meanwhile
/// are re-checked against the WHERE clause before they are locked.
const CLAIM: &str = "\
    UPDATE job_queue SET lease_owner = $1, lease_expires_at = $2 \
    WHERE job_id IN ( \
        SELECT job_id FROM job_queue \
        WHERE available_at <= $3 AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
          AND job_id IN (SELECT id FROM jobs WHERE status = $5) \
        ORDER BY available_at, job_id \
        LIMIT $4 \
        FOR UPDATE SKIP LOCKED) \
    RETURNING job_id, enqueued_at, available_at, lease_owner, lease_expires_at";

impl PgStore {
    /// A store on the database at `url`. The pool is lazy: nothing connects until the first
    /// call, so this never fails on an unreachable database. A reused connection answers
    /// `SELECT 1` before it is handed out, so a database restart costs no failed calls.
    ///
    /// # Errors
    /// `Invalid` when `url` is not a PostgreSQL connection string or `max_size` is 0.
    pub fn connect(url: &str, opts: &PoolOptions) -> DomainResult<Self> {
        validate_url(url)?;
        let manager = AsyncDieselConnectionManager::new_with_config(url, ManagerConfig::default());
        Ok(Self {
            pool: build_pool(manager, opts.max_size, opts)?,
        })
    }
}

fn validate_url(url: &str) -> DomainResult<()> {
    // Never echo the URL: it may hold a password.
    match url.parse::<tokio_postgres::Config>() {
        Ok(_) => Ok(()),
        Err(_) => Err(DomainError::invalid(
            "database.url",
            "is not a valid PostgreSQL connection URL",
        )),
    }
}

/// Applies pending migrations (`migrations/postgres`) to the database at `url`. Replicas
/// starting together are safe: a session advisory lock lets one migrate at a time.
///
/// Works from any tokio runtime, current-thread included: diesel's migration harness is
/// synchronous (diesel-async's `AsyncMigrationHarness` bridges with `block_in_place`, which
/// panics on a current-thread runtime), so the migration runs on its own thread with its own
/// runtime, and this future only waits for the outcome.
///
/// # Errors
/// `Invalid` for a malformed URL; `Unavailable` when the database cannot be reached;
/// `Internal` when a migration fails.
pub async fn migrate_postgres(url: &str) -> DomainResult<()> {
    validate_url(url)?;
    let url = url.to_owned();
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("triage-migrate".into())
        .spawn(move || {
            let _ = done.send(migrate_on_own_runtime(&url));
        })
        .map_err(|err| {
            DomainError::internal(format!("cannot start the migration thread: {err}"))
        })?;
    outcome
        .await
        .unwrap_or_else(|_| Err(DomainError::internal("the migration thread panicked")))
}

fn migrate_on_own_runtime(url: &str) -> DomainResult<()> {
    // Multi-thread: the harness's `block_in_place` needs it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|err| {
            DomainError::internal(format!("cannot start the migration runtime: {err}"))
        })?;
    runtime.block_on(async {
        let mut conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "cannot connect to PostgreSQL to migrate");
                    return Err(DomainError::unavailable("database", "cannot connect"));
                }
                Err(_) => return Err(DomainError::unavailable("database", "timed out connecting")),
            };
        lock(&mut conn, "SELECT pg_advisory_lock($1)", MIGRATION_LOCK).await?;
        let mut harness = AsyncMigrationHarness::new(conn);
        let applied = harness
            .run_pending_migrations(MIGRATIONS)
            .map(|done| done.len())
            .map_err(|err| err.to_string());
        let mut conn = harness.into_inner();
        // Still under the lock, so that replicas starting together re-key once.
        let rekeyed = match applied {
            Ok(_) => rekey_usernames(&mut conn)
                .await
                .map_err(|err| map_error(err, None)),
            Err(_) => Ok(()),
        };
        // Closing the connection would release it too; unlock so that a failure is quick.
        let _ = lock(&mut conn, "SELECT pg_advisory_unlock($1)", MIGRATION_LOCK).await;
        match applied {
            Ok(count) => {
                tracing::info!(applied = count, "PostgreSQL migrations");
                rekeyed
            }
            Err(err) => Err(DomainError::internal(format!(
                "database migrations failed: {err}"
            ))),
        }
    })
}

async fn lock(conn: &mut AsyncPgConnection, sql: &'static str, key: i64) -> DomainResult<()> {
    diesel::sql_query(sql)
        .bind::<BigInt, _>(key)
        .execute(conn)
        .await
        .map(drop)
        .map_err(|err| map_error(err.into(), None))
}

impl StoreConnection for AsyncPgConnection {
    fn write_transaction<'c, R, F>(&'c mut self, work: F) -> BoxFuture<'c, Result<R, StoreError>>
    where
        F: for<'r> FnOnce(&'r mut Self) -> BoxFuture<'r, Result<R, StoreError>>
            + for<'r> AsyncFnOnce(&'r mut Self) -> Result<R, StoreError>
            + Send
            + 'c,
        R: Send + 'c,
    {
        Box::pin(self.transaction(work))
    }

    fn lock_admins(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        // Transaction-scoped: released by the commit or rollback of the caller's transaction.
        Box::pin(async move {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<BigInt, _>(ADMIN_LOCK)
                .execute(self)
                .await?;
            Ok(())
        })
    }

    fn announce(&mut self, payload: String) -> BoxFuture<'_, Result<(), StoreError>> {
        // Delivered at commit, in commit order; dropped on rollback.
        Box::pin(async move {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(JOB_CHANGES_CHANNEL)
                .bind::<Text, _>(payload)
                .execute(self)
                .await?;
            Ok(())
        })
    }

    fn claim(
        &mut self,
        worker: String,
        status: String,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<QueueRow>, StoreError>> {
        Box::pin(async move {
            let leased = diesel::sql_query(CLAIM)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .bind::<Text, _>(status)
                .load::<QueueRow>(self)
                .await?;
            Ok(leased)
        })
    }

    fn upsert_queue_entry(
        &mut self,
        entry: QueueRow,
        restart_clock: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { upsert_queue_entry!(self, entry, restart_clock) })
    }

    fn insert_queue_entry_if_missing(
        &mut self,
        entry: QueueRow,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move { insert_queue_entry_if_missing!(self, entry) })
    }
}
