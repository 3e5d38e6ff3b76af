//! `UserStore` for every backend.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, dsl};
use diesel_async::RunQueryDsl;
use diesel_async::methods::{ExecuteDsl, LoadQuery};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, PoolError};
use triage_domain::ports::UserStore;
use triage_domain::{
    ConflictKind, DomainError, DomainResult, NewUser, Role, User, UserChanges, UserId,
};

use crate::connection::StoreConnection;
use crate::error::StoreError;
use crate::models::{UserChangeset, UserRow, username_key};
use crate::schema::users;
use crate::{DieselStore, detached, to_i64};

#[dsl::auto_type]
pub(crate) fn insert_user(row: UserRow) -> _ {
    dsl::insert_into(users::table).values(row)
}

#[dsl::auto_type]
pub(crate) fn user_by_id(id: String) -> _ {
    users::table.filter(users::id.eq(id))
}

#[dsl::auto_type]
pub(crate) fn user_by_key(key: String) -> _ {
    users::table.filter(users::username_key.eq(key))
}

#[dsl::auto_type]
pub(crate) fn users_page(skip: i64, limit: i64) -> _ {
    users::table
        .order((users::created_at.asc(), users::id.asc()))
        .offset(skip)
        .limit(limit)
}

/// `get_result` adds `RETURNING` with every column.
#[dsl::auto_type]
pub(crate) fn update_user(id: String, changes: UserChangeset) -> _ {
    dsl::update(users::table.filter(users::id.eq(id))).set(changes)
}

#[dsl::auto_type]
pub(crate) fn delete_user(id: String) -> _ {
    dsl::delete(users::table.filter(users::id.eq(id)))
}

#[dsl::auto_type]
pub(crate) fn count_role(role: String) -> _ {
    users::table.filter(users::role.eq(role)).count()
}

fn admin() -> String {
    Role::Admin.as_str().to_owned()
}

/// The refusal for removing or demoting `user` when `admins` is the number of administrators
/// (read inside a write transaction after [`StoreConnection::lock_admins`], so it stays true
/// until commit).
fn check_last_admin(user: &UserRow, admins: i64) -> Result<(), StoreError> {
    if user.role == Role::Admin.as_str() && admins <= 1 {
        return Err(DomainError::Conflict(ConflictKind::LastAdmin).into());
    }
    Ok(())
}

#[async_trait]
impl<C> UserStore for DieselStore<C>
where
    C: StoreConnection,
    AsyncDieselConnectionManager<C>: deadpool::managed::Manager<Type = C, Error = PoolError>,
    insert_user: ExecuteDsl<C>,
    delete_user: ExecuteDsl<C>,
    for<'a> user_by_id: LoadQuery<'a, C, UserRow>,
    for<'a> user_by_key: LoadQuery<'a, C, UserRow>,
    for<'a> users_page: LoadQuery<'a, C, UserRow>,
    for<'a> update_user: LoadQuery<'a, C, UserRow>,
    for<'a> count_role: LoadQuery<'a, C, i64>,
{
    async fn create(&self, user: NewUser) -> DomainResult<User> {
        let pool = self.pool.clone();
        detached(None, async move {
            let row = UserRow::new(user);
            let mut conn = pool.get().await?;
            insert_user(row.clone()).execute(&mut *conn).await?;
            row.into_domain()
        })
        .await
    }

    async fn get(&self, id: UserId) -> DomainResult<Option<User>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let row = user_by_id(id.to_string())
                .get_result::<UserRow>(&mut *conn)
                .await
                .optional()?;
            row.map(UserRow::into_domain).transpose()
        })
        .await
    }

    async fn find_by_username(&self, username: &str) -> DomainResult<Option<User>> {
        let pool = self.pool.clone();
        let key = username_key(username);
        detached(None, async move {
            let mut conn = pool.get().await?;
            let row = user_by_key(key)
                .get_result::<UserRow>(&mut *conn)
                .await
                .optional()?;
            row.map(UserRow::into_domain).transpose()
        })
        .await
    }

    async fn list(&self, skip: u64, limit: u64) -> DomainResult<Vec<User>> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let rows = users_page(to_i64(skip), to_i64(limit))
                .load::<UserRow>(&mut *conn)
                .await?;
            rows.into_iter().map(UserRow::into_domain).collect()
        })
        .await
    }

    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        now: DateTime<Utc>,
    ) -> DomainResult<User> {
        let pool = self.pool.clone();
        detached(None, async move {
            let demotes = changes.role == Some(Role::User);
            let changes = UserChangeset::new(changes, now);
            let mut conn = pool.get().await?;
            let row = conn
                .write_transaction(move |c| {
                    Box::pin(async move {
                        if demotes {
                            c.lock_admins().await?;
                        }
                        let current = user_by_id(id.to_string())
                            .get_result::<UserRow>(c)
                            .await
                            .optional()?;
                        let current = current.ok_or(DomainError::NotFound("user"))?;
                        if demotes {
                            check_last_admin(&current, count_role(admin()).get_result(c).await?)?;
                        }
                        Ok(update_user(id.to_string(), changes)
                            .get_result::<UserRow>(c)
                            .await?)
                    })
                })
                .await?;
            row.into_domain()
        })
        .await
    }

    async fn delete(&self, id: UserId) -> DomainResult<()> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            conn.write_transaction(move |c| {
                Box::pin(async move {
                    c.lock_admins().await?;
                    let current = user_by_id(id.to_string())
                        .get_result::<UserRow>(c)
                        .await
                        .optional()?;
                    let current = current.ok_or(DomainError::NotFound("user"))?;
                    check_last_admin(&current, count_role(admin()).get_result(c).await?)?;
                    // Jobs, their inventories and queue entries go by ON DELETE CASCADE.
                    delete_user(id.to_string()).execute(c).await?;
                    Ok(())
                })
            })
            .await
        })
        .await
    }

    async fn count_admins(&self) -> DomainResult<u64> {
        let pool = self.pool.clone();
        detached(None, async move {
            let mut conn = pool.get().await?;
            let count = count_role(admin()).get_result::<i64>(&mut *conn).await?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }
}

#[dsl::auto_type]
pub(crate) fn user_names() -> _ {
    users::table.select((users::id, users::username, users::username_key))
}

#[dsl::auto_type]
pub(crate) fn set_username_key(id: String, key: String) -> _ {
    dsl::update(users::table.filter(users::id.eq(id))).set(users::username_key.eq(key))
}

/// Brings every stored `username_key` to the current rule ([`username_key`]); run after the
/// migrations, because SQL cannot compute the rule. Idempotent, and cheap once done (it reads
/// the names only). Two existing accounts whose names now collide keep the later one's old
/// key (it stays reachable by id, and an administrator can rename it); a warning says so.
pub(crate) async fn rekey_usernames<C>(conn: &mut C) -> Result<(), StoreError>
where
    C: diesel_async::AsyncConnection,
    set_username_key: ExecuteDsl<C>,
    for<'a> user_names: LoadQuery<'a, C, (String, String, String)>,
{
    let names = user_names().load::<(String, String, String)>(conn).await?;
    let mut rekeyed = 0_usize;
    for (id, username, stored) in names {
        let key = username_key(&username);
        if key == stored {
            continue;
        }
        match set_username_key(id.clone(), key).execute(conn).await {
            Ok(_) => rekeyed += 1,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => tracing::warn!(
                user_id = %id,
                "username collides with another account after normalisation; rename it"
            ),
            Err(err) => return Err(err.into()),
        }
    }
    if rekeyed > 0 {
        tracing::info!(rekeyed, "usernames re-keyed to the normalised form");
    }
    Ok(())
}
