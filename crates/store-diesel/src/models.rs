//! Row structs (owned, so that queries holding them satisfy the higher-ranked bounds of the
//! generic adapter) and their conversions to and from the domain's entities.
//!
//! Field order equals column order in `schema.rs`: rows are read by position.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::{AsChangeset, Insertable, Queryable, QueryableByName, Selectable};
use triage_domain::{
    ArchiveInventory, BlobKey, DomainError, FileType, Job, JobId, JobStatus, NewJob, NewUser,
    QueueEntry, ReportPayload, Role, User, UserChanges, UserId,
};

use crate::error::StoreError;
use crate::schema::{job_inventories, job_queue, jobs, users};

/// Both backends store microseconds; truncating here (the domain's clock already does) makes
/// every value read back equal the value written, on either backend.
pub(crate) fn to_db_time(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.trunc_subsecs(6).naive_utc()
}

pub(crate) fn from_db_time(stored: NaiveDateTime) -> DateTime<Utc> {
    stored.and_utc()
}

/// The unique form of a username ([`triage_domain::username_key`]: NFKC and lower case),
/// computed here rather than in SQL, which can do neither portably.
pub(crate) use triage_domain::username_key;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value:?}"))
}

pub(crate) fn parse_uuid<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value.parse().map_err(|_| corrupt(what, value))
}

fn parse_key(what: &str, value: String) -> Result<BlobKey, StoreError> {
    BlobKey::parse(value).map_err(|_| StoreError::Corrupt(format!("{what} is not a valid key")))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct UserRow {
    pub id: String,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: String,
    pub password_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn new(user: NewUser) -> Self {
        let created_at = to_db_time(user.created_at);
        Self {
            id: user.id.to_string(),
            username_key: username_key(&user.username),
            username: user.username,
            email: user.email,
            full_name: user.full_name,
            role: user.role.as_str().to_owned(),
            password_hash: user.password_hash,
            created_at,
            updated_at: created_at,
        }
    }

    pub fn into_domain(self) -> Result<User, StoreError> {
        Ok(User {
            id: parse_uuid::<UserId>("user id", &self.id)?,
            role: self
                .role
                .parse::<Role>()
                .map_err(|_| corrupt("role", &self.role))?,
            username: self.username,
            email: self.email,
            full_name: self.full_name,
            password_hash: self.password_hash,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
        })
    }
}

/// A partial user update: `None` leaves a column alone; `Some(None)` clears a nullable one.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub(crate) struct UserChangeset {
    pub username: Option<String>,
    pub username_key: Option<String>,
    pub email: Option<Option<String>>,
    pub full_name: Option<Option<String>>,
    pub role: Option<String>,
    pub password_hash: Option<String>,
    pub updated_at: NaiveDateTime,
}

impl UserChangeset {
    pub fn new(changes: UserChanges, now: DateTime<Utc>) -> Self {
        Self {
            username_key: changes.username.as_deref().map(username_key),
            username: changes.username,
            email: changes.email,
            full_name: changes.full_name,
            role: changes.role.map(|role| role.as_str().to_owned()),
            password_hash: changes.password_hash,
            updated_at: to_db_time(now),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct JobRow {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub file_name: String,
    pub file_size: i64,
    pub file_type: String,
    pub content_type: String,
    pub sha256: String,
    pub upload_key: String,
    pub report_key: Option<String>,
    pub results: Option<String>,
    pub results_parsed_at: Option<NaiveDateTime>,
    pub profile: String,
    pub threshold: f64,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub version: i64,
}

/// Sizes are `u64` in the domain and BIGINT (signed) in both databases.
fn file_size(size: u64) -> Result<i64, DomainError> {
    i64::try_from(size)
        .map_err(|_| DomainError::invalid("file_size", "is larger than 2^63 - 1 bytes"))
}

fn threshold(value: f64) -> Result<f64, DomainError> {
    // SQLite stores NaN as NULL, PostgreSQL keeps it: refuse it so both behave alike.
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DomainError::invalid("threshold", "must be a finite number"))
    }
}

impl JobRow {
    /// The row of a new job: queued, version 1, no attempts yet.
    pub fn new(job: &NewJob) -> Result<Self, DomainError> {
        let created_at = to_db_time(job.created_at);
        Ok(Self {
            id: job.id.to_string(),
            owner_id: job.owner_id.to_string(),
            title: job.title.clone(),
            description: job.description.clone(),
            status: JobStatus::Queued.as_str().to_owned(),
            status_reason: None,
            file_name: job.file_name.clone(),
            file_size: file_size(job.file_size)?,
            file_type: job.file_type.as_str().to_owned(),
            content_type: job.content_type.clone(),
            sha256: job.sha256.clone(),
            upload_key: job.upload_key.as_str().to_owned(),
            report_key: None,
            results: None,
            results_parsed_at: None,
            profile: job.profile.clone(),
            threshold: threshold(job.threshold)?,
            attempts: 0,
            created_at,
            updated_at: created_at,
            completed_at: None,
            version: 1,
        })
    }

    pub fn into_domain(self) -> Result<Job, StoreError> {
        let results = match self.results {
            Some(json) => Some(serde_json::from_str::<ReportPayload>(&json).map_err(|err| {
                StoreError::Corrupt(format!("results of job {}: {err}", self.id))
            })?),
            None => None,
        };
        Ok(Job {
            id: parse_uuid::<JobId>("job id", &self.id)?,
            owner_id: parse_uuid::<UserId>("owner id", &self.owner_id)?,
            status: self
                .status
                .parse()
                .map_err(|_| corrupt("job status", &self.status))?,
            file_type: self
                .file_type
                .parse::<FileType>()
                .map_err(|_| corrupt("file type", &self.file_type))?,
            file_size: u64::try_from(self.file_size)
                .map_err(|_| corrupt("file size", &self.file_size.to_string()))?,
            attempts: u32::try_from(self.attempts)
                .map_err(|_| corrupt("attempts", &self.attempts.to_string()))?,
            upload_key: parse_key("upload key", self.upload_key)?,
            report_key: self
                .report_key
                .map(|key| parse_key("report key", key))
                .transpose()?,
            title: self.title,
            description: self.description,
            status_reason: self.status_reason,
            file_name: self.file_name,
            content_type: self.content_type,
            sha256: self.sha256,
            results,
            results_parsed_at: self.results_parsed_at.map(from_db_time),
            profile: self.profile,
            threshold: self.threshold,
            created_at: from_db_time(self.created_at),
            updated_at: from_db_time(self.updated_at),
            completed_at: self.completed_at.map(from_db_time),
            version: self.version,
        })
    }
}

/// Every mutable column of a job (all but id, owner and creation time), for the
/// compare-and-set write. `None` writes NULL here: the job is written as a whole.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = jobs, treat_none_as_null = true)]
pub(crate) struct JobChangeset {
    pub title: String,
    pub description: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub file_name: String,
    pub file_size: i64,
    pub file_type: String,
    pub content_type: String,
    pub sha256: String,
    pub upload_key: String,
    pub report_key: Option<String>,
    pub results: Option<String>,
    pub results_parsed_at: Option<NaiveDateTime>,
    pub profile: String,
    pub threshold: f64,
    pub attempts: i32,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub version: i64,
}

impl JobChangeset {
    /// The write of `job`, with its version bumped.
    pub fn new(job: &Job) -> Result<Self, DomainError> {
        let results = match &job.results {
            Some(payload) => Some(serde_json::to_string(payload).map_err(|err| {
                DomainError::internal(format!("results do not serialize: {err}"))
            })?),
            None => None,
        };
        Ok(Self {
            title: job.title.clone(),
            description: job.description.clone(),
            status: job.status.as_str().to_owned(),
            status_reason: job.status_reason.clone(),
            file_name: job.file_name.clone(),
            file_size: file_size(job.file_size)?,
            file_type: job.file_type.as_str().to_owned(),
            content_type: job.content_type.clone(),
            sha256: job.sha256.clone(),
            upload_key: job.upload_key.as_str().to_owned(),
            report_key: job.report_key.as_ref().map(|key| key.as_str().to_owned()),
            results,
            results_parsed_at: job.results_parsed_at.map(to_db_time),
            profile: job.profile.clone(),
            threshold: threshold(job.threshold)?,
            attempts: i32::try_from(job.attempts)
                .map_err(|_| DomainError::invalid("attempts", "is too large"))?,
            updated_at: to_db_time(job.updated_at),
            completed_at: job.completed_at.map(to_db_time),
            version: job
                .version
                .checked_add(1)
                .ok_or_else(|| DomainError::internal("job version overflow"))?,
        })
    }
}

#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = job_inventories, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct InventoryRow {
    pub job_id: String,
    pub body: String,
}

impl InventoryRow {
    pub fn new(job: JobId, inventory: &ArchiveInventory) -> Result<Self, DomainError> {
        let body = serde_json::to_string(inventory)
            .map_err(|err| DomainError::internal(format!("inventory does not serialize: {err}")))?;
        Ok(Self {
            job_id: job.to_string(),
            body,
        })
    }
}

pub(crate) fn inventory_from_json(job: &str, body: &str) -> Result<ArchiveInventory, StoreError> {
    serde_json::from_str(body)
        .map_err(|err| StoreError::Corrupt(format!("inventory of job {job}: {err}")))
}

/// `pub` only because the sealed [`StoreConnection`](crate::connection::StoreConnection) trait
/// mentions it.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = job_queue, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct QueueRow {
    pub job_id: String,
    pub enqueued_at: NaiveDateTime,
    pub available_at: NaiveDateTime,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
}

impl QueueRow {
    /// A fresh, unleased entry queued (and available) at `at`.
    pub fn new(job: JobId, at: DateTime<Utc>) -> Self {
        let at = to_db_time(at);
        Self {
            job_id: job.to_string(),
            enqueued_at: at,
            available_at: at,
            lease_owner: None,
            lease_expires_at: None,
        }
    }

    pub fn into_domain(self) -> Result<QueueEntry, StoreError> {
        Ok(QueueEntry {
            job_id: parse_uuid::<JobId>("job id", &self.job_id)?,
            enqueued_at: from_db_time(self.enqueued_at),
            available_at: from_db_time(self.available_at),
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(from_db_time),
        })
    }
}
