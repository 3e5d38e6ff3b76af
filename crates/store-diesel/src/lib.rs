//! `UserStore`, `JobStore` (users, jobs, archive inventories and the dispatch queue) and
//! `EvaluationStore` on
//! diesel-async, written once as the generic [`DieselStore<C>`] and used with two connection
//! types: [`SqliteStore`] (the embedded default, SQLite through `SyncConnectionWrapper`) and
//! [`PgStore`] (production, PostgreSQL through `AsyncPgConnection`). Pooling is deadpool with
//! timeouts; migrations are embedded from `migrations/{sqlite,postgres}` at the repository root.
//!
//! It may depend on `triage-domain`, diesel, diesel-async, diesel_migrations, deadpool, tokio,
//! tokio-postgres (only to validate URLs), chrono, serde_json, tracing, async-trait and
//! thiserror — never on the app, api or server crates, nor on other adapters.
//!
//! How the generic adapter is built (see the stack notes): queries are `#[dsl::auto_type]`
//! values over one portable `table!` schema, each port `impl` carries one `LoadQuery` /
//! `ExecuteDsl` bound per query, row structs are owned, and the little that differs per
//! backend (write transactions, the claim, the admin lock, the upsert) sits behind the sealed
//! `StoreConnection` trait implemented in `sqlite.rs` and `pg.rs`. Shared code lives in
//! `async_trait` impls rather than generic free `async fn`s, whose futures rustc cannot
//! always prove `Send` under higher-ranked bounds.

mod connection;
mod error;
mod evaluations;
mod jobs;
mod models;
mod pg;
mod queue;
mod schema;
mod sqlite;
mod studies;
mod users;

use std::fmt;
use std::future::Future;
use std::time::Duration;

use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolableConnection};
use triage_domain::{DomainError, DomainResult};

pub use pg::{JOB_CHANGES_CHANNEL, PgStore, migrate_postgres};
pub use sqlite::SqliteStore;

use crate::error::{StoreError, map_error};

/// Connection pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once (SQLite caps this lower: writes serialise anyway).
    pub max_size: usize,
    /// How long a call waits for a free connection before failing with `Unavailable`.
    pub wait_timeout: Duration,
    /// How long opening a connection may take.
    pub create_timeout: Duration,
    /// How long the health check of a reused connection may take.
    pub recycle_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 8,
            wait_timeout: Duration::from_secs(5),
            create_timeout: Duration::from_secs(5),
            recycle_timeout: Duration::from_secs(5),
        }
    }
}

/// `UserStore` + `JobStore` on one database, for any diesel-async connection type that
/// implements the (sealed) backend hooks: see [`SqliteStore`] and [`PgStore`]. Cloning is
/// cheap and shares the pool.
pub struct DieselStore<C>
where
    C: PoolableConnection + Send + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    pool: Pool<C>,
}

impl<C> Clone for DieselStore<C>
where
    C: PoolableConnection + Send + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
        }
    }
}

impl<C> fmt::Debug for DieselStore<C>
where
    C: PoolableConnection + Send + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DieselStore")
            .field("connection", &std::any::type_name::<C>())
            .field("pool", &self.pool.status())
            .finish()
    }
}

/// Builds the (lazy) pool shared by both backends.
fn build_pool<C>(
    manager: AsyncDieselConnectionManager<C>,
    max_size: usize,
    opts: &PoolOptions,
) -> DomainResult<Pool<C>>
where
    C: PoolableConnection + Send + 'static,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager,
{
    if max_size == 0 {
        return Err(DomainError::invalid(
            "database.max_connections",
            "must be at least 1",
        ));
    }
    Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(opts.wait_timeout))
        .create_timeout(Some(opts.create_timeout))
        .recycle_timeout(Some(opts.recycle_timeout))
        // The timeouts above need a runtime to count with.
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|err| DomainError::internal(format!("connection pool: {err}")))
}

/// Runs one store call on its own task and maps its error.
///
/// A caller that stops waiting (an HTTP client hanging up drops the handler's future) must
/// not interrupt the call half-way: a transaction would stay open on a connection going back
/// to the pool, and dropping a `SyncConnectionWrapper` query mid-flight blocks in place, which
/// panics on current-thread runtimes such as actix-web's workers. On its own task, the call
/// always finishes and returns its connection clean.
async fn detached<T>(
    fk_parent: Option<&'static str>,
    work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
) -> DomainResult<T>
where
    T: Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result.map_err(|err| map_error(err, fk_parent)),
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(_) => Err(DomainError::unavailable(
            "database",
            "the runtime is shutting down",
        )),
    }
}

/// Saturating conversion for skip/limit: nobody has 2^63 rows.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use triage_domain::ports::{EvaluationStore, JobStore, UserStore};

    use super::{PgStore, SqliteStore};

    /// Compile-time check: both instantiations satisfy every bound of the generic impls.
    #[allow(dead_code)]
    fn both_backends_implement_the_ports(sqlite: SqliteStore, pg: PgStore) {
        let _: Arc<dyn EvaluationStore> = Arc::new(sqlite.clone());
        let _: Arc<dyn EvaluationStore> = Arc::new(pg.clone());
        let _: (Arc<dyn UserStore>, Arc<dyn JobStore>) =
            (Arc::new(sqlite.clone()), Arc::new(sqlite));
        let _: (Arc<dyn UserStore>, Arc<dyn JobStore>) = (Arc::new(pg.clone()), Arc::new(pg));
    }
}
