//! The embedded backend: SQLite through diesel-async's `SyncConnectionWrapper` (each query
//! runs on tokio's blocking pool), WAL mode, a small pool, `BEGIN IMMEDIATE` for writes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::{
    BoolExpressionMethods, ConnectionError, ConnectionResult, ExpressionMethods, QueryDsl,
    SelectableHelper, SqliteConnection,
};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use triage_domain::{DomainError, DomainResult};

use crate::connection::{BoxFuture, StoreConnection};
use crate::error::StoreError;
use crate::models::QueueRow;
use crate::queue::{insert_queue_entry_if_missing, upsert_queue_entry};
use crate::schema::{job_queue, jobs};
use crate::users::rekey_usernames;
use crate::{DieselStore, PoolOptions, build_pool, detached};

/// The store on a SQLite file: the embedded default.
pub type SqliteStore = DieselStore<SyncConnectionWrapper<SqliteConnection>>;

type Sqlite = SyncConnectionWrapper<SqliteConnection>;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// SQLite runs one writer at a time; a few connections are enough for concurrent readers
/// (WAL) and keep the blocking pool free for everything else.
const MAX_CONNECTIONS: usize = 4;

impl SqliteStore {
    /// Opens (creating the file and its parent directories if needed) the database at `path`
    /// and applies pending migrations. Every pooled connection runs in WAL mode with
    /// `synchronous = NORMAL`, waits up to `opts.wait_timeout` for a lock held by another
    /// writer, and enforces foreign keys.
    ///
    /// # Errors
    /// `Invalid` for a path that is not UTF-8; `Unavailable` when the file cannot be created or
    /// opened; `Internal` when a migration fails.
    pub async fn open(path: &Path, opts: &PoolOptions) -> DomainResult<Self> {
        let path = prepare_path(path)?;
        let busy_timeout = opts.wait_timeout;
        let mut config = ManagerConfig::<Sqlite>::default();
        config.custom_setup = Box::new(move |url| Box::pin(connect(url.to_owned(), busy_timeout)));
        // A local file has no half-open connections to detect.
        config.recycling_method = RecyclingMethod::Fast;
        let manager = AsyncDieselConnectionManager::new_with_config(path, config);
        let store = Self {
            pool: build_pool(manager, opts.max_size.min(MAX_CONNECTIONS), opts)?,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> DomainResult<()> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            // The harness is synchronous; run it on the connection's blocking thread.
            let applied = conn
                .spawn_blocking(|c| {
                    Ok(c.run_pending_migrations(MIGRATIONS)
                        .map(|done| done.len())
                        .map_err(|err| err.to_string()))
                })
                .await?;
            match applied {
                Ok(count) => {
                    tracing::info!(applied = count, "SQLite migrations");
                    rekey_usernames(&mut *conn).await
                }
                Err(err) => {
                    Err(DomainError::internal(format!("database migrations failed: {err}")).into())
                }
            }
        })
        .await
    }
}

fn prepare_path(path: &Path) -> DomainResult<String> {
    let path: PathBuf = std::path::absolute(path)
        .map_err(|err| DomainError::invalid("database path", err.to_string()))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|err| {
            tracing::warn!(error = %err, dir = %parent.display(), "cannot create the database directory");
            DomainError::unavailable("database", "cannot create the database directory")
        })?;
    }
    path.to_str()
        .map(str::to_owned)
        .ok_or_else(|| DomainError::invalid("database path", "must be valid UTF-8"))
}

async fn connect(path: String, busy_timeout: Duration) -> ConnectionResult<Sqlite> {
    let mut conn = Sqlite::establish(&path).await?;
    // busy_timeout first: switching to WAL needs a moment of exclusive access.
    let pragmas = format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        busy_timeout.as_millis()
    );
    conn.batch_execute(&pragmas)
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

impl StoreConnection for Sqlite {
    fn write_transaction<'c, R, F>(&'c mut self, work: F) -> BoxFuture<'c, Result<R, StoreError>>
    where
        F: for<'r> FnOnce(&'r mut Self) -> BoxFuture<'r, Result<R, StoreError>>
            + for<'r> AsyncFnOnce(&'r mut Self) -> Result<R, StoreError>
            + Send
            + 'c,
        R: Send + 'c,
    {
        Box::pin(self.immediate_transaction(work))
    }

    fn lock_admins(&mut self) -> BoxFuture<'_, Result<(), StoreError>> {
        // The IMMEDIATE write transaction already excludes every other writer.
        Box::pin(async { Ok(()) })
    }

    fn announce(&mut self, _payload: String) -> BoxFuture<'_, Result<(), StoreError>> {
        // One process: the application publishes through its in-process fan-out.
        Box::pin(async { Ok(()) })
    }

    fn claim(
        &mut self,
        worker: String,
        status: String,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<QueueRow>, StoreError>> {
        // Choosing and leasing in one IMMEDIATE transaction: it holds the write lock from the
        // start, so no other writer runs in between (and the update cannot fail half-way with
        // SQLITE_BUSY_SNAPSHOT, as a deferred transaction that read first could).
        Box::pin(self.immediate_transaction(async move |c| {
            use job_queue::dsl as q;
            let in_status = jobs::table.filter(jobs::status.eq(status)).select(jobs::id);
            let ids: Vec<String> = q::job_queue
                .filter(q::job_id.eq_any(in_status))
                .filter(q::available_at.le(now))
                .filter(
                    q::lease_expires_at
                        .is_null()
                        .or(q::lease_expires_at.le(now)),
                )
                .order((q::available_at.asc(), q::job_id.asc()))
                .limit(limit)
                .select(q::job_id)
                .load(c)
                .await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let leased = diesel::update(q::job_queue.filter(q::job_id.eq_any(ids)))
                .set((
                    q::lease_owner.eq(worker),
                    q::lease_expires_at.eq(lease_until),
                ))
                .returning(QueueRow::as_returning())
                .get_results(c)
                .await?;
            Ok(leased)
        }))
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
