//! Liveness, readiness, the OpenAPI document and its Swagger UI.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use triage_app::App;
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::resource;
use crate::dto::system::{HealthResponse, ReadyChecks, ReadyResponse};
use crate::openapi::lang::{Lang, localize};
use crate::openapi::{openapi, public_openapi};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    let doc = web::Data::new(Documents::new(&openapi()));
    cfg.service(resource("/health", "GET").route(web::get().to(health)))
        .service(resource("/ready", "GET").route(web::get().to(ready)))
        .service(resource("/metrics", "GET").route(web::get().to(metrics)))
        .service(
            resource("/openapi.json", "GET")
                .app_data(doc)
                .route(web::get().to(openapi_json)),
        )
        .service(resource("/docs", "GET").route(web::get().to(docs_redirect)))
        // Registered before the UI's catch-all, so it wins.
        .service(
            resource("/docs/openapi.json", "GET")
                .app_data(web::Data::new(Documents::new(&public_openapi())))
                .route(web::get().to(openapi_json)),
        )
        // A relative document URL works at /docs/ and at /api/docs/, whether or not a proxy
        // strips the /api prefix.
        .service(SwaggerUi::new("/docs/{_:.*}").config(Config::new(["openapi.json"])));
}

/// Liveness: answers without touching any dependency.
#[utoipa::path(
    get, path = "/health", tag = "system",
    responses((status = 200, description = "The process is up", body = HealthResponse))
)]
pub(crate) async fn health() -> web::Json<HealthResponse> {
    web::Json(HealthResponse {
        status: "healthy",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: one cheap round trip to the database, the object store and the analysis, 2 s
/// each. The analysis being down only degrades: jobs wait in the queue.
#[utoipa::path(
    get, path = "/ready", tag = "system",
    responses(
        (status = 200, description = "`ok`, or `degraded` when only the analysis is down", body = ReadyResponse),
        (status = 503, description = "A dependency is down (`status`: `unavailable`)", body = ReadyResponse),
    )
)]
pub(crate) async fn ready(app: web::Data<App>) -> HttpResponse {
    let readiness = app.readiness().await;
    let status = match (readiness.serving(), readiness.ml.ok) {
        (false, _) => "unavailable",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let body = ReadyResponse {
        status,
        checks: ReadyChecks {
            database: readiness.database.into(),
            blobs: readiness.blobs.into(),
            ml: readiness.ml.into(),
        },
    };
    if readiness.serving() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Prometheus metrics: HTTP requests and latency by route template, jobs by status, queue
/// depth and age, dispatch attempts and outcomes, ML round-trip time, uploads, WebSockets.
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain"),
        (status = 503, description = "`unavailable`: the database did not answer", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn metrics(app: web::Data<App>) -> Result<HttpResponse, crate::error::ApiError> {
    let text = app.metrics_text().await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// The OpenAPI document of this API, in Russian or English.
#[utoipa::path(
    get, path = "/openapi.json", tag = "system",
    params(LangQuery),
    responses(
        (status = 200, description = "OpenAPI 3.1 document", content_type = "application/json"),
        (status = 422, description = "`validation_failed`: `lang` is neither `ru` nor `en`", body = crate::error::ErrorBody),
    )
)]
pub(crate) async fn openapi_json(
    docs: web::Data<Documents>,
    query: web::Query<LangQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, crate::error::ApiError> {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    let lang = Lang::choose(query.lang.as_deref(), accept)
        .ok_or_else(|| crate::error::ApiError::field("lang", "must be ru or en"))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CONTENT_LANGUAGE, lang.code()))
        .insert_header((header::VARY, "Accept-Language"))
        .body(docs.get(lang)))
}

/// `?lang=` of the OpenAPI document.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LangQuery {
    /// `ru` (the default) or `en`; without it, `Accept-Language` chooses.
    #[param(value_type = Option<LangDto>)]
    pub lang: Option<String>,
}

/// The languages of the document.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Lang)]
#[expect(
    dead_code,
    reason = "documents the query value; the handler reads text"
)]
pub(crate) enum LangDto {
    Ru,
    En,
}

/// A document serialised once per language.
pub(crate) struct Documents(Vec<(Lang, web::Bytes)>);

impl Documents {
    fn new(doc: &utoipa::openapi::OpenApi) -> Self {
        Self(
            Lang::ALL
                .into_iter()
                .map(|lang| {
                    let localized = localize(doc.clone(), lang);
                    let json = serde_json::to_vec(&localized).unwrap_or_default();
                    (lang, web::Bytes::from(json))
                })
                .collect(),
        )
    }

    fn get(&self, lang: Lang) -> web::Bytes {
        self.0
            .iter()
            .find(|(l, _)| *l == lang)
            .map(|(_, json)| json.clone())
            .unwrap_or_default()
    }
}

/// `/docs` → `/docs/` (relative, so `/api/docs` → `/api/docs/` behind any proxy).
async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "docs/"))
        .finish()
}
