//! Evaluations against ground truth: create one from a labels file over a selection of the
//! caller's jobs, list and read them, their figures (ROC as SVG and PNG, calibration, XLSX),
//! and the paired DeLong comparison of two.

use actix_multipart::Multipart;
use actix_web::http::header::{CONTENT_DISPOSITION, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use triage_app::{App, AppError, EvaluationForm, Figure, JobSelection, LabelSource};
use triage_domain::{EvaluationId, JobId};
use uuid::Uuid;

use super::jobs::upload::{
    TEXT_LIMIT, capped, declared_length, drain, idle_timeout, multipart_error, read_text,
};
use super::resource;
use crate::content_disposition::attachment;
use crate::dto::evaluations::{
    ComparisonResponse, EvaluationListQuery, EvaluationResponse, EvaluationSummary,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthUser;

/// The largest labels file. It is read into memory (labels are a UID and a word per study:
/// 32 MiB holds several hundred thousand), so it is bounded well below anything that hurts.
pub(crate) const MAX_LABELS_BYTES: u64 = 32 * 1024 * 1024;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/evaluations", "GET, POST")
            .route(web::get().to(list_evaluations))
            .route(web::post().to(create_evaluation)),
    )
    .service(resource("/evaluations/{id}", "GET").route(web::get().to(get_evaluation)))
    .service(resource("/evaluations/{id}/roc.svg", "GET").route(web::get().to(roc_svg)))
    .service(resource("/evaluations/{id}/roc.png", "GET").route(web::get().to(roc_png)))
    .service(
        resource("/evaluations/{id}/calibration.svg", "GET").route(web::get().to(calibration_svg)),
    )
    .service(resource("/evaluations/{id}/report.xlsx", "GET").route(web::get().to(report_xlsx)))
    .service(
        resource("/evaluations/{a}/compare/{b}", "GET").route(web::get().to(compare_evaluations)),
    );
}

/// Evaluate the caller's analysed studies against ground truth.
#[utoipa::path(
    post, path = "/evaluations", tag = "evaluations",
    request_body(content = crate::dto::evaluations::EvaluationForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The evaluation with every figure", body = EvaluationResponse),
        (status = 400, description = "`invalid_multipart`, `part_too_large`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: a job id that is not the caller's", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: labels file over 32 MiB", body = ErrorBody),
        (status = 422, description = "`validation_failed` (bad `job_ids`, `from`, `to`, `threshold`, `source`, no `labels`); \
            `reviews_not_available`; `labels_unreadable`; `evaluation_empty` (no labelled study scored); \
            `evaluation_one_class`; `evaluation_duplicate_study`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn create_evaluation(
    user: AuthUser,
    app: web::Data<App>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form = receive(&req, payload, idle_timeout(&app)).await?;
    let created = app.create_evaluation(&user.0, form).await?;
    Ok(HttpResponse::Created().json(EvaluationResponse::from(created)))
}

/// Reads the form's parts; the labels file is held in memory (bounded).
async fn receive(
    req: &HttpRequest,
    payload: web::Payload,
    idle: std::time::Duration,
) -> Result<EvaluationForm, ApiError> {
    let cap = MAX_LABELS_BYTES + TEXT_LIMIT as u64 * 8;
    if declared_length(req).is_some_and(|length| length > cap) {
        return Err(AppError::PayloadTooLarge {
            limit: MAX_LABELS_BYTES,
        }
        .into());
    }
    let mut multipart = Multipart::new(req.headers(), capped(payload, cap, idle));
    let mut labels: Option<Vec<u8>> = None;
    let mut source = None;
    let mut job_ids: Vec<JobId> = Vec::new();
    let mut from = None;
    let mut to = None;
    let mut threshold = None;
    let mut name = None;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|err| multipart_error(err, MAX_LABELS_BYTES))?;
        let part = field.name().unwrap_or_default().to_owned();
        match part.as_str() {
            "labels" => {
                let mut bytes = Vec::new();
                while let Some(chunk) = field.next().await {
                    let chunk = chunk.map_err(|err| multipart_error(err, MAX_LABELS_BYTES))?;
                    if bytes.len() as u64 + chunk.len() as u64 > MAX_LABELS_BYTES {
                        return Err(AppError::PayloadTooLarge {
                            limit: MAX_LABELS_BYTES,
                        }
                        .into());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                labels = Some(bytes);
            }
            "source" => source = Some(read_text(&mut field, "source", MAX_LABELS_BYTES).await?),
            "job_ids" => {
                let text = read_text(&mut field, "job_ids", MAX_LABELS_BYTES).await?;
                for id in text
                    .split([',', ' ', '\n', '\r', '\t'])
                    .filter(|s| !s.is_empty())
                {
                    let id = id.parse::<Uuid>().map_err(|_| {
                        ApiError::field("job_ids", format!("{id:?} is not a job id"))
                    })?;
                    job_ids.push(JobId(id));
                }
            }
            "from" => {
                from = Some(instant(
                    &read_text(&mut field, "from", MAX_LABELS_BYTES).await?,
                    "from",
                )?)
            }
            "to" => {
                to = Some(instant(
                    &read_text(&mut field, "to", MAX_LABELS_BYTES).await?,
                    "to",
                )?)
            }
            "threshold" => {
                let text = read_text(&mut field, "threshold", MAX_LABELS_BYTES).await?;
                let value = text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| ApiError::field("threshold", "must be a number"))?;
                threshold = Some(value);
            }
            "name" => name = Some(read_text(&mut field, "name", MAX_LABELS_BYTES).await?),
            _ => drain(&mut field, MAX_LABELS_BYTES).await?,
        }
    }
    let labels = match source.as_deref().map(str::trim) {
        None | Some("" | "file") => {
            LabelSource::File(labels.ok_or_else(|| ApiError::field("labels", "is required"))?)
        }
        Some("reviews") => LabelSource::Reviews,
        Some(_) => return Err(ApiError::field("source", "must be file or reviews")),
    };
    let selection = if job_ids.is_empty() {
        JobSelection::Created { from, to }
    } else if from.is_some() || to.is_some() {
        return Err(ApiError::field(
            "job_ids",
            "give either job_ids or a date range (from, to), not both",
        ));
    } else {
        JobSelection::Ids(job_ids)
    };
    Ok(EvaluationForm {
        name,
        labels,
        selection,
        threshold,
    })
}

fn instant(text: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::field(field, "must be an RFC 3339 instant"))
}

/// The caller's evaluations, newest first (headline figures only).
#[utoipa::path(
    get, path = "/evaluations", tag = "evaluations",
    params(EvaluationListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Evaluations, newest first", body = Vec<EvaluationSummary>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: bad `skip` or `limit`", body = ErrorBody),
    )
)]
pub(crate) async fn list_evaluations(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<EvaluationListQuery>,
) -> Result<web::Json<Vec<EvaluationSummary>>, ApiError> {
    let (skip, limit) = query.check()?;
    let list = app.list_evaluations(&user.0, skip, limit).await?;
    Ok(web::Json(
        list.into_iter().map(EvaluationSummary::from).collect(),
    ))
}

/// One evaluation with every figure.
#[utoipa::path(
    get, path = "/evaluations/{id}", tag = "evaluations",
    params(("id" = Uuid, Path, description = "Evaluation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The evaluation", body = EvaluationResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also someone else's evaluation)", body = ErrorBody),
    )
)]
pub(crate) async fn get_evaluation(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<EvaluationResponse>, ApiError> {
    let found = app
        .evaluation(&user.0, EvaluationId(path.into_inner()))
        .await?;
    Ok(web::Json(found.into()))
}

async fn figure(
    user: AuthUser,
    app: web::Data<App>,
    id: Uuid,
    figure: Figure,
) -> Result<HttpResponse, ApiError> {
    let bytes = app
        .evaluation_figure(&user.0, EvaluationId(id), figure)
        .await?;
    let mut response = HttpResponse::Ok();
    response.content_type(figure.content_type());
    if figure == Figure::ReportXlsx
        && let Ok(value) = HeaderValue::from_str(&attachment(&format!("evaluation-{id}.xlsx")))
    {
        response.insert_header((CONTENT_DISPOSITION, value));
    }
    Ok(response.body(bytes))
}

/// The ROC curve with its 95 % band and the operating points, as SVG.
#[utoipa::path(
    get, path = "/evaluations/{id}/roc.svg", tag = "evaluations",
    params(("id" = Uuid, Path, description = "Evaluation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "SVG", content_type = "image/svg+xml", body = String),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn roc_svg(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    figure(user, app, path.into_inner(), Figure::RocSvg).await
}

/// The ROC curve as PNG.
#[utoipa::path(
    get, path = "/evaluations/{id}/roc.png", tag = "evaluations",
    params(("id" = Uuid, Path, description = "Evaluation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "PNG", content_type = "image/png", body = Vec<u8>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn roc_png(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    figure(user, app, path.into_inner(), Figure::RocPng).await
}

/// The calibration plot, as SVG.
#[utoipa::path(
    get, path = "/evaluations/{id}/calibration.svg", tag = "evaluations",
    params(("id" = Uuid, Path, description = "Evaluation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "SVG", content_type = "image/svg+xml", body = String),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn calibration_svg(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    figure(user, app, path.into_inner(), Figure::CalibrationSvg).await
}

/// Every figure as an XLSX workbook (summary, ROC points, calibration, studies).
#[utoipa::path(
    get, path = "/evaluations/{id}/report.xlsx", tag = "evaluations",
    params(("id" = Uuid, Path, description = "Evaluation id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "XLSX", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn report_xlsx(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    figure(user, app, path.into_inner(), Figure::ReportXlsx).await
}

/// The paired DeLong test of two evaluations on their common studies.
#[utoipa::path(
    get, path = "/evaluations/{a}/compare/{b}", tag = "evaluations",
    params(
        ("a" = Uuid, Path, description = "Evaluation id"),
        ("b" = Uuid, Path, description = "Evaluation id"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The comparison", body = ComparisonResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (either is someone else's)", body = ErrorBody),
        (status = 422, description = "`evaluations_not_paired` (a common study labelled differently), \
            `evaluation_empty`, `evaluation_one_class`", body = ErrorBody),
    )
)]
pub(crate) async fn compare_evaluations(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<web::Json<ComparisonResponse>, ApiError> {
    let (a, b) = path.into_inner();
    let c = app
        .compare_evaluations(&user.0, EvaluationId(a), EvaluationId(b))
        .await?;
    Ok(web::Json(ComparisonResponse::new(a, b, c)))
}
