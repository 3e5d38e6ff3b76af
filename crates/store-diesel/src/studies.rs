//! `StudyStore` and `AuditStore`, and the study writes `JobStore` makes inside its own
//! transactions (`StudyWrites`: recording a new job's studies, fanning a job's outcome out).
//!
//! The code is written once, in the [`study_impls!`] macro, and expanded for each of the two
//! connection types: the worklist's filters need boxed queries, whose backend type the
//! generic `DieselStore<C>` impls cannot name without a bound per query shape. The macro is
//! the same single diesel code path, type-checked against both backends.

mod rows;

use crate::connection::BoxFuture;
use crate::error::StoreError;
use triage_domain::{ArchiveInventory, Job};

/// Study writes inside a `JobStore` transaction. Sealed like `StoreConnection`.
pub trait StudyWrites {
    /// Records the studies of `job`'s inventory (creating them or updating what the new
    /// upload says about them) with a pending analysis by `job`.
    fn record_studies(
        &mut self,
        job: Job,
        inventory: ArchiveInventory,
    ) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Writes `job`'s outcome to its analyses (a terminal job: its result; a queued one, after
    /// a retry: pending again) and recomputes each study's current result. Studies are locked
    /// in id order, so concurrent fan-outs neither deadlock nor lose the newest analysis.
    fn fan_out(&mut self, job: Job) -> BoxFuture<'_, Result<(), StoreError>>;
}

macro_rules! study_impls {
    ($module:ident, $conn:ty, $backend:ty) => {
        mod $module {
            use std::collections::BTreeSet;

            use async_trait::async_trait;
            use diesel::{
                BoolExpressionMethods, ExpressionMethods, JoinOnDsl, NullableExpressionMethods,
                OptionalExtension, QueryDsl, SelectableHelper, TextExpressionMethods,
            };
            use diesel_async::RunQueryDsl;
            use triage_domain::ports::{AuditStore, StudyStore};
            use triage_domain::{
                AnalysisStatus, ArchiveInventory, AuditEntry, AuditFilter, DomainError,
                DomainResult, Job, JobId, JobStatus, NewAuditEntry, NewReview, Study, StudyCursor,
                StudyDetail, StudyFilter, StudyPage, StudyResult, StudySource, UserId,
                priority_key, result_of_job,
            };

            use super::StudyWrites;
            use super::rows::{
                AnalysisChangeset, AnalysisRow, AuditRow, CurrentChangeset, ReviewChangeset,
                ReviewRow, StudyRow, to_count, to_json,
            };
            use crate::connection::{BoxFuture, StoreConnection};
            use crate::error::StoreError;
            use crate::models::to_db_time;
            use crate::schema::{
                audit_entries, jobs, studies, study_analyses, study_reviews, users,
            };
            use crate::{DieselStore, detached};

            type Conn = $conn;

            /// The most rows one page returns, whatever the caller asks for.
            const MAX_PAGE: u32 = 500;

            async fn study_by_uid(
                c: &mut Conn,
                owner: String,
                uid: String,
            ) -> Result<Option<StudyRow>, StoreError> {
                Ok(studies::table
                    .filter(studies::owner_id.eq(owner))
                    .filter(studies::study_uid.eq(uid))
                    .select(StudyRow::as_select())
                    .get_result(c)
                    .await
                    .optional()?)
            }

            /// Takes the study's row lock (PostgreSQL; SQLite's IMMEDIATE transaction already
            /// excludes other writers) before its analyses are read.
            async fn lock_study(c: &mut Conn, id: &str) -> Result<(), StoreError> {
                diesel::update(studies::table.filter(studies::id.eq(id)))
                    .set(studies::sort_key.eq(studies::sort_key))
                    .execute(c)
                    .await?;
                Ok(())
            }

            /// Makes the newest terminal analysis (by upload time, then job id) the current
            /// result; with none terminal the study is pending on its newest analysis.
            async fn refresh_current(c: &mut Conn, id: &str) -> Result<(), StoreError> {
                let newest = || {
                    study_analyses::table
                        .filter(study_analyses::study_id.eq(id.to_owned()))
                        .order((
                            study_analyses::received_at.desc(),
                            study_analyses::job_id.desc(),
                        ))
                        .select(AnalysisRow::as_select())
                };
                let terminal = newest()
                    .filter(study_analyses::completed_at.is_not_null())
                    .first(c)
                    .await
                    .optional()?;
                let (result, job) = match terminal {
                    Some(row) => (row.result()?, Some(row.job_id)),
                    None => {
                        let latest = newest().first(c).await.optional()?;
                        (StudyResult::pending(), latest.map(|row| row.job_id))
                    }
                };
                let reviewed = studies::table
                    .filter(studies::id.eq(id))
                    .select(studies::reviewed_at.is_not_null())
                    .get_result::<bool>(c)
                    .await?;
                diesel::update(studies::table.filter(studies::id.eq(id)))
                    .set(CurrentChangeset::new(&result, job, reviewed))
                    .execute(c)
                    .await?;
                Ok(())
            }

            async fn record(
                c: &mut Conn,
                job: Job,
                inventory: ArchiveInventory,
            ) -> Result<(), StoreError> {
                let at = to_db_time(job.created_at);
                for study in &inventory.dicom.studies {
                    let modalities: BTreeSet<String> = study
                        .series
                        .iter()
                        .filter_map(|series| series.modality.clone())
                        .collect();
                    let body_part = study.series.iter().find_map(|s| s.body_part.clone());
                    let instances: u64 = study.series.iter().map(|s| s.slices).sum();
                    let fresh = StudyRow {
                        id: uuid::Uuid::now_v7().to_string(),
                        owner_id: job.owner_id.to_string(),
                        study_uid: study.study_uid.clone(),
                        source: StudySource::Upload.as_str().to_owned(),
                        first_received_at: at,
                        last_received_at: at,
                        modalities: to_json(&modalities, "modalities")?,
                        body_part: body_part.clone(),
                        series_count: to_count(study.series.len() as u64),
                        instance_count: to_count(instances),
                        status: AnalysisStatus::Pending.as_str().to_owned(),
                        probability: None,
                        pathology: None,
                        finding: None,
                        failure_reason: None,
                        job_id: None,
                        review_label: None,
                        review_agrees: None,
                        review_note: None,
                        reviewer_id: None,
                        reviewer_name: None,
                        reviewed_at: None,
                        sort_key: priority_key(&StudyResult::pending(), false),
                    };
                    let fresh_id = fresh.id.clone();
                    // A concurrent upload of the same study waits here on the unique index
                    // and then finds the row.
                    diesel::insert_into(studies::table)
                        .values(fresh)
                        .on_conflict((studies::owner_id, studies::study_uid))
                        .do_nothing()
                        .execute(c)
                        .await?;
                    let row = study_by_uid(c, job.owner_id.to_string(), study.study_uid.clone())
                        .await?
                        .ok_or_else(|| StoreError::Corrupt("study vanished".to_owned()))?;
                    if row.id != fresh_id {
                        lock_study(c, &row.id).await?;
                        let mut known: BTreeSet<String> =
                            serde_json::from_str(&row.modalities).unwrap_or_default();
                        known.extend(modalities);
                        diesel::update(studies::table.filter(studies::id.eq(&row.id)))
                            .set((
                                studies::last_received_at.eq(at.max(row.last_received_at)),
                                studies::first_received_at.eq(at.min(row.first_received_at)),
                                studies::modalities.eq(to_json(&known, "modalities")?),
                                studies::body_part.eq(body_part.or(row.body_part)),
                                studies::series_count.eq(to_count(study.series.len() as u64)),
                                studies::instance_count.eq(to_count(instances)),
                            ))
                            .execute(c)
                            .await?;
                    }
                    let analysis = AnalysisRow {
                        study_id: row.id.clone(),
                        job_id: job.id.to_string(),
                        received_at: at,
                        threshold: job.threshold,
                        status: AnalysisStatus::Pending.as_str().to_owned(),
                        probability: None,
                        pathology: None,
                        finding: None,
                        failure_reason: None,
                        series: "[]".to_owned(),
                        completed_at: None,
                    };
                    diesel::insert_into(study_analyses::table)
                        .values(analysis)
                        .on_conflict_do_nothing()
                        .execute(c)
                        .await?;
                    refresh_current(c, &row.id).await?;
                }
                Ok(())
            }

            async fn fan_out(c: &mut Conn, job: Job) -> Result<(), StoreError> {
                if !(job.status.is_terminal() || job.status == JobStatus::Queued) {
                    return Ok(());
                }
                let job_id = job.id.to_string();
                let mut targets: Vec<(String, String)> = study_analyses::table
                    .inner_join(studies::table)
                    .filter(study_analyses::job_id.eq(&job_id))
                    .select((studies::id, studies::study_uid))
                    .load(c)
                    .await?;
                targets.sort();
                for (study_id, study_uid) in targets {
                    lock_study(c, &study_id).await?;
                    let (result, series) = result_of_job(&job, &study_uid);
                    let completed = if job.status.is_terminal() {
                        Some(job.completed_at.unwrap_or(job.updated_at))
                    } else {
                        None
                    };
                    diesel::update(
                        study_analyses::table
                            .filter(study_analyses::study_id.eq(&study_id))
                            .filter(study_analyses::job_id.eq(&job_id)),
                    )
                    .set(AnalysisChangeset::new(&result, &series, completed)?)
                    .execute(c)
                    .await?;
                    refresh_current(c, &study_id).await?;
                }
                Ok(())
            }

            impl StudyWrites for Conn {
                fn record_studies(
                    &mut self,
                    job: Job,
                    inventory: ArchiveInventory,
                ) -> BoxFuture<'_, Result<(), StoreError>> {
                    Box::pin(record(self, job, inventory))
                }

                fn fan_out(&mut self, job: Job) -> BoxFuture<'_, Result<(), StoreError>> {
                    Box::pin(fan_out(self, job))
                }
            }

            #[async_trait]
            impl StudyStore for DieselStore<Conn> {
                async fn list_studies(
                    &self,
                    filter: &StudyFilter,
                    after: Option<&StudyCursor>,
                    limit: u32,
                ) -> DomainResult<StudyPage> {
                    let pool = self.pool.clone();
                    let filter = filter.clone();
                    let after = after.cloned();
                    let limit = limit.clamp(1, MAX_PAGE);
                    detached(None, async move {
                        let mut query = studies::table
                            .select(StudyRow::as_select())
                            .into_boxed::<$backend>();
                        if let Some(owner) = filter.owner {
                            query = query.filter(studies::owner_id.eq(owner.to_string()));
                        }
                        if let Some(status) = filter.status {
                            query = query.filter(studies::status.eq(status.as_str()));
                        }
                        if let Some(pathology) = filter.pathology {
                            query = query.filter(studies::pathology.eq(pathology));
                        }
                        if let Some(reviewed) = filter.reviewed {
                            query = if reviewed {
                                query.filter(studies::reviewed_at.is_not_null())
                            } else {
                                query.filter(studies::reviewed_at.is_null())
                            };
                        }
                        if let Some(finding) = filter.finding {
                            query = query.filter(studies::finding.eq(finding));
                        }
                        if let Some(from) = filter.received_from {
                            query = query.filter(studies::last_received_at.ge(to_db_time(from)));
                        }
                        if let Some(to) = filter.received_to {
                            query = query.filter(studies::last_received_at.le(to_db_time(to)));
                        }
                        if let Some(source) = filter.source {
                            query = query.filter(studies::source.eq(source.as_str()));
                        }
                        if let Some(prefix) = filter.uid_prefix {
                            // The caller allows only digits and dots: nothing to escape.
                            query = query.filter(studies::study_uid.like(format!("{prefix}%")));
                        }
                        if let Some(cursor) = after {
                            // A row-value comparison, so the (owner_id, sort_key, id) index
                            // starts right after the cursor even inside a long run of equal
                            // keys (every pending study shares one); `sort_key > k OR id > i`
                            // made PostgreSQL walk that run. SQLite has row values since 3.15.
                            query = query.filter(
                                diesel::dsl::sql::<diesel::sql_types::Bool>(
                                    "(studies.sort_key, studies.id) > (",
                                )
                                .bind::<diesel::sql_types::Text, _>(cursor.sort_key)
                                .sql(", ")
                                .bind::<diesel::sql_types::Text, _>(cursor.id)
                                .sql(")"),
                            );
                        }
                        let mut conn = pool.get().await?;
                        let rows: Vec<StudyRow> = query
                            .order((studies::sort_key.asc(), studies::id.asc()))
                            .limit(i64::from(limit) + 1)
                            .load(&mut *conn)
                            .await?;
                        let more = rows.len() > limit as usize;
                        let mut items = rows
                            .into_iter()
                            .take(limit as usize)
                            .map(StudyRow::into_domain)
                            .collect::<Result<Vec<Study>, StoreError>>()?;
                        items.shrink_to_fit();
                        let next = if more {
                            items.last().map(|last| StudyCursor {
                                sort_key: last.sort_key.clone(),
                                id: last.id.clone(),
                            })
                        } else {
                            None
                        };
                        Ok(StudyPage { items, next })
                    })
                    .await
                }

                async fn study_detail(
                    &self,
                    owner: Option<UserId>,
                    study_uid: &str,
                ) -> DomainResult<Option<StudyDetail>> {
                    let pool = self.pool.clone();
                    let uid = study_uid.to_owned();
                    detached(None, async move {
                        let mut conn = pool.get().await?;
                        let c = &mut *conn;
                        let mut query = studies::table
                            .filter(studies::study_uid.eq(uid))
                            .select(StudyRow::as_select())
                            .into_boxed::<$backend>();
                        if let Some(owner) = owner {
                            query = query.filter(studies::owner_id.eq(owner.to_string()));
                        }
                        let row = query
                            .order((studies::last_received_at.desc(), studies::id.asc()))
                            .first(c)
                            .await
                            .optional()?;
                        let Some(row) = row else { return Ok(None) };
                        let analyses = study_analyses::table
                            .filter(study_analyses::study_id.eq(&row.id))
                            .order((
                                study_analyses::received_at.desc(),
                                study_analyses::job_id.desc(),
                            ))
                            .select(AnalysisRow::as_select())
                            .load(c)
                            .await?
                            .into_iter()
                            .map(AnalysisRow::into_domain)
                            .collect::<Result<Vec<_>, _>>()?;
                        let reviews = study_reviews::table
                            .filter(study_reviews::study_id.eq(&row.id))
                            .order((study_reviews::reviewed_at.desc(), study_reviews::id.desc()))
                            .select(ReviewRow::as_select())
                            .load(c)
                            .await?
                            .into_iter()
                            .map(ReviewRow::into_domain)
                            .collect::<Result<Vec<_>, _>>()?;
                        Ok(Some(StudyDetail {
                            study: row.into_domain()?,
                            analyses,
                            reviews,
                        }))
                    })
                    .await
                }

                async fn review_study(
                    &self,
                    owner: UserId,
                    study_uid: &str,
                    review: NewReview,
                ) -> DomainResult<Study> {
                    let pool = self.pool.clone();
                    let uid = study_uid.to_owned();
                    detached(None, async move {
                        let mut conn = pool.get().await?;
                        conn.write_transaction(move |c| {
                            Box::pin(async move {
                                let row = study_by_uid(c, owner.to_string(), uid)
                                    .await?
                                    .ok_or(DomainError::NotFound("study"))?;
                                lock_study(c, &row.id).await?;
                                let row = studies::table
                                    .filter(studies::id.eq(&row.id))
                                    .select(StudyRow::as_select())
                                    .get_result(c)
                                    .await?;
                                let stored = ReviewRow::new(row.id.clone(), &review);
                                diesel::insert_into(study_reviews::table)
                                    .values(stored.clone())
                                    .execute(c)
                                    .await?;
                                let changes = ReviewChangeset {
                                    review_label: Some(stored.label),
                                    review_agrees: stored.agrees_with_ai,
                                    review_note: stored.note,
                                    reviewer_id: Some(stored.reviewer_id),
                                    reviewer_name: Some(stored.reviewer_name),
                                    reviewed_at: Some(stored.reviewed_at),
                                    sort_key: priority_key(&row.result()?, true),
                                };
                                let updated =
                                    diesel::update(studies::table.filter(studies::id.eq(&row.id)))
                                        .set(changes)
                                        .returning(StudyRow::as_returning())
                                        .get_result(c)
                                        .await?;
                                updated.into_domain()
                            })
                        })
                        .await
                    })
                    .await
                }

                async fn reusable_job(
                    &self,
                    owner: UserId,
                    sha256: &str,
                    profile: &str,
                    threshold: f64,
                ) -> DomainResult<Option<JobId>> {
                    let pool = self.pool.clone();
                    let (sha256, profile) = (sha256.to_owned(), profile.to_owned());
                    detached(None, async move {
                        let mut conn = pool.get().await?;
                        let id: Option<String> = jobs::table
                            .filter(jobs::owner_id.eq(owner.to_string()))
                            .filter(jobs::sha256.eq(sha256))
                            .filter(jobs::profile.eq(profile))
                            .filter(jobs::threshold.eq(threshold))
                            .filter(jobs::status.eq(JobStatus::Succeeded.as_str()))
                            .order((jobs::created_at.desc(), jobs::id.desc()))
                            .select(jobs::id)
                            .first(&mut *conn)
                            .await
                            .optional()?;
                        id.map(|id| {
                            id.parse::<JobId>()
                                .map_err(|_| StoreError::Corrupt(format!("job id {id:?}")))
                        })
                        .transpose()
                    })
                    .await
                }

                async fn studies_of_job(&self, job: JobId) -> DomainResult<Vec<(UserId, String)>> {
                    let pool = self.pool.clone();
                    detached(None, async move {
                        let mut conn = pool.get().await?;
                        let rows: Vec<(String, String)> = study_analyses::table
                            .inner_join(studies::table)
                            .filter(study_analyses::job_id.eq(job.to_string()))
                            .select((studies::owner_id, studies::study_uid))
                            .load(&mut *conn)
                            .await?;
                        rows.into_iter()
                            .map(|(owner, uid)| {
                                owner
                                    .parse::<UserId>()
                                    .map(|owner| (owner, uid))
                                    .map_err(|_| StoreError::Corrupt(format!("owner id {owner:?}")))
                            })
                            .collect()
                    })
                    .await
                }
            }

            #[async_trait]
            impl AuditStore for DieselStore<Conn> {
                async fn append(&self, entry: NewAuditEntry) -> DomainResult<AuditEntry> {
                    let pool = self.pool.clone();
                    detached(None, async move {
                        let row = AuditRow::new(entry);
                        let mut conn = pool.get().await?;
                        diesel::insert_into(audit_entries::table)
                            .values(row.clone())
                            .execute(&mut *conn)
                            .await?;
                        // Whoever appends exists at this moment.
                        row.into_domain(true)
                    })
                    .await
                }

                async fn list_audit(&self, filter: &AuditFilter) -> DomainResult<Vec<AuditEntry>> {
                    let pool = self.pool.clone();
                    let filter = filter.clone();
                    let limit = i64::from(filter.limit.clamp(1, MAX_PAGE));
                    detached(None, async move {
                        let mut query = audit_entries::table
                            .left_join(users::table.on(users::id.eq(audit_entries::user_id)))
                            .select((AuditRow::as_select(), users::id.nullable()))
                            .into_boxed::<$backend>();
                        if let Some(user) = filter.user {
                            query = query.filter(audit_entries::user_id.eq(user.to_string()));
                        }
                        if let Some(uid) = filter.study_uid {
                            query = query.filter(audit_entries::study_uid.eq(uid));
                        }
                        if let Some(job) = filter.job {
                            query = query.filter(audit_entries::job_id.eq(job.to_string()));
                        }
                        if let Some(action) = filter.action {
                            query = query.filter(audit_entries::action.eq(action));
                        }
                        if let Some(since) = filter.since {
                            query = query.filter(audit_entries::at.ge(to_db_time(since)));
                        }
                        if let Some(until) = filter.until {
                            query = query.filter(audit_entries::at.le(to_db_time(until)));
                        }
                        if let Some((at, id)) = filter.before {
                            let at = to_db_time(at);
                            query = query
                                .filter(audit_entries::at.le(at))
                                .filter(audit_entries::at.lt(at).or(audit_entries::id.lt(id)));
                        }
                        let mut conn = pool.get().await?;
                        let rows: Vec<(AuditRow, Option<String>)> = query
                            .order((audit_entries::at.desc(), audit_entries::id.desc()))
                            .limit(limit)
                            .load(&mut *conn)
                            .await?;
                        rows.into_iter()
                            .map(|(row, user)| row.into_domain(user.is_some()))
                            .collect()
                    })
                    .await
                }
            }
        }
    };
}

study_impls!(
    sqlite_impls,
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::SqliteConnection>,
    diesel::sqlite::Sqlite
);
study_impls!(pg_impls, diesel_async::AsyncPgConnection, diesel::pg::Pg);
