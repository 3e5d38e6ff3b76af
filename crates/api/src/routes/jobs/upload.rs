//! POST /jobs: the multipart body is read part by part and the `file` part streamed chunk by
//! chunk into the use case's spool, so an upload is never held in memory. Anything refused
//! before the body is fully read is answered with `Connection: close`.

use std::time::Duration;

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, Charset};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use triage_app::{App, AppError, JobForm, UploadSpool};

use crate::client::client_ip;
use crate::dto::jobs::{JobResponse, UploadForm};
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthUser;

/// Room for the multipart framing and the text fields on top of `uploads.max_size`.
const ENVELOPE: u64 = 1024 * 1024;
/// The most a text field (or an ignored part) may hold.
pub(crate) const TEXT_LIMIT: usize = 64 * 1024;
/// The most parts a form may have.
const MAX_PARTS: usize = 20;

/// Upload a study and queue it for analysis.
#[utoipa::path(
    post, path = "/jobs", tag = "jobs",
    request_body(content = UploadForm, content_type = "multipart/form-data",
        description = "Compat: the frontend sends one part named `file`"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The queued job", body = JobResponse),
        (status = 400, description = "`invalid_multipart`, `multiple_files`, `too_many_parts`, `part_too_large`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 408, description = "`body_timeout`: no body data for `uploads.idle_timeout_secs`; the connection closes", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: over `uploads.max_size`", body = ErrorBody),
        (status = 415, description = "`unsupported_file`: neither a ZIP nor a DICOM file", body = ErrorBody),
        (status = 422, description = "`validation_failed` (no `file`, bad `threshold` or `profile`), `invalid_archive`, `no_dicom`", body = ErrorBody),
        (status = 429, description = "`too_many_uploads`: this client has `uploads.max_concurrent_per_client` uploads in progress", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn create_job(
    user: AuthUser,
    app: web::Data<App>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (spool, form) = receive(&app, &req, payload).await.map_err(Closing)?;
    let job = app
        .create_job(&user.0, spool, form)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(JobResponse::from(job)))
}

/// An error answered before the body was fully read: the connection closes after it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct Closing(pub(crate) ApiError);

impl ResponseError for Closing {
    fn status_code(&self) -> actix_web::http::StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.0.error_response();
        response
            .head_mut()
            .set_connection_type(ConnectionType::Close);
        response
    }
}

/// Reads the whole form: the file into a spool, the text fields into a [`JobForm`].
async fn receive(
    app: &App,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(UploadSpool, JobForm), ApiError> {
    let max_size = app.settings().uploads.max_size;
    let cap = max_size.saturating_add(ENVELOPE);
    if declared_length(req).is_some_and(|length| length > cap) {
        return Err(AppError::PayloadTooLarge { limit: max_size }.into());
    }
    let broken = |err| multipart_error(err, max_size);
    let mut multipart = Multipart::new(req.headers(), capped(payload, cap, idle_timeout(app)));
    let mut spool: Option<UploadSpool> = None;
    let mut form = JobForm::default();
    let mut parts = 0;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(broken)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::bad_request(
                "too_many_parts",
                format!("a form may have at most {MAX_PARTS} parts"),
            ));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let slot = match name.as_str() {
            "file" => {
                if spool.is_some() {
                    return Err(ApiError::bad_request(
                        "multiple_files",
                        "send exactly one part named `file`",
                    ));
                }
                form.file_name = file_name(&field);
                let client = client_ip(req, app.settings().web.trust_forwarded_for);
                let mut receiving = app.start_upload(client).await?;
                while let Some(chunk) = field.next().await {
                    receiving.write(&chunk.map_err(broken)?).await?;
                }
                spool = Some(receiving);
                continue;
            }
            "title" => &mut form.title,
            "description" => &mut form.description,
            "profile" => &mut form.profile,
            "threshold" => &mut form.threshold,
            "reanalyse" => &mut form.reanalyse,
            _ => {
                drain(&mut field, max_size).await?;
                continue;
            }
        };
        if slot.is_some() {
            return Err(ApiError::field(name, "is given more than once"));
        }
        *slot = Some(read_text(&mut field, &name, max_size).await?);
    }
    let spool = spool.ok_or_else(|| ApiError::field("file", "is required"))?;
    Ok((spool, form))
}

pub(crate) fn declared_length(req: &HttpRequest) -> Option<u64> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The body, failing with `Overflow` once more than `cap` bytes arrived (a chunked body has
/// no `Content-Length` to check up front), and with a `TimedOut` I/O error when no byte
/// arrived for `idle` (a client trickling its body must not hold a spool and a connection
/// forever). Nothing is read after an error.
pub(crate) fn capped(
    payload: web::Payload,
    cap: u64,
    idle: Duration,
) -> impl Stream<Item = Result<Bytes, PayloadError>> + 'static {
    futures_util::stream::unfold(Some((payload, 0u64)), move |state| async move {
        let (mut payload, seen) = state?;
        let item = match actix_web::rt::time::timeout(idle, payload.next()).await {
            Err(_) => Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "no body data within the idle timeout",
            ))),
            Ok(None) => return None,
            Ok(Some(Err(err))) => Err(err),
            Ok(Some(Ok(chunk))) => {
                let seen = seen.saturating_add(chunk.len() as u64);
                if seen > cap {
                    Err(PayloadError::Overflow)
                } else {
                    return Some((Ok(chunk), Some((payload, seen))));
                }
            }
        };
        Some((item, None))
    })
    // The multipart reader may poll again after the end.
    .fuse()
}

/// The idle timeout of upload bodies, for [`capped`].
pub(crate) fn idle_timeout(app: &App) -> Duration {
    app.settings().uploads.idle_timeout
}

pub(crate) fn multipart_error(err: MultipartError, max_size: u64) -> ApiError {
    match err {
        MultipartError::Payload(PayloadError::Overflow) => {
            AppError::PayloadTooLarge { limit: max_size }.into()
        }
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible
        | MultipartError::BoundaryMissing => ApiError::bad_request(
            "invalid_multipart",
            "expected a multipart/form-data body with a boundary",
        ),
        MultipartError::Payload(PayloadError::Io(err))
            if err.kind() == std::io::ErrorKind::TimedOut =>
        {
            ApiError::http(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body stalled: no data arrived within the idle timeout",
            )
        }
        MultipartError::Incomplete | MultipartError::Payload(_) => ApiError::bad_request(
            "invalid_multipart",
            "the multipart/form-data body is incomplete",
        ),
        _ => ApiError::bad_request("invalid_multipart", "malformed multipart/form-data body"),
    }
}

/// A text field, at most [`TEXT_LIMIT`] bytes of UTF-8.
pub(crate) async fn read_text(
    field: &mut Field,
    name: &str,
    max_size: u64,
) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|err| multipart_error(err, max_size))?;
        if text.len() + chunk.len() > TEXT_LIMIT {
            return Err(ApiError::field(
                name,
                format!("must be at most {TEXT_LIMIT} bytes"),
            ));
        }
        text.extend_from_slice(&chunk);
    }
    String::from_utf8(text).map_err(|_| ApiError::field(name, "must be UTF-8 text"))
}

/// Skips a part nobody asked for, if it is small.
pub(crate) async fn drain(field: &mut Field, max_size: u64) -> Result<(), ApiError> {
    let mut seen = 0;
    while let Some(chunk) = field.next().await {
        seen += chunk.map_err(|err| multipart_error(err, max_size))?.len();
        if seen > TEXT_LIMIT {
            return Err(ApiError::bad_request(
                "part_too_large",
                format!("unknown parts may hold at most {TEXT_LIMIT} bytes"),
            ));
        }
    }
    Ok(())
}

/// The client's file name: `filename*` (RFC 5987) if given, else `filename` (browsers send
/// raw UTF-8 there). The use case drops any path part.
pub(crate) fn file_name(field: &Field) -> String {
    let Some(disposition) = field.content_disposition() else {
        return String::new();
    };
    if let Some(ext) = disposition.get_filename_ext() {
        return match ext.charset {
            Charset::Iso_8859_1 => ext.value.iter().map(|&b| char::from(b)).collect(),
            _ => String::from_utf8_lossy(&ext.value).into_owned(),
        };
    }
    disposition.get_filename().unwrap_or_default().to_owned()
}
