//! The HTTP API of triage: actix-web routes grouped per resource, the DTOs that fix the JSON
//! shapes of `api.md`, the bearer-token extractor, the one mapping from [`AppError`] to status
//! codes and error bodies, the streaming upload and download handlers, and the OpenAPI
//! document with its Swagger UI.
//!
//! This is an inbound adapter: it depends on `triage-app` (the use cases) and
//! `triage-domain` (their vocabulary), on actix-web, actix-multipart and utoipa, and never on
//! an outbound adapter crate (store, blobs, events). HTTP status codes exist only here.
//!
//! [`AppError`]: triage_app::AppError

mod content_disposition;
mod dto;
mod error;
mod extract;
mod openapi;
mod rejection;
mod routes;

use actix_web::web;

pub use content_disposition::attachment;
pub use error::{ApiError, ErrorBody, FieldErrorBody};
pub use extract::AuthUser;
pub use openapi::openapi;

/// Registers every route of api.md (except the WebSocket, the Files section and the ML
/// callback) at the root and under `/api`, plus `/openapi.json` and `/docs` (Swagger UI) in
/// both places, the JSON, query and path error handlers, and a JSON 404 default service.
///
/// Expects `web::Data<triage_app::App>` in the app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(rejection::json_config())
        .app_data(rejection::query_config())
        .app_data(rejection::path_config())
        .service(web::scope("/api").configure(routes::configure))
        .configure(routes::configure)
        .default_service(web::to(rejection::not_found));
}
