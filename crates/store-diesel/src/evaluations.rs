//! `EvaluationStore` for every backend: one row per evaluation, the resource as JSON text.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::{
    ExpressionMethods, Insertable, OptionalExtension, QueryDsl, Queryable, Selectable, dsl,
};
use diesel_async::RunQueryDsl;
use diesel_async::methods::{ExecuteDsl, LoadQuery};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use triage_domain::ports::EvaluationStore;
use triage_domain::{DomainError, DomainResult, EvaluationId, StoredEvaluation, UserId};

use crate::connection::StoreConnection;
use crate::error::StoreError;
use crate::models::{from_db_time, to_db_time};
use crate::schema::evaluations;
use crate::{DieselStore, detached, to_i64};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = evaluations, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct EvaluationRow {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub body: String,
}

impl EvaluationRow {
    fn new(evaluation: &StoredEvaluation) -> Result<Self, DomainError> {
        Ok(Self {
            id: evaluation.id.to_string(),
            owner_id: evaluation.owner_id.to_string(),
            name: evaluation.name.clone(),
            created_at: to_db_time(evaluation.created_at),
            body: serde_json::to_string(&evaluation.body).map_err(|err| {
                DomainError::internal(format!("evaluation does not serialize: {err}"))
            })?,
        })
    }

    fn into_domain(self) -> Result<StoredEvaluation, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("{what} of evaluation {}", self.id));
        Ok(StoredEvaluation {
            id: self.id.parse::<EvaluationId>().map_err(|_| corrupt("id"))?,
            owner_id: self
                .owner_id
                .parse::<UserId>()
                .map_err(|_| corrupt("owner"))?,
            body: serde_json::from_str(&self.body).map_err(|_| corrupt("body"))?,
            name: self.name,
            created_at: from_db_time(self.created_at),
        })
    }
}

#[dsl::auto_type]
pub(crate) fn insert_evaluation(row: EvaluationRow) -> _ {
    dsl::insert_into(evaluations::table).values(row)
}

#[dsl::auto_type]
pub(crate) fn evaluation_by_id(id: String) -> _ {
    evaluations::table.filter(evaluations::id.eq(id))
}

#[dsl::auto_type]
pub(crate) fn evaluations_page(owner: String, skip: i64, limit: i64) -> _ {
    evaluations::table
        .filter(evaluations::owner_id.eq(owner))
        .order((evaluations::created_at.desc(), evaluations::id.desc()))
        .offset(skip)
        .limit(limit)
}

#[dsl::auto_type]
pub(crate) fn delete_evaluation_row(id: String) -> _ {
    dsl::delete(evaluations::table.filter(evaluations::id.eq(id)))
}

#[async_trait]
impl<C> EvaluationStore for DieselStore<C>
where
    C: StoreConnection,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C, Error = PoolError>,
    insert_evaluation: ExecuteDsl<C>,
    delete_evaluation_row: ExecuteDsl<C>,
    for<'a> evaluation_by_id: LoadQuery<'a, C, EvaluationRow>,
    for<'a> evaluations_page: LoadQuery<'a, C, EvaluationRow>,
{
    async fn create_evaluation(
        &self,
        evaluation: StoredEvaluation,
    ) -> DomainResult<StoredEvaluation> {
        let pool = self.pool.clone();
        detached(Some("user"), async move {
            let row = EvaluationRow::new(&evaluation)?;
            let mut conn = pool.get().await?;
            insert_evaluation(row.clone()).execute(&mut *conn).await?;
            row.into_domain()
        })
        .await
    }

    async fn get_evaluation(&self, id: EvaluationId) -> DomainResult<Option<StoredEvaluation>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let row = evaluation_by_id(id.to_string())
                .get_result::<EvaluationRow>(&mut *conn)
                .await
                .optional()?;
            row.map(EvaluationRow::into_domain).transpose()
        })
        .await
    }

    async fn list_evaluations(
        &self,
        owner: UserId,
        skip: u64,
        limit: u64,
    ) -> DomainResult<Vec<StoredEvaluation>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let rows = evaluations_page(owner.to_string(), to_i64(skip), to_i64(limit))
                .load::<EvaluationRow>(&mut *conn)
                .await?;
            rows.into_iter().map(EvaluationRow::into_domain).collect()
        })
        .await
    }

    async fn delete_evaluation(&self, id: EvaluationId) -> DomainResult<()> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let deleted = delete_evaluation_row(id.to_string())
                .execute(&mut *conn)
                .await?;
            if deleted == 0 {
                return Err(DomainError::NotFound("evaluation").into());
            }
            Ok(())
        })
        .await
    }
}
