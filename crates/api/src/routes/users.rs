//! User administration: admins see and change everyone, users only themselves.

use actix_web::{HttpResponse, web};
use triage_app::{App, UserUpdate};
use triage_domain::UserId;
use uuid::Uuid;

use super::resource;
use crate::dto::users::{UpdateUserRequest, UserListQuery, UserResponse};
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthUser;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/users", "GET").route(web::get().to(list_users)))
        .service(
            resource("/users/username/{username}", "GET").route(web::get().to(get_user_by_name)),
        )
        .service(
            resource("/users/{user_id}", "GET, PUT, DELETE")
                .route(web::get().to(get_user))
                .route(web::put().to(update_user))
                .route(web::delete().to(delete_user)),
        );
}

/// Every user (administrators only).
#[utoipa::path(
    get, path = "/users", tag = "users",
    params(UserListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = Vec<UserResponse>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 422, description = "`validation_failed`: bad `skip` or `limit`", body = ErrorBody),
    )
)]
pub(crate) async fn list_users(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<UserListQuery>,
) -> Result<web::Json<Vec<UserResponse>>, ApiError> {
    let (skip, limit) = query.check()?;
    let users = app.list_users(&user.0, skip, limit).await?;
    Ok(web::Json(
        users.into_iter().map(UserResponse::from).collect(),
    ))
}

/// A user by name (the caller themselves, or anyone for an administrator).
#[utoipa::path(
    get, path = "/users/username/{username}", tag = "users",
    params(("username" = String, Path, description = "The exact username")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "User JSON", body = UserResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also for users the caller may not see)", body = ErrorBody),
    )
)]
pub(crate) async fn get_user_by_name(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<String>,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(
        app.user_by_name(&user.0, &path.into_inner()).await?.into(),
    ))
}

/// A user by id (the caller themselves, or anyone for an administrator).
#[utoipa::path(
    get, path = "/users/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "User JSON", body = UserResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also for a malformed id)", body = ErrorBody),
    )
)]
pub(crate) async fn get_user(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(
        app.user(&user.0, UserId(path.into_inner())).await?.into(),
    ))
}

/// Change a user. `role` only by an administrator; `null` clears `email` or `full_name`.
#[utoipa::path(
    put, path = "/users/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path, description = "User id")),
    request_body = UpdateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed user", body = UserResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: a non-administrator setting a role", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`username_taken`, `last_admin`", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
pub(crate) async fn update_user(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
    body: web::Json<UpdateUserRequest>,
) -> Result<web::Json<UserResponse>, ApiError> {
    let update = UserUpdate::try_from(body.into_inner())?;
    let updated = app
        .update_user(&user.0, UserId(path.into_inner()), update)
        .await?;
    Ok(web::Json(updated.into()))
}

/// Delete a user with their jobs and every object they own.
#[utoipa::path(
    delete, path = "/users/{user_id}", tag = "users",
    params(("user_id" = Uuid, Path, description = "User id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`last_admin`: the last administrator cannot be deleted", body = ErrorBody),
    )
)]
pub(crate) async fn delete_user(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    app.delete_user(&user.0, UserId(path.into_inner())).await?;
    Ok(HttpResponse::NoContent().finish())
}
