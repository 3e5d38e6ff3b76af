//! Jobs: listing, reading, editing, cancelling, retrying, deleting, and what they hold
//! (inventory, results). Upload and downloads stream and live in their own modules.

pub(crate) mod artefacts;
pub(crate) mod download;
pub(crate) mod upload;

use actix_web::{HttpResponse, web};
use triage_app::App;
use triage_domain::JobId;
use uuid::Uuid;

use super::resource;
use crate::dto::inventory::{EntryPageQuery, ZipContentsResponse, ZipInfoResponse};
use crate::dto::jobs::{JobListQuery, JobResponse, ResultsResponse, UpdateJobRequest};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Accessor, AuthUser};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/jobs", "GET, POST")
            .route(web::get().to(list_jobs))
            .route(web::post().to(upload::create_job)),
    )
    .service(
        resource("/jobs/{id}", "GET, PUT, DELETE")
            .route(web::get().to(get_job))
            .route(web::put().to(update_job))
            .route(web::delete().to(delete_job)),
    )
    .service(resource("/jobs/{id}/cancel", "POST").route(web::post().to(cancel_job)))
    .service(resource("/jobs/{id}/retry", "POST").route(web::post().to(retry_job)))
    .service(resource("/jobs/{id}/file", "GET").route(web::get().to(download::download_file)))
    .service(resource("/jobs/{id}/zip-contents", "GET").route(web::get().to(zip_contents)))
    .service(resource("/jobs/{id}/zip-info", "GET").route(web::get().to(zip_info)))
    .service(resource("/jobs/{id}/results", "GET").route(web::get().to(results)))
    .service(
        resource("/jobs/{id}/results.xlsx", "GET").route(web::get().to(download::download_report)),
    )
    .service(
        resource("/jobs/{id}/series/{series_uid}/images", "GET")
            .route(web::get().to(artefacts::list_images)),
    )
    .service(
        resource("/jobs/{id}/series/{series_uid}/images/{name}", "GET")
            .route(web::get().to(artefacts::image)),
    )
    .service(
        resource("/jobs/{id}/series/{series_uid}/mask.nii.gz", "GET")
            .route(web::get().to(artefacts::mask)),
    )
    .service(
        resource("/jobs/{id}/series/{series_uid}/seg.dcm", "GET")
            .route(web::get().to(artefacts::seg)),
    );
}

/// The caller's jobs (an administrator's `?all=true`: everyone's), newest first. Compat: a
/// plain JSON array. `results_payload` is `null` unless `?include=results`: a report may be
/// thousands of rows, and the frontend reads it from `/jobs/{id}/results`.
#[utoipa::path(
    get, path = "/jobs", tag = "jobs",
    params(JobListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Jobs, newest first", body = Vec<JobResponse>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: `all` by a non-administrator", body = ErrorBody),
        (status = 422, description = "`validation_failed`: bad `skip`, `limit`, `status`, `all` or `include`", body = ErrorBody),
    )
)]
pub(crate) async fn list_jobs(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<JobListQuery>,
) -> Result<web::Json<Vec<JobResponse>>, ApiError> {
    let q = query.check()?;
    let jobs = app
        .list_jobs(&user.0, q.all, q.status, q.skip, q.limit)
        .await?;
    let jobs = jobs.into_iter().map(|mut job| {
        if !q.include_results {
            job.results = None;
        }
        JobResponse::from(job)
    });
    Ok(web::Json(jobs.collect()))
}

/// One job.
#[utoipa::path(
    get, path = "/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Job JSON", body = JobResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also someone else's job, or a malformed id)", body = ErrorBody),
    )
)]
pub(crate) async fn get_job(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<JobResponse>, ApiError> {
    Ok(web::Json(
        app.job(&user.0, JobId(path.into_inner())).await?.into(),
    ))
}

/// Edit the title or description, or cancel (`"status": "cancelled"`).
#[utoipa::path(
    put, path = "/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    request_body = UpdateJobRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed job", body = JobResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: the job is already terminal", body = ErrorBody),
        (status = 422, description = "`validation_failed`", body = ErrorBody),
    )
)]
pub(crate) async fn update_job(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
    body: web::Json<UpdateJobRequest>,
) -> Result<web::Json<JobResponse>, ApiError> {
    let job = app
        .update_job(&user.0, JobId(path.into_inner()), body.into_inner().into())
        .await?;
    Ok(web::Json(job.into()))
}

/// Delete the job, its upload and its report (a running analysis is abandoned).
#[utoipa::path(
    delete, path = "/jobs/{id}", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn delete_job(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    app.delete_job(&user.0, JobId(path.into_inner())).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Cancel a queued or processing job.
#[utoipa::path(
    post, path = "/jobs/{id}/cancel", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The cancelled job", body = JobResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: already terminal", body = ErrorBody),
    )
)]
pub(crate) async fn cancel_job(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<JobResponse>, ApiError> {
    Ok(web::Json(
        app.cancel_job(&user.0, JobId(path.into_inner()))
            .await?
            .into(),
    ))
}

/// Queue a failed or cancelled job again (attempts reset).
#[utoipa::path(
    post, path = "/jobs/{id}/retry", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The queued job", body = JobResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`: not failed or cancelled", body = ErrorBody),
    )
)]
pub(crate) async fn retry_job(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<JobResponse>, ApiError> {
    Ok(web::Json(
        app.retry_job(&user.0, JobId(path.into_inner()))
            .await?
            .into(),
    ))
}

/// One page of the archive's entries, from the inventory stored at upload time.
#[utoipa::path(
    get, path = "/jobs/{id}/zip-contents", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id"), EntryPageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries", body = ZipContentsResponse),
        (status = 400, description = "`not_a_zip`: the upload is a single file", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: bad `offset` or `limit`", body = ErrorBody),
    )
)]
pub(crate) async fn zip_contents(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
    query: web::Query<EntryPageQuery>,
) -> Result<web::Json<ZipContentsResponse>, ApiError> {
    let (offset, limit) = query.check()?;
    let (job, inventory) = app
        .job_inventory(&user.0, JobId(path.into_inner()), true)
        .await?;
    Ok(web::Json(ZipContentsResponse::page(
        &job, inventory, offset, limit,
    )))
}

/// Archive-wide figures and the DICOM studies and series, from the stored inventory.
#[utoipa::path(
    get, path = "/jobs/{id}/zip-info", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "`zip_info` is null for a single DICOM file", body = ZipInfoResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn zip_info(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<ZipInfoResponse>, ApiError> {
    let (job, inventory) = app
        .job_inventory(&user.0, JobId(path.into_inner()), false)
        .await?;
    Ok(web::Json(ZipInfoResponse::new(&job, inventory)))
}

/// The parsed report of a succeeded job (parsed once, when the analysis completed).
#[utoipa::path(
    get, path = "/jobs/{id}/results", tag = "jobs",
    params(("id" = Uuid, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = ResultsResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`, or `results_not_ready` before the job succeeded", body = ErrorBody),
    )
)]
pub(crate) async fn results(
    who: Accessor,
    app: web::Data<App>,
    path: web::Path<Uuid>,
) -> Result<web::Json<ResultsResponse>, ApiError> {
    let id = JobId(path.into_inner());
    let results = app.job_results(&who.caller, id).await?;
    app.audit_access(&who.caller, "job.results", None, Some(id), &who.ctx)
        .await?;
    Ok(web::Json(results.into()))
}
