//! The dispatch-queue half of `JobStore`, for every backend. The claim itself and the upsert
//! differ per backend (`StoreConnection`); the rest is shared.
//!
//! It is a crate-internal trait so that its query bounds stay here instead of swelling the
//! `JobStore` impl, which forwards to it.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, dsl};
use diesel_async::RunQueryDsl;
use diesel_async::methods::{ExecuteDsl, LoadQuery};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use triage_domain::{DomainResult, Job, JobId, JobStatus, QueueEntry};

use crate::connection::StoreConnection;
use crate::models::{JobRow, QueueRow, to_db_time};
use crate::schema::{job_queue, jobs};
use crate::{DieselStore, detached};

#[dsl::auto_type]
pub(crate) fn entry_of(id: String) -> _ {
    job_queue::table.filter(job_queue::job_id.eq(id))
}

#[dsl::auto_type]
pub(crate) fn jobs_with_ids(ids: Vec<String>) -> _ {
    jobs::table.filter(jobs::id.eq_any(ids))
}

#[dsl::auto_type]
pub(crate) fn release_entry(id: String, worker: String) -> _ {
    dsl::delete(
        job_queue::table
            .filter(job_queue::job_id.eq(id))
            .filter(job_queue::lease_owner.eq(worker)),
    )
}

#[dsl::auto_type]
pub(crate) fn reschedule_entry(id: String, worker: String, at: NaiveDateTime) -> _ {
    let no_owner: Option<String> = None;
    let no_expiry: Option<NaiveDateTime> = None;
    dsl::update(
        job_queue::table
            .filter(job_queue::job_id.eq(id))
            .filter(job_queue::lease_owner.eq(worker)),
    )
    .set((
        job_queue::available_at.eq(at),
        job_queue::lease_owner.eq(no_owner),
        job_queue::lease_expires_at.eq(no_expiry),
    ))
}

#[dsl::auto_type]
pub(crate) fn release_leases_of(worker: String) -> _ {
    let no_owner: Option<String> = None;
    let no_expiry: Option<NaiveDateTime> = None;
    dsl::update(job_queue::table.filter(job_queue::lease_owner.eq(worker))).set((
        job_queue::lease_owner.eq(no_owner),
        job_queue::lease_expires_at.eq(no_expiry),
    ))
}

#[dsl::auto_type]
pub(crate) fn depth_in_status(status: String) -> _ {
    // `dsl::min` names both a function and a type; auto_type needs the type spelled out.
    let oldest: diesel::helper_types::min<job_queue::enqueued_at> =
        dsl::min(job_queue::enqueued_at);
    job_queue::table
        .inner_join(jobs::table)
        .filter(jobs::status.eq(status))
        .select((dsl::count_star(), oldest))
}

/// The most entries one `claim` leases; the port allows fewer than asked for.
const MAX_CLAIM: u32 = 500;

/// The queue operations of `JobStore`; see the port for their contracts.
#[async_trait]
pub trait DispatchQueue {
    async fn enqueue(
        &self,
        id: JobId,
        available_at: DateTime<Utc>,
        restart_clock: bool,
    ) -> DomainResult<()>;
    async fn claim(
        &self,
        worker: &str,
        status: JobStatus,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DomainResult<Vec<(Job, QueueEntry)>>;
    async fn release(&self, id: JobId, worker: &str) -> DomainResult<bool>;
    async fn reschedule(
        &self,
        id: JobId,
        worker: &str,
        available_at: DateTime<Utc>,
    ) -> DomainResult<bool>;
    async fn release_all(&self, worker: &str) -> DomainResult<u64>;
    async fn queue_entry(&self, id: JobId) -> DomainResult<Option<QueueEntry>>;
    async fn queue_depth(&self) -> DomainResult<(u64, Option<DateTime<Utc>>)>;
    async fn ping(&self) -> DomainResult<()>;
}

#[async_trait]
impl<C> DispatchQueue for DieselStore<C>
where
    C: StoreConnection,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C, Error = PoolError>,
    release_entry: ExecuteDsl<C>,
    reschedule_entry: ExecuteDsl<C>,
    release_leases_of: ExecuteDsl<C>,
    diesel::query_builder::SqlQuery: ExecuteDsl<C>,
    for<'a> entry_of: LoadQuery<'a, C, QueueRow>,
    for<'a> jobs_with_ids: LoadQuery<'a, C, JobRow>,
    for<'a> depth_in_status: LoadQuery<'a, C, (i64, Option<NaiveDateTime>)>,
{
    async fn enqueue(
        &self,
        id: JobId,
        available_at: DateTime<Utc>,
        restart_clock: bool,
    ) -> DomainResult<()> {
        let pool = self.pool.clone();
        // A foreign-key violation means the job does not exist.
        detached(Some("job"), async move {
            let mut conn = pool.get().await?;
            conn.upsert_queue_entry(QueueRow::new(id, available_at), restart_clock)
                .await
        })
        .await
    }

    async fn claim(
        &self,
        worker: &str,
        status: JobStatus,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DomainResult<Vec<(Job, QueueEntry)>> {
        let pool = self.pool.clone();
        let worker = worker.to_owned();
        detached(None, async move {
            if limit == 0 {
                return Ok(Vec::new());
            }
            let mut conn = pool.get().await?;
            let (now, lease_until) = (to_db_time(now), to_db_time(lease_until));
            // Batches are capped so that `IN (…)` lists stay far below SQLite's bound-parameter
            // limit and the job lookup below stays one modest query.
            let limit = i64::from(limit.min(MAX_CLAIM));
            let status = status.as_str().to_owned();
            let mut entries = conn.claim(worker, status, now, lease_until, limit).await?;
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            entries.sort_by(|a, b| (a.available_at, &a.job_id).cmp(&(b.available_at, &b.job_id)));
            let ids = entries.iter().map(|entry| entry.job_id.clone()).collect();
            let mut jobs: HashMap<String, JobRow> = jobs_with_ids(ids)
                .load::<JobRow>(&mut *conn)
                .await?
                .into_iter()
                .map(|row| (row.id.clone(), row))
                .collect();
            // A job deleted since its entry was leased has lost the entry too (cascade):
            // nothing to hand out.
            entries
                .into_iter()
                .filter_map(|entry| jobs.remove(&entry.job_id).map(|job| (job, entry)))
                .map(|(job, entry)| Ok((job.into_domain()?, entry.into_domain()?)))
                .collect()
        })
        .await
    }

    async fn release(&self, id: JobId, worker: &str) -> DomainResult<bool> {
        let pool = self.pool.clone();
        let worker = worker.to_owned();
        detached(None, async move {
            let mut conn = pool.get().await?;
            Ok(release_entry(id.to_string(), worker)
                .execute(&mut *conn)
                .await?
                > 0)
        })
        .await
    }

    async fn reschedule(
        &self,
        id: JobId,
        worker: &str,
        available_at: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let pool = self.pool.clone();
        let worker = worker.to_owned();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let at = to_db_time(available_at);
            Ok(reschedule_entry(id.to_string(), worker, at)
                .execute(&mut *conn)
                .await?
                > 0)
        })
        .await
    }

    async fn release_all(&self, worker: &str) -> DomainResult<u64> {
        let pool = self.pool.clone();
        let worker = worker.to_owned();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let released = release_leases_of(worker).execute(&mut *conn).await?;
            Ok(u64::try_from(released).unwrap_or(0))
        })
        .await
    }

    async fn queue_entry(&self, id: JobId) -> DomainResult<Option<QueueEntry>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let row = entry_of(id.to_string())
                .get_result::<QueueRow>(&mut *conn)
                .await
                .optional()?;
            row.map(QueueRow::into_domain).transpose()
        })
        .await
    }

    async fn queue_depth(&self) -> DomainResult<(u64, Option<DateTime<Utc>>)> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let status = JobStatus::Queued.as_str().to_owned();
            let (count, oldest) = depth_in_status(status)
                .get_result::<(i64, Option<NaiveDateTime>)>(&mut *conn)
                .await?;
            Ok((
                u64::try_from(count).unwrap_or(0),
                oldest.map(|at| at.and_utc()),
            ))
        })
        .await
    }

    async fn ping(&self) -> DomainResult<()> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            diesel::sql_query("SELECT 1").execute(&mut *conn).await?;
            Ok(())
        })
        .await
    }
}

/// The upsert behind `enqueue`, written once for both backends' `upsert_queue_entry` (its
/// statement type cannot be named in a generic bound: diesel keeps the ON CONFLICT types
/// private). `$conn` is a concrete connection, `$entry` a [`QueueRow`].
macro_rules! upsert_queue_entry {
    ($conn:expr, $entry:expr, $restart_clock:expr) => {{
        use diesel::ExpressionMethods as _;
        use diesel::upsert::excluded;
        use diesel_async::RunQueryDsl as _;
        use $crate::schema::job_queue::dsl as q;
        let insert = diesel::insert_into(q::job_queue)
            .values($entry)
            .on_conflict(q::job_id)
            .do_update();
        let no_owner: Option<String> = None;
        let no_expiry: Option<chrono::NaiveDateTime> = None;
        if $restart_clock {
            insert
                .set((
                    q::enqueued_at.eq(excluded(q::enqueued_at)),
                    q::available_at.eq(excluded(q::available_at)),
                    q::lease_owner.eq(no_owner),
                    q::lease_expires_at.eq(no_expiry),
                ))
                .execute($conn)
                .await?;
        } else {
            insert
                .set((
                    q::available_at.eq(excluded(q::available_at)),
                    q::lease_owner.eq(no_owner),
                    q::lease_expires_at.eq(no_expiry),
                ))
                .execute($conn)
                .await?;
        }
        Ok(())
    }};
}
pub(crate) use upsert_queue_entry;

/// The body of `StoreConnection::insert_queue_entry_if_missing`, for both backends.
macro_rules! insert_queue_entry_if_missing {
    ($conn:expr, $entry:expr) => {{
        use diesel_async::RunQueryDsl as _;
        use $crate::schema::job_queue::dsl as q;
        diesel::insert_into(q::job_queue)
            .values($entry)
            .on_conflict(q::job_id)
            .do_nothing()
            .execute($conn)
            .await?;
        Ok(())
    }};
}
pub(crate) use insert_queue_entry_if_missing;
