//! Routes, one module per resource. Each module's `configure` registers its resources; this
//! module's [`configure`] is applied twice, at the root and under `/api`.

pub(crate) mod auth;
pub(crate) mod evaluations;
pub(crate) mod files;
pub(crate) mod internal;
pub(crate) mod jobs;
pub(crate) mod studies;
pub(crate) mod system;
pub(crate) mod users;
pub(crate) mod ws;

use actix_web::{HttpRequest, Resource, web};

use crate::rejection::method_not_allowed;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(system::configure)
        .configure(auth::configure)
        .configure(users::configure)
        .configure(jobs::configure)
        .configure(studies::configure)
        .configure(files::configure)
        .configure(evaluations::configure)
        .configure(internal::configure)
        .configure(ws::configure);
}

/// A resource whose other methods answer a JSON 405 listing `allow`.
pub(crate) fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
        method_not_allowed(req.method(), allow)
    }))
}
