//! Studies: the triage worklist, one study, reviews; and the audit trail (administrators).

use actix_web::{HttpResponse, web};
use triage_app::App;

use super::resource;
use crate::dto::studies::{
    AuditEntryResponse, AuditListResponse, AuditQuery, ReviewRequest, StudyDetailResponse,
    StudyListQuery, StudyListResponse, StudyOwnerQuery, StudyResponse, audit_cursor,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Accessor, AuthUser};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/studies", "GET").route(web::get().to(list_studies)))
        .service(resource("/studies.xlsx", "GET").route(web::get().to(studies_report)))
        .service(resource("/studies/{study_uid}", "GET").route(web::get().to(get_study)))
        .service(
            resource("/studies/{study_uid}/review", "POST").route(web::post().to(review_study)),
        )
        .service(resource("/audit", "GET").route(web::get().to(list_audit)));
}

/// The triage worklist: the caller's studies (administrators: everyone's, or `?owner=`) in
/// priority order — unreviewed pathology by probability, unreviewed failed analyses,
/// unreviewed normals by probability, pending, then reviewed — one keyset page at a time.
#[utoipa::path(
    get, path = "/studies", tag = "studies",
    params(StudyListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of the worklist", body = StudyListResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a bad filter, `cursor` or `limit` (named in `fields`)", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn list_studies(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<StudyListQuery>,
) -> Result<web::Json<StudyListResponse>, ApiError> {
    let query = query.check()?;
    let page = app.list_studies(&user.0, query).await?;
    Ok(web::Json(StudyListResponse {
        items: page.items.into_iter().map(StudyResponse::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// The LCT report (report.md columns, one row per series) of the current analyses of every
/// study the same filters select (at most 10,000 studies; `cursor` and `limit` are ignored).
#[utoipa::path(
    get, path = "/studies.xlsx", tag = "studies",
    params(StudyListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The XLSX report", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a bad filter, or too many studies", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn studies_report(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<StudyListQuery>,
) -> Result<HttpResponse, ApiError> {
    let mut query = query.check()?;
    query.cursor = None;
    let bytes = app.studies_report(&user.0, query).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"studies.xlsx\"",
        ))
        .body(bytes))
}

/// One study: its current result, the series rows of that analysis, every analysis version
/// and every review. Recorded in the audit trail.
#[utoipa::path(
    get, path = "/studies/{study_uid}", tag = "studies",
    params(("study_uid" = String, Path, description = "StudyInstanceUID"), StudyOwnerQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The study", body = StudyDetailResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also someone else's study)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `owner` is not a user id", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn get_study(
    who: Accessor,
    app: web::Data<App>,
    path: web::Path<String>,
    query: web::Query<StudyOwnerQuery>,
) -> Result<web::Json<StudyDetailResponse>, ApiError> {
    let owner = query.check()?;
    let detail = app.study(&who.caller, &path, owner, &who.ctx).await?;
    Ok(web::Json(detail.into()))
}

/// Records the caller's review (owner or administrator). A later review replaces it as the
/// current one; every review is kept. Reviewed studies sink to the end of the worklist.
#[utoipa::path(
    post, path = "/studies/{study_uid}/review", tag = "studies",
    params(("study_uid" = String, Path, description = "StudyInstanceUID"), StudyOwnerQuery),
    request_body = ReviewRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The study with its new review", body = StudyResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found` (also someone else's study)", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `label` or `note`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn review_study(
    who: Accessor,
    app: web::Data<App>,
    path: web::Path<String>,
    query: web::Query<StudyOwnerQuery>,
    body: web::Json<ReviewRequest>,
) -> Result<web::Json<StudyResponse>, ApiError> {
    let owner = query.check()?;
    let form = body.into_inner().check()?;
    let study = app
        .review_study(&who.caller, &path, owner, form, &who.ctx)
        .await?;
    Ok(web::Json(study.into()))
}

/// The audit trail, newest first: every access by a person to a study or a job's results,
/// and every review. Administrators only.
#[utoipa::path(
    get, path = "/audit", tag = "studies",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "One page of entries", body = AuditListResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an administrator", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a bad filter, `cursor` or `limit`", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn list_audit(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<AuditQuery>,
) -> Result<web::Json<AuditListResponse>, ApiError> {
    let filter = query.check()?;
    let limit = filter.limit as usize;
    let entries = app.audit_entries(&user.0, filter).await?;
    let items: Vec<AuditEntryResponse> = entries.into_iter().map(Into::into).collect();
    let next_cursor = (items.len() == limit)
        .then(|| items.last().map(audit_cursor))
        .flatten();
    Ok(web::Json(AuditListResponse { items, next_cursor }))
}
