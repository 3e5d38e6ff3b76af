//! A series' key images and mask files (written by the analysis next to its report): the list,
//! and each file streamed with `Cache-Control` and an `ETag` (`If-None-Match` → 304).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use triage_app::{App, ArtefactResponse, SeriesArtefact};
use triage_domain::JobId;
use utoipa::ToSchema;
use uuid::Uuid;

use super::download::stream;
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthUser;

/// The artefacts do not change once written (a retry writes new ones with a new `ETag`), but
/// they are the caller's data: private caches only, revalidated after an hour.
const CACHE_CONTROL: &str = "private, max-age=3600";

/// One file of a series.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ArtefactEntry {
    /// File name, e.g. `axial-0012.png` (the axial slice index in series order), `mask.nii.gz`.
    pub name: String,
    /// `axial`, `coronal`, `thumbnail`, `image`, `mask` (NIfTI labels) or `seg` (DICOM SEG).
    pub kind: String,
    /// Bytes.
    pub size: u64,
    /// Where to GET it (relative to this server).
    pub url: String,
}

/// `GET /jobs/{id}/series/{series_uid}/images`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SeriesImagesResponse {
    pub job_id: Uuid,
    pub series_uid: String,
    pub images: Vec<ArtefactEntry>,
}

fn entry(job: Uuid, series: &str, artefact: SeriesArtefact) -> ArtefactEntry {
    let base = format!("/jobs/{job}/series/{series}");
    let url = match artefact.kind {
        "mask" | "seg" => format!("{base}/{}", artefact.name),
        _ => format!("{base}/images/{}", artefact.name),
    };
    ArtefactEntry {
        name: artefact.name,
        kind: artefact.kind.to_owned(),
        size: artefact.size,
        url,
    }
}

/// Key images (axial slices with the largest abnormal area, a coronal reformat, a thumbnail)
/// and mask files of one analysed series.
#[utoipa::path(
    get, path = "/jobs/{id}/series/{series_uid}/images", tag = "jobs",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("series_uid" = String, Path, description = "SeriesInstanceUID, as in the report"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The series' files", body = SeriesImagesResponse),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such job of the caller, or no files for this series", body = ErrorBody),
    )
)]
pub(crate) async fn list_images(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<(Uuid, String)>,
) -> Result<web::Json<SeriesImagesResponse>, ApiError> {
    let (job, series) = path.into_inner();
    let artefacts = app.series_artefacts(&user.0, JobId(job), &series).await?;
    Ok(web::Json(SeriesImagesResponse {
        job_id: job,
        images: artefacts
            .into_iter()
            .map(|a| entry(job, &series, a))
            .collect(),
        series_uid: series,
    }))
}

/// One key image (PNG: lung window W1500/L−600, lung green, low attenuation blue, high
/// attenuation orange, legend strip below).
#[utoipa::path(
    get, path = "/jobs/{id}/series/{series_uid}/images/{name}", tag = "jobs",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("series_uid" = String, Path, description = "SeriesInstanceUID"),
        ("name" = String, Path, description = "A `.png` name from the list"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The image", content_type = "image/png", body = Vec<u8>),
        (status = 304, description = "Not modified since the given ETag"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn image(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<(Uuid, String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (job, series, name) = path.into_inner();
    if !name.ends_with(".png") {
        return Err(triage_app::AppError::NotFound("image").into());
    }
    serve(&app, &user, job, &series, &name, &req).await
}

/// The lung and finding masks as compressed NIfTI-1 (uint8 labels: 1 lung, 2 low attenuation,
/// 3 high attenuation; affine from the series geometry).
#[utoipa::path(
    get, path = "/jobs/{id}/series/{series_uid}/mask.nii.gz", tag = "jobs",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("series_uid" = String, Path, description = "SeriesInstanceUID"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The NIfTI file", content_type = "application/gzip", body = Vec<u8>),
        (status = 304, description = "Not modified since the given ETag"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn mask(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<(Uuid, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (job, series) = path.into_inner();
    serve(&app, &user, job, &series, "mask.nii.gz", &req).await
}

/// The masks as a DICOM Segmentation instance referencing the source series.
#[utoipa::path(
    get, path = "/jobs/{id}/series/{series_uid}/seg.dcm", tag = "jobs",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("series_uid" = String, Path, description = "SeriesInstanceUID"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The SEG instance", content_type = "application/dicom", body = Vec<u8>),
        (status = 304, description = "Not modified since the given ETag"),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
    )
)]
pub(crate) async fn seg(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<(Uuid, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (job, series) = path.into_inner();
    serve(&app, &user, job, &series, "seg.dcm", &req).await
}

async fn serve(
    app: &App,
    user: &AuthUser,
    job: Uuid,
    series: &str,
    name: &str,
    req: &HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let if_none_match = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let answer = app
        .download_artefact(&user.0, JobId(job), series, name, if_none_match)
        .await?;
    let (mut response, etag) = match answer {
        ArtefactResponse::NotModified { etag } => (HttpResponse::NotModified().finish(), etag),
        ArtefactResponse::Body { download, etag } => (stream(download), etag),
    };
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    Ok(response)
}
