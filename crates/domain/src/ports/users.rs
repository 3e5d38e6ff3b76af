use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::DomainResult;
use crate::ids::UserId;
use crate::user::{NewUser, User, UserChanges};

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts a user.
    ///
    /// # Errors
    /// - `Conflict(UsernameTaken)` if the username is taken, compared by
    ///   [`username_key`](crate::user::username_key) (NFKC and lower case).
    /// - `Unavailable` if the database cannot be reached.
    async fn create(&self, user: NewUser) -> DomainResult<User>;

    /// # Errors
    /// `Unavailable`. A missing user is `Ok(None)`.
    async fn get(&self, id: UserId) -> DomainResult<Option<User>>;

    /// Looks a user up by name, compared by [`username_key`](crate::user::username_key).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn find_by_username(&self, username: &str) -> DomainResult<Option<User>>;

    /// Users ordered by creation time (oldest first).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list(&self, skip: u64, limit: u64) -> DomainResult<Vec<User>>;

    /// Applies `changes` and sets `updated_at` to `now`.
    ///
    /// # Errors
    /// - `NotFound("user")`.
    /// - `Conflict(UsernameTaken)` when renaming onto a taken name.
    /// - `Conflict(LastAdmin)` when demoting the last administrator.
    /// - `Unavailable`.
    async fn update(
        &self,
        id: UserId,
        changes: UserChanges,
        now: DateTime<Utc>,
    ) -> DomainResult<User>;

    /// Deletes a user; their jobs (rows and queue entries) go with them. Blobs are the caller's
    /// business.
    ///
    /// # Errors
    /// - `NotFound("user")`.
    /// - `Conflict(LastAdmin)` when the user is the last administrator.
    /// - `Unavailable`.
    async fn delete(&self, id: UserId) -> DomainResult<()>;

    /// # Errors
    /// `Unavailable`.
    async fn count_admins(&self) -> DomainResult<u64>;
}
