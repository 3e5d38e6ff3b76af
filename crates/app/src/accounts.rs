//! Registration, login, token checks and the user administration rules of api.md: admins see
//! and change everyone; a user sees and changes only themself and never their own role.

use std::net::IpAddr;

use triage_domain::user::{validate_email, validate_password, validate_username};
use triage_domain::{NewUser, Role, User, UserChanges, UserId};

use crate::error::{AppError, AppResult, FieldError};
use crate::{App, Caller};

/// POST /auth/register.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub access_token: String,
    pub expires_in: u64,
    pub username: String,
}

/// PUT /users/{id}. For `email` and `full_name`, `Some(None)` clears the field.
#[derive(Debug, Clone, Default)]
pub struct UserUpdate {
    pub username: Option<String>,
    pub email: Option<Option<String>>,
    pub full_name: Option<Option<String>>,
    pub password: Option<String>,
    pub role: Option<Role>,
}

/// Collects every broken rule instead of stopping at the first.
#[derive(Default)]
struct Checks(Vec<FieldError>);

impl Checks {
    fn run(&mut self, result: Result<(), triage_domain::DomainError>) {
        if let Err(triage_domain::DomainError::Invalid { field, reason }) = result {
            self.0.push(FieldError {
                field: field.into(),
                message: reason,
            });
        }
    }

    fn text(&mut self, field: &str, value: Option<&str>, max: usize) {
        if value.is_some_and(|v| v.chars().count() > max) {
            self.0.push(FieldError {
                field: field.into(),
                message: format!("must be at most {max} characters"),
            });
        }
    }

    fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl App {
    /// Creates a `user` account.
    ///
    /// # Errors
    /// `Validation`, `UsernameTaken`, `Unavailable`.
    pub async fn register(&self, form: Registration) -> AppResult<User> {
        self.create_user(form, Role::User).await
    }

    /// Creates an account with any role (the CLI and config bootstrap; not reachable over HTTP
    /// with `Admin`).
    ///
    /// # Errors
    /// `Validation`, `UsernameTaken`, `Unavailable`.
    pub async fn create_user(&self, form: Registration, role: Role) -> AppResult<User> {
        let username = form.username.trim().to_owned();
        let email = blank_to_none(form.email);
        let full_name = blank_to_none(form.full_name);
        let mut checks = Checks::default();
        checks.run(validate_username(&username));
        checks.run(validate_password(&form.password));
        if let Some(email) = &email {
            checks.run(validate_email(email));
        }
        checks.text("full_name", full_name.as_deref(), 200);
        checks.finish()?;
        let password_hash = self.inner.passwords.hash(&form.password).await?;
        let user = NewUser {
            id: UserId::random(),
            username,
            email,
            full_name,
            role,
            password_hash,
            created_at: self.now(),
        };
        Ok(self.inner.ports.users.create(user).await?)
    }

    /// Checks a username and password and issues a token. Unknown users and wrong passwords
    /// get the same error after the same amount of work, and count the same towards the
    /// login limit of the username and of `client` (the caller's address, when known; see
    /// [`crate::auth::LoginThrottle`]).
    ///
    /// # Errors
    /// `RateLimited` (before any password check), `InvalidCredentials`, `Unavailable`.
    pub async fn login(
        &self,
        client: Option<IpAddr>,
        username: &str,
        password: &str,
    ) -> AppResult<LoginOutcome> {
        let attempt = self
            .inner
            .login_throttle
            .begin(self.now(), client, username)?;
        // An error before the verdict drops `attempt`, which gives its reservation back.
        let user = self
            .inner
            .ports
            .users
            .find_by_username(username.trim())
            .await?;
        let hash = user.as_ref().map(|u| u.password_hash.as_str());
        let matched = self.inner.passwords.verify(password, hash).await?;
        let user = match user {
            Some(user) if matched => user,
            _ => {
                attempt.failed(self.now());
                return Err(AppError::InvalidCredentials);
            }
        };
        attempt.succeeded(self.now());
        Ok(LoginOutcome {
            access_token: self.inner.tokens.issue(user.id, self.now())?,
            expires_in: self.inner.tokens.ttl_secs(),
            username: user.username,
        })
    }

    /// Resolves a bearer token to the current user.
    ///
    /// # Errors
    /// `Unauthenticated` (bad token, or the user no longer exists), `Unavailable`.
    pub async fn authenticate(&self, token: &str) -> AppResult<Caller> {
        let id = self.inner.tokens.verify(token, self.now())?;
        let user = self.inner.ports.users.get(id).await?;
        user.as_ref()
            .map(Caller::from)
            .ok_or(AppError::Unauthenticated("unknown user"))
    }

    /// # Errors
    /// `NotFound`, `Unavailable`.
    pub async fn me(&self, caller: &Caller) -> AppResult<User> {
        self.user(caller, caller.id).await
    }

    /// # Errors
    /// `Forbidden` for non-admins, `Validation` for a bad limit, `Unavailable`.
    pub async fn list_users(&self, caller: &Caller, skip: u64, limit: u64) -> AppResult<Vec<User>> {
        if !caller.is_admin() {
            return Err(AppError::Forbidden("only administrators may list users"));
        }
        check_limit(limit)?;
        Ok(self.inner.ports.users.list(skip, limit).await?)
    }

    /// # Errors
    /// `NotFound` (also for users the caller may not see), `Unavailable`.
    pub async fn user(&self, caller: &Caller, id: UserId) -> AppResult<User> {
        if !caller.may_access(id) {
            return Err(AppError::NotFound("user"));
        }
        self.inner
            .ports
            .users
            .get(id)
            .await?
            .ok_or(AppError::NotFound("user"))
    }

    /// # Errors
    /// `NotFound` (also for users the caller may not see), `Unavailable`.
    pub async fn user_by_name(&self, caller: &Caller, username: &str) -> AppResult<User> {
        let user = self.inner.ports.users.find_by_username(username).await?;
        user.filter(|u| caller.may_access(u.id))
            .ok_or(AppError::NotFound("user"))
    }

    /// # Errors
    /// `NotFound`, `Forbidden` (a non-admin setting a role), `Validation`, `UsernameTaken`,
    /// `Conflict` (`last_admin`), `Unavailable`.
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: UserId,
        update: UserUpdate,
    ) -> AppResult<User> {
        if !caller.may_access(id) {
            return Err(AppError::NotFound("user"));
        }
        if update.role.is_some() && !caller.is_admin() {
            return Err(AppError::Forbidden("only administrators may change roles"));
        }
        let username = update.username.map(|u| u.trim().to_owned());
        let email = update.email.map(blank_to_none);
        let full_name = update.full_name.map(blank_to_none);
        let mut checks = Checks::default();
        if let Some(username) = &username {
            checks.run(validate_username(username));
        }
        if let Some(password) = &update.password {
            checks.run(validate_password(password));
        }
        if let Some(Some(email)) = &email {
            checks.run(validate_email(email));
        }
        checks.text(
            "full_name",
            full_name.as_ref().and_then(|f| f.as_deref()),
            200,
        );
        checks.finish()?;
        let password_hash = match &update.password {
            Some(password) => Some(self.inner.passwords.hash(password).await?),
            None => None,
        };
        let changes = UserChanges {
            username,
            email,
            full_name,
            role: update.role,
            password_hash,
        };
        Ok(self
            .inner
            .ports
            .users
            .update(id, changes, self.now())
            .await?)
    }

    /// Deletes a user with their jobs and every object they own.
    ///
    /// # Errors
    /// `NotFound`, `Conflict` (`last_admin`), `Unavailable` (objects already deleted stay
    /// deleted; repeating the call finishes the job).
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> AppResult<()> {
        let user = self.user(caller, id).await?;
        let ports = &self.inner.ports;
        // Refuse before deleting any object, so a refused call changes nothing.
        if user.is_admin() && ports.users.count_admins().await? <= 1 {
            return Err(AppError::Conflict {
                code: "last_admin",
                message: triage_domain::ConflictKind::LastAdmin.to_string(),
            });
        }
        for job_id in ports.jobs.ids_of_owner(id).await? {
            self.delete_job_everything(job_id).await?;
        }
        for object in ports.blobs.list(&user_files_prefix(id)).await? {
            ports.blobs.delete(&object.key).await?;
        }
        ports.users.delete(id).await?;
        Ok(())
    }
}

/// Where a user's own files live in the object store.
pub(crate) fn user_files_prefix(id: UserId) -> String {
    format!("files/{id}/")
}

/// `skip`/`limit` rules shared by the list endpoints.
pub(crate) fn check_limit(limit: u64) -> AppResult<()> {
    if (1..=500).contains(&limit) {
        Ok(())
    } else {
        Err(AppError::field("limit", "must be between 1 and 500"))
    }
}
