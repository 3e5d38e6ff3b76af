//! User JSON and the user edit body.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use triage_app::{AppError, UserUpdate};
use triage_domain::{Role, User};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{QueryChecks, nullable};

/// What a user may do beyond their own jobs and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Role)]
pub(crate) enum RoleDto {
    User,
    Admin,
}

impl From<Role> for RoleDto {
    fn from(role: Role) -> Self {
        match role {
            Role::User => Self::User,
            Role::Admin => Self::Admin,
        }
    }
}

/// User JSON. Never carries the password hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = User)]
pub(crate) struct UserResponse {
    pub id: Uuid,
    #[schema(example = "alice")]
    pub username: String,
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub role: RoleDto,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserResponse {
    fn from(user: User) -> Self {
        Self {
            id: user.id.0,
            username: user.username,
            email: user.email,
            full_name: user.full_name,
            role: user.role.into(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// PUT /users/{user_id}: only the fields present change; `null` clears `email` and
/// `full_name`; `role` only by an administrator.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = UserUpdate)]
pub(crate) struct UpdateUserRequest {
    #[serde(default)]
    #[schema(min_length = 3, max_length = 50)]
    pub username: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub full_name: Option<Option<String>>,
    #[serde(default)]
    #[schema(min_length = 6, max_length = 128)]
    pub password: Option<String>,
    /// Parsed here rather than by serde, so that a bad value is reported on `role`.
    #[serde(default)]
    #[schema(value_type = Option<RoleDto>)]
    pub role: Option<String>,
}

impl TryFrom<UpdateUserRequest> for UserUpdate {
    type Error = AppError;

    fn try_from(body: UpdateUserRequest) -> Result<Self, AppError> {
        let role = body.role.map(|role| role.parse::<Role>()).transpose()?;
        Ok(Self {
            username: body.username,
            email: body.email,
            full_name: body.full_name,
            password: body.password,
            role,
        })
    }
}

/// `?skip&limit` of GET /users.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserListQuery {
    /// Users to skip (default 0).
    #[param(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000)]
    pub skip: Option<String>,
    /// Page size, 1–500 (default 100).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
}

impl UserListQuery {
    /// `(skip, limit)`.
    pub(crate) fn check(&self) -> Result<(u64, u64), AppError> {
        let mut checks = QueryChecks::default();
        let skip = checks.number("skip", self.skip.as_deref(), 0, 0, super::MAX_SKIP);
        let limit = checks.number("limit", self.limit.as_deref(), 100, 1, 500);
        checks.finish()?;
        Ok((skip, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_clears_and_absence_keeps() {
        let body: UpdateUserRequest = serde_json::from_str(r#"{"email": null}"#).unwrap();
        assert_eq!(body.email, Some(None));
        assert_eq!(body.full_name, None);
        let body: UpdateUserRequest =
            serde_json::from_str(r#"{"full_name": "A B", "role": "admin"}"#).unwrap();
        assert_eq!(body.full_name, Some(Some("A B".into())));
        assert_eq!(UserUpdate::try_from(body).unwrap().role, Some(Role::Admin));
        let body: UpdateUserRequest = serde_json::from_str(r#"{"role": "root"}"#).unwrap();
        let Err(AppError::Validation(fields)) = UserUpdate::try_from(body) else {
            panic!("accepted")
        };
        assert_eq!(fields[0].field, "role");
    }
}
