//! The few things that differ per database, as a trait the generic adapter calls. It is
//! implemented for exactly two connection types, in `sqlite.rs` and `pg.rs`; everything else
//! is written once against diesel's portable DSL.

use std::future::Future;
use std::pin::Pin;

use chrono::NaiveDateTime;
use diesel_async::pooled_connection::PoolableConnection;

use crate::error::StoreError;
use crate::models::QueueRow;

/// A boxed, `Send` future: what the backend hooks return, so that the generic adapter's
/// futures stay provably `Send` (see the notes on higher-ranked bounds in `lib.rs`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the generic adapter needs from a connection type beyond diesel's query traits.
///
/// Public only because it appears in the bounds of the public `impl`s; it lives in a private
/// module, so no other crate can implement it.
pub trait StoreConnection: PoolableConnection + Send + 'static {
    /// Runs `work` in a transaction meant to write. SQLite starts it with `BEGIN IMMEDIATE`
    /// (taking the write lock first, so a read-then-write transaction can never fail half-way
    /// with `SQLITE_BUSY`, and the whole transaction is serialised with every other writer);
    /// PostgreSQL uses a plain `BEGIN`.
    ///
    /// `work` must own what it uses (hence the boxed future tied to the connection only).
    fn write_transaction<'c, R, F>(&'c mut self, work: F) -> BoxFuture<'c, Result<R, StoreError>>
    where
        F: for<'r> FnOnce(&'r mut Self) -> BoxFuture<'r, Result<R, StoreError>>
            + for<'r> AsyncFnOnce(&'r mut Self) -> Result<R, StoreError>
            + Send
            + 'c,
        R: Send + 'c;

    /// Inside a write transaction: waits until no other transaction is checking or changing
    /// the set of administrators, so "is this the last admin?" and the change that depends
    /// on the answer happen atomically. A transaction-scoped advisory lock on PostgreSQL; a
    /// no-op on SQLite, whose IMMEDIATE transaction already excludes every other writer.
    fn lock_admins(&mut self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Inside a write transaction: announces a job change (`payload`, the JSON of a
    /// `JobChange`) to every replica **when the transaction commits**, and never if it rolls
    /// back. PostgreSQL: `pg_notify` on the channel the `triage-events-pg` listener listens
    /// on. SQLite: nothing (one process; the application publishes in-process).
    fn announce(&mut self, payload: String) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Leases up to `limit` claimable entries of jobs in `status` (available at `now`, unleased or with an
    /// expired lease) to `worker` until `lease_until`, oldest `available_at` first, and
    /// returns them. Concurrent callers never receive the same entry.
    fn claim(
        &mut self,
        worker: String,
        status: String,
        now: NaiveDateTime,
        lease_until: NaiveDateTime,
        limit: i64,
    ) -> BoxFuture<'_, Result<Vec<QueueRow>, StoreError>>;

    /// Inserts `entry`, or, when the job already has one, moves it to `entry.available_at`
    /// and drops its lease (also resetting `enqueued_at` when `restart_clock`). A missing job
    /// is a foreign-key violation.
    fn upsert_queue_entry(
        &mut self,
        entry: QueueRow,
        restart_clock: bool,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Inserts `entry` unless the job already has one, which is left untouched (with its
    /// lease). A missing job is a foreign-key violation.
    fn insert_queue_entry_if_missing(
        &mut self,
        entry: QueueRow,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
}
