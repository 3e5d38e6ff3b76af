//! Streaming a job's upload or report to the client, whole or as one `Range`, never buffered.

use std::time::SystemTime;

use actix_web::body::SizedStream;
use actix_web::http::header::{self, HeaderValue, HttpDate};
use actix_web::{HttpRequest, HttpResponse, web};
use triage_app::{App, Download, RangeRequest};
use triage_domain::JobId;
use uuid::Uuid;

use crate::content_disposition::attachment;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Accessor;

/// The original upload, as stored.
#[utoipa::path(
    get, path = "/jobs/{id}/file", tag = "jobs",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The whole upload", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorBody),
    )
)]
pub(crate) async fn download_file(
    who: Accessor,
    app: web::Data<App>,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = JobId(path.into_inner());
    let download = app.download_upload(&who.caller, id, range(&req)).await?;
    app.audit_access(&who.caller, "job.file", None, Some(id), &who.ctx)
        .await?;
    Ok(stream(download))
}

/// The analysis report as XLSX.
#[utoipa::path(
    get, path = "/jobs/{id}/results.xlsx", tag = "jobs",
    params(
        ("id" = Uuid, Path, description = "Job id"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report",
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 206, description = "The requested range",
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`, or `results_not_ready` before the report exists", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorBody),
    )
)]
pub(crate) async fn download_report(
    who: Accessor,
    app: web::Data<App>,
    path: web::Path<Uuid>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = JobId(path.into_inner());
    let download = app.download_report(&who.caller, id, range(&req)).await?;
    app.audit_access(&who.caller, "job.report", None, Some(id), &who.ctx)
        .await?;
    Ok(stream(download))
}

/// The request's `Range`, if it is one well-formed byte range (anything else: the whole
/// object, as RFC 9110 allows).
pub(crate) fn range(req: &HttpRequest) -> Option<RangeRequest> {
    req.headers()
        .get(header::RANGE)?
        .to_str()
        .ok()
        .and_then(RangeRequest::parse)
}

/// 200 or 206 with the body streamed as it is read from the store.
pub(crate) fn stream(download: Download) -> HttpResponse {
    let Download {
        file_name,
        content_type,
        total_size,
        range,
        last_modified,
        stream,
    } = download;
    let (mut response, length) = match range {
        Some((start, end)) => {
            let mut response = HttpResponse::PartialContent();
            response.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total_size}"),
            ));
            (response, end.saturating_sub(start).saturating_add(1))
        }
        None => (HttpResponse::Ok(), total_size),
    };
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        // Ranges index the stored bytes: keep compression middleware away from them.
        .insert_header((header::CONTENT_ENCODING, "identity"));
    if let Ok(value) = HeaderValue::from_str(&attachment(&file_name)) {
        response.insert_header((header::CONTENT_DISPOSITION, value));
    }
    if let Some(modified) = last_modified {
        response.insert_header((
            header::LAST_MODIFIED,
            HttpDate::from(SystemTime::from(modified)),
        ));
    }
    response.body(SizedStream::new(length, stream))
}
