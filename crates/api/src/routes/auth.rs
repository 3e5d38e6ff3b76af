//! Registration, login and the caller's own account.

use actix_web::{HttpRequest, HttpResponse, web};
use triage_app::App;

use super::resource;
use crate::client::client_ip;
use crate::dto::auth::{LoginRequest, RegisterRequest, TokenResponse};
use crate::dto::users::UserResponse;
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthUser;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/auth/register", "POST").route(web::post().to(register)))
        .service(resource("/auth/login", "POST").route(web::post().to(login)))
        .service(resource("/auth/me", "GET").route(web::get().to(me)));
}

/// Create an account (role `user`).
#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = UserResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "`username_taken`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: username 3–50 of letters, digits, `_ . -`; password 6–128", body = ErrorBody),
    )
)]
pub(crate) async fn register(
    app: web::Data<App>,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = app.register(body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(UserResponse::from(user)))
}

/// Exchange a username and password for a bearer token.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A token for `Authorization: Bearer`", body = TokenResponse),
        (status = 401, description = "`invalid_credentials` (the same for an unknown user and a wrong password)", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: too many failed logins for this username or from this client; `Retry-After` says when to try again", body = ErrorBody),
    )
)]
pub(crate) async fn login(
    app: web::Data<App>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let body = body.into_inner();
    let client = client_ip(&req, app.settings().web.trust_forwarded_for);
    let outcome = app.login(client, &body.username, &body.password).await?;
    Ok(web::Json(outcome.into()))
}

/// The caller's own account.
#[utoipa::path(
    get, path = "/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "User JSON", body = UserResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub(crate) async fn me(
    user: AuthUser,
    app: web::Data<App>,
) -> Result<web::Json<UserResponse>, ApiError> {
    Ok(web::Json(app.me(&user.0).await?.into()))
}
