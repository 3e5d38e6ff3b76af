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

mod client;
mod content_disposition;
mod cors;
mod dto;
mod error;
mod extract;
mod observe;
mod openapi;
mod rejection;
mod routes;
mod site;

use actix_web::web;

pub use content_disposition::attachment;
pub use cors::cors;
pub use error::{ApiError, ErrorBody, FieldErrorBody};
pub use extract::AuthUser;
pub use observe::observe;
pub use openapi::openapi;

/// Registers every route of api.md at the root and under `/api`, plus `/openapi.json`,
/// `/docs` (Swagger UI) and `/metrics` in both places, the JSON, query and path error
/// handlers, and a JSON 404 default service. Wrap the app in [`observe`] for request ids,
/// access logs and HTTP metrics.
///
/// Expects `web::Data<triage_app::App>` in the app data.
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_with(&triage_app::WebSettings::default())(cfg);
}

/// [`configure`] with the app's HTTP settings: the JSON body limit, and (with a static
/// directory) the single-page frontend as the default service instead of the JSON 404. Wrap
/// the app in [`cors`] for cross-origin requests.
pub fn configure_with(
    settings: &triage_app::WebSettings,
) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
    let json_limit = settings.json_limit;
    let site = settings.static_dir.as_deref().and_then(site::Site::open);
    move |cfg| {
        cfg.app_data(rejection::json_config(json_limit))
            .app_data(rejection::JsonLimit(json_limit))
            .app_data(rejection::query_config())
            .app_data(rejection::path_config())
            .service(web::scope("/api").configure(routes::configure))
            .configure(routes::configure);
        match site {
            Some(site) => cfg.default_service(web::to(move |req| site.clone().respond(req))),
            None => cfg.default_service(web::to(rejection::not_found)),
        };
    }
}
