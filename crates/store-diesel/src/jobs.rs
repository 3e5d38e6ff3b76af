//! `JobStore` for every backend: job rows and inventories here, the dispatch queue in
//! `queue.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, dsl};
use diesel_async::RunQueryDsl;
use diesel_async::methods::{ExecuteDsl, LoadQuery};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use triage_domain::ports::JobStore;
use triage_domain::{
    ArchiveInventory, ChangeKind, ConflictKind, DomainError, DomainResult, Job, JobChange,
    JobFilter, JobId, JobStatus, NewJob, QueueEntry, UserId,
};

use crate::connection::StoreConnection;
use crate::error::StoreError;
use crate::models::{InventoryRow, JobChangeset, JobRow, QueueRow, inventory_from_json};
use crate::queue::DispatchQueue;
use crate::schema::{job_inventories, job_queue, jobs};
use crate::studies::StudyWrites;
use crate::{DieselStore, detached, to_i64};

#[dsl::auto_type]
pub(crate) fn insert_job(row: JobRow) -> _ {
    dsl::insert_into(jobs::table).values(row)
}

#[dsl::auto_type]
pub(crate) fn insert_inventory(row: InventoryRow) -> _ {
    dsl::insert_into(job_inventories::table).values(row)
}

#[dsl::auto_type]
pub(crate) fn insert_queue_entry(row: QueueRow) -> _ {
    dsl::insert_into(job_queue::table).values(row)
}

#[dsl::auto_type]
pub(crate) fn job_by_id(id: String) -> _ {
    jobs::table.filter(jobs::id.eq(id))
}

#[dsl::auto_type]
pub(crate) fn inventory_of(id: String) -> _ {
    job_inventories::table
        .filter(job_inventories::job_id.eq(id))
        .select(job_inventories::body)
}

#[dsl::auto_type]
pub(crate) fn job_ids_of(owner: String) -> _ {
    jobs::table
        .filter(jobs::owner_id.eq(owner))
        .order((jobs::created_at.asc(), jobs::id.asc()))
        .select(jobs::id)
}

// `list` comes in four shapes rather than one query with `(? IS NULL OR …)` conditions, so
// that PostgreSQL can plan each with its index (generic plans of such ORs cannot).

#[dsl::auto_type]
pub(crate) fn jobs_page(skip: i64, limit: i64) -> _ {
    jobs::table
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .offset(skip)
        .limit(limit)
}

#[dsl::auto_type]
pub(crate) fn jobs_page_of_owner(owner: String, skip: i64, limit: i64) -> _ {
    jobs::table
        .filter(jobs::owner_id.eq(owner))
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .offset(skip)
        .limit(limit)
}

#[dsl::auto_type]
pub(crate) fn jobs_page_in_status(status: String, skip: i64, limit: i64) -> _ {
    jobs::table
        .filter(jobs::status.eq(status))
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .offset(skip)
        .limit(limit)
}

#[dsl::auto_type]
pub(crate) fn jobs_page_of_owner_in_status(
    owner: String,
    status: String,
    skip: i64,
    limit: i64,
) -> _ {
    jobs::table
        .filter(jobs::owner_id.eq(owner))
        .filter(jobs::status.eq(status))
        .order((jobs::created_at.desc(), jobs::id.desc()))
        .offset(skip)
        .limit(limit)
}

/// The compare-and-set write; `get_result` adds `RETURNING` with every column.
#[dsl::auto_type]
pub(crate) fn update_job(id: String, version: i64, changes: JobChangeset) -> _ {
    dsl::update(
        jobs::table
            .filter(jobs::id.eq(id))
            .filter(jobs::version.eq(version)),
    )
    .set(changes)
}

/// Inventory and queue entry go by ON DELETE CASCADE; `get_result` returns the deleted row.
#[dsl::auto_type]
pub(crate) fn delete_job(id: String) -> _ {
    dsl::delete(jobs::table.filter(jobs::id.eq(id)))
}

#[dsl::auto_type]
pub(crate) fn delete_queue_entry(id: String) -> _ {
    dsl::delete(job_queue::table.filter(job_queue::job_id.eq(id)))
}

#[dsl::auto_type]
pub(crate) fn status_counts() -> _ {
    jobs::table
        .group_by(jobs::status)
        .select((jobs::status, dsl::count_star()))
}

fn rows_to_jobs(rows: Vec<JobRow>) -> Result<Vec<Job>, StoreError> {
    rows.into_iter().map(JobRow::into_domain).collect()
}

/// The announcement of a change to `job` (see `StoreConnection::announce`): the JSON of a
/// `JobChange`, well under PostgreSQL's 8000-byte NOTIFY limit.
fn announcement(job: &Job, kind: ChangeKind) -> Result<String, StoreError> {
    let change = JobChange {
        job_id: job.id,
        owner_id: job.owner_id,
        kind,
        status: job.status,
        version: job.version,
    };
    serde_json::to_string(&change)
        .map_err(|err| StoreError::Corrupt(format!("job change announcement: {err}")))
}

#[async_trait]
impl<C> JobStore for DieselStore<C>
where
    C: StoreConnection + StudyWrites,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C, Error = PoolError>,
    Self: DispatchQueue,
    insert_job: ExecuteDsl<C>,
    insert_inventory: ExecuteDsl<C>,
    insert_queue_entry: ExecuteDsl<C>,
    delete_queue_entry: ExecuteDsl<C>,
    for<'a> job_by_id: LoadQuery<'a, C, JobRow>,
    for<'a> inventory_of: LoadQuery<'a, C, String>,
    for<'a> job_ids_of: LoadQuery<'a, C, String>,
    for<'a> jobs_page: LoadQuery<'a, C, JobRow>,
    for<'a> jobs_page_of_owner: LoadQuery<'a, C, JobRow>,
    for<'a> jobs_page_in_status: LoadQuery<'a, C, JobRow>,
    for<'a> jobs_page_of_owner_in_status: LoadQuery<'a, C, JobRow>,
    for<'a> update_job: LoadQuery<'a, C, JobRow>,
    for<'a> delete_job: LoadQuery<'a, C, JobRow>,
    for<'a> status_counts: LoadQuery<'a, C, (String, i64)>,
{
    async fn create(&self, job: NewJob) -> DomainResult<Job> {
        let pool = self.pool.clone();
        detached(Some("user"), async move {
            let row = JobRow::new(&job)?;
            let inventory = job
                .inventory
                .as_ref()
                .map(|inv| InventoryRow::new(job.id, inv))
                .transpose()?;
            let entry = QueueRow::new(job.id, job.created_at);
            let created = row.clone().into_domain()?;
            let studies = job.inventory.clone().map(|inv| (created.clone(), inv));
            let announced = announcement(&created, ChangeKind::Created)?;
            let mut conn = pool.get().await?;
            conn.write_transaction(move |c| {
                Box::pin(async move {
                    insert_job(row).execute(c).await?;
                    if let Some(inventory) = inventory {
                        insert_inventory(inventory).execute(c).await?;
                    }
                    insert_queue_entry(entry).execute(c).await?;
                    if let Some((job, inventory)) = studies {
                        c.record_studies(job, inventory).await?;
                    }
                    c.announce(announced).await?;
                    Ok(())
                })
            })
            .await?;
            Ok(created)
        })
        .await
    }

    async fn get(&self, id: JobId) -> DomainResult<Option<Job>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let row = job_by_id(id.to_string())
                .get_result::<JobRow>(&mut *conn)
                .await
                .optional()?;
            row.map(JobRow::into_domain).transpose()
        })
        .await
    }

    async fn list(&self, filter: &JobFilter) -> DomainResult<Vec<Job>> {
        let pool = self.pool.clone();
        let (skip, limit) = (to_i64(filter.skip), to_i64(filter.limit));
        let owner = filter.owner.map(|owner| owner.to_string());
        let status = filter.status.map(|status| status.as_str().to_owned());
        detached(None, async move {
            let mut conn = pool.get().await?;
            let conn = &mut *conn;
            let rows = match (owner, status) {
                (None, None) => jobs_page(skip, limit).load::<JobRow>(conn).await?,
                (Some(owner), None) => jobs_page_of_owner(owner, skip, limit).load(conn).await?,
                (None, Some(status)) => jobs_page_in_status(status, skip, limit).load(conn).await?,
                (Some(owner), Some(status)) => {
                    jobs_page_of_owner_in_status(owner, status, skip, limit)
                        .load(conn)
                        .await?
                }
            };
            rows_to_jobs(rows)
        })
        .await
    }

    async fn ids_of_owner(&self, owner: UserId) -> DomainResult<Vec<JobId>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let ids = job_ids_of(owner.to_string())
                .load::<String>(&mut *conn)
                .await?;
            ids.iter()
                .map(|id| {
                    id.parse::<JobId>()
                        .map_err(|_| StoreError::Corrupt(format!("job id {id:?}")))
                })
                .collect()
        })
        .await
    }

    async fn inventory(&self, id: JobId) -> DomainResult<Option<ArchiveInventory>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let body = inventory_of(id.to_string())
                .get_result::<String>(&mut *conn)
                .await
                .optional()?;
            body.map(|body| inventory_from_json(&id.to_string(), &body))
                .transpose()
        })
        .await
    }

    async fn update(&self, job: &Job) -> DomainResult<Job> {
        let pool = self.pool.clone();
        let (id, version, terminal) = (job.id.to_string(), job.version, job.status.is_terminal());
        // A job that is (again) queued needs a queue entry; one it already has keeps its lease.
        let requeue =
            (job.status == JobStatus::Queued).then(|| QueueRow::new(job.id, job.updated_at));
        let changes = JobChangeset::new(job)?;
        detached(None, async move {
            let mut conn = pool.get().await?;
            let job = conn
                .write_transaction(move |c| {
                    Box::pin(async move {
                        // Writing first takes the row lock (PostgreSQL) or the write lock
                        // (SQLite) before anything is read.
                        let written = update_job(id.clone(), version, changes)
                            .get_result::<JobRow>(c)
                            .await
                            .optional()?;
                        let Some(row) = written else {
                            let exists = job_by_id(id)
                                .get_result::<JobRow>(c)
                                .await
                                .optional()?
                                .is_some();
                            return Err(if exists {
                                DomainError::Conflict(ConflictKind::StaleVersion)
                            } else {
                                DomainError::NotFound("job")
                            }
                            .into());
                        };
                        if terminal {
                            delete_queue_entry(id).execute(c).await?;
                        } else if let Some(entry) = requeue {
                            c.insert_queue_entry_if_missing(entry).await?;
                        }
                        let job = row.into_domain()?;
                        // The job's studies change in the same transaction as the job.
                        c.fan_out(job.clone()).await?;
                        c.announce(announcement(&job, ChangeKind::Updated)?).await?;
                        Ok(job)
                    })
                })
                .await?;
            Ok(job)
        })
        .await
    }

    async fn delete(&self, id: JobId) -> DomainResult<Option<Job>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            conn.write_transaction(move |c| {
                Box::pin(async move {
                    let row = delete_job(id.to_string())
                        .get_result::<JobRow>(c)
                        .await
                        .optional()?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    let job = row.into_domain()?;
                    c.announce(announcement(&job, ChangeKind::Deleted)?).await?;
                    Ok(Some(job))
                })
            })
            .await
        })
        .await
    }

    async fn count_by_status(&self) -> DomainResult<Vec<(JobStatus, u64)>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let counts = status_counts().load::<(String, i64)>(&mut *conn).await?;
            // Every status, zeros included, so that metrics drop to zero instead of vanishing.
            let mut all: Vec<(JobStatus, u64)> =
                JobStatus::ALL.iter().map(|status| (*status, 0)).collect();
            for (status, count) in counts {
                let status: JobStatus = status
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("job status {status:?}")))?;
                if let Some(slot) = all.iter_mut().find(|(s, _)| *s == status) {
                    slot.1 = u64::try_from(count).unwrap_or(0);
                }
            }
            Ok(all)
        })
        .await
    }

    async fn enqueue(
        &self,
        id: JobId,
        available_at: DateTime<Utc>,
        restart_clock: bool,
    ) -> DomainResult<()> {
        DispatchQueue::enqueue(self, id, available_at, restart_clock).await
    }

    async fn claim(
        &self,
        worker: &str,
        status: JobStatus,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> DomainResult<Vec<(Job, QueueEntry)>> {
        DispatchQueue::claim(self, worker, status, now, lease_until, limit).await
    }

    async fn release(&self, id: JobId, worker: &str) -> DomainResult<bool> {
        DispatchQueue::release(self, id, worker).await
    }

    async fn reschedule(
        &self,
        id: JobId,
        worker: &str,
        available_at: DateTime<Utc>,
    ) -> DomainResult<bool> {
        DispatchQueue::reschedule(self, id, worker, available_at).await
    }

    async fn release_all(&self, worker: &str) -> DomainResult<u64> {
        DispatchQueue::release_all(self, worker).await
    }

    async fn queue_entry(&self, id: JobId) -> DomainResult<Option<QueueEntry>> {
        DispatchQueue::queue_entry(self, id).await
    }

    async fn queue_depth(&self) -> DomainResult<(u64, Option<DateTime<Utc>>)> {
        DispatchQueue::queue_depth(self).await
    }

    async fn ping(&self) -> DomainResult<()> {
        DispatchQueue::ping(self).await
    }
}
