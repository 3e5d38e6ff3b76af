//! Files: a per-user object area, streamed both ways, with shareable download URLs. The
//! signed-URL route takes no token: the URL's HMAC signature is the permission.

use actix_multipart::Multipart;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use triage_app::{App, AppError, FileUrl, UploadSpool};
use triage_domain::UserId;
use uuid::Uuid;

use super::jobs::download::{range, stream};
use super::jobs::upload::{
    Closing, capped, declared_length, drain, file_name, idle_timeout, multipart_error,
};
use super::resource;
use crate::client::client_ip;
use crate::dto::files::{
    BucketQuery, FileEntry, FileList, FileUploadForm, FileUrlResponse, ListQuery, Message,
    SignedQuery, UploadQuery, UploadedFile, UrlQuery,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::AuthUser;

/// Room for the multipart framing on top of `uploads.max_size`.
const ENVELOPE: u64 = 1024 * 1024;
const DEFAULT_URL_SECS: u64 = 3600;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/upload", "POST").route(web::post().to(upload_file)))
        .service(resource("/files", "GET").route(web::get().to(list_files)))
        .service(resource("/download/{filename}", "GET").route(web::get().to(download_file)))
        .service(resource("/files/{filename}", "DELETE").route(web::delete().to(delete_file)))
        .service(resource("/files/{filename}/url", "GET").route(web::get().to(file_url)))
        .service(
            resource("/signed/files/{user_id}/{filename}", "GET")
                .route(web::get().to(download_signed)),
        );
}

/// Store a file in the caller's area.
#[utoipa::path(
    post, path = "/upload", tag = "files",
    params(UploadQuery),
    request_body(content = FileUploadForm, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = UploadedFile),
        (status = 400, description = "`invalid_multipart`, `multiple_files`, `unknown_bucket`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 409, description = "`file_exists` (send `overwrite=true`)", body = ErrorBody),
        (status = 408, description = "`body_timeout`: no body data for `uploads.idle_timeout_secs`; the connection closes", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 429, description = "`too_many_uploads`: this client has `uploads.max_concurrent_per_client` uploads in progress", body = ErrorBody),
        (status = 422, description = "`validation_failed`: bad file name, no `file` part", body = ErrorBody),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn upload_file(
    user: AuthUser,
    app: web::Data<App>,
    req: HttpRequest,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let bucket = app
        .files_bucket(query.bucket_name.as_deref())
        .map_err(ApiError::from)?;
    let (name, spool) = receive(&app, &user, &req, payload, query.overwrite)
        .await
        .map_err(Closing)?;
    let stored = app
        .store_file(&user.0, &name, spool, query.overwrite)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(UploadedFile {
        message: format!("{} stored", stored.name),
        filename: stored.name,
        bucket,
        size: stored.size,
    }))
}

/// Reads the form: the one `file` part into a spool, after checking its name is free.
async fn receive(
    app: &App,
    user: &AuthUser,
    req: &HttpRequest,
    payload: web::Payload,
    overwrite: bool,
) -> Result<(String, UploadSpool), ApiError> {
    let max_size = app.settings().uploads.max_size;
    let cap = max_size.saturating_add(ENVELOPE);
    if declared_length(req).is_some_and(|length| length > cap) {
        return Err(AppError::PayloadTooLarge { limit: max_size }.into());
    }
    let mut multipart = Multipart::new(req.headers(), capped(payload, cap, idle_timeout(app)));
    let mut received = None;
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|err| multipart_error(err, max_size))?;
        if field.name() != Some("file") {
            drain(&mut field, max_size).await?;
            continue;
        }
        if received.is_some() {
            return Err(ApiError::bad_request(
                "multiple_files",
                "send exactly one part named `file`",
            ));
        }
        let sent = file_name(&field);
        let name = sent
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_owned();
        // Refused before a byte of the body is stored.
        app.check_file_slot(&user.0, &name, overwrite).await?;
        let client = client_ip(req, app.settings().web.trust_forwarded_for);
        let mut spool = app.start_upload(client).await?;
        while let Some(chunk) = field.next().await {
            spool
                .write(&chunk.map_err(|err| multipart_error(err, max_size))?)
                .await?;
        }
        received = Some((name, spool));
    }
    received.ok_or_else(|| ApiError::field("file", "is required"))
}

/// The caller's files.
#[utoipa::path(
    get, path = "/files", tag = "files",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's files, by name", body = FileList),
        (status = 400, description = "`unknown_bucket`", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
    )
)]
pub(crate) async fn list_files(
    user: AuthUser,
    app: web::Data<App>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<FileList>, ApiError> {
    let bucket = app.files_bucket(query.bucket_name.as_deref())?;
    let files: Vec<FileEntry> = app
        .list_files(&user.0, query.prefix.as_deref())
        .await?
        .into_iter()
        .map(FileEntry::from)
        .collect();
    Ok(web::Json(FileList {
        bucket,
        count: files.len(),
        files,
    }))
}

/// Download one of the caller's files (`Range` supported).
#[utoipa::path(
    get, path = "/download/{filename}", tag = "files",
    params(("filename" = String, Path), BucketQuery,
        ("Range" = Option<String>, Header, description = "One byte range")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The range", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "`unknown_bucket`: `bucket_name` is not the configured bucket", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 416, description = "`range_not_satisfiable`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a file name that can name no file", body = ErrorBody),
    )
)]
pub(crate) async fn download_file(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<String>,
    query: web::Query<BucketQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    app.files_bucket(query.bucket_name.as_deref())?;
    let download = app.download_file(&user.0, &path, range(&req)).await?;
    Ok(stream(download))
}

/// Delete one of the caller's files.
#[utoipa::path(
    delete, path = "/files/{filename}", tag = "files",
    params(("filename" = String, Path), BucketQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Message),
        (status = 400, description = "`unknown_bucket`: `bucket_name` is not the configured bucket", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a file name that can name no file", body = ErrorBody),
    )
)]
pub(crate) async fn delete_file(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<String>,
    query: web::Query<BucketQuery>,
) -> Result<web::Json<Message>, ApiError> {
    app.files_bucket(query.bucket_name.as_deref())?;
    app.delete_file(&user.0, &path).await?;
    Ok(web::Json(Message {
        message: format!("{} deleted", path.as_str()),
    }))
}

/// A URL that downloads the file without a token until it expires.
#[utoipa::path(
    get, path = "/files/{filename}/url", tag = "files",
    params(("filename" = String, Path), UrlQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The URL", body = FileUrlResponse),
        (status = 400, description = "`unknown_bucket`: `bucket_name` is not the configured bucket", body = ErrorBody),
        (status = 401, description = "`unauthenticated`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: `expires` outside 1–604800", body = ErrorBody),
    )
)]
pub(crate) async fn file_url(
    user: AuthUser,
    app: web::Data<App>,
    path: web::Path<String>,
    query: web::Query<UrlQuery>,
    req: HttpRequest,
) -> Result<web::Json<FileUrlResponse>, ApiError> {
    app.files_bucket(query.bucket_name.as_deref())?;
    let expires = query.expires.unwrap_or(DEFAULT_URL_SECS);
    let url = match app.file_url(&user.0, &path, expires).await? {
        FileUrl::Presigned(url) => url,
        FileUrl::Signed(path_and_query) => {
            let info = req.connection_info();
            // Behind a proxy that keeps the /api prefix, the URL must keep it too.
            let prefix = if req.path().starts_with("/api/") {
                "/api"
            } else {
                ""
            };
            format!(
                "{}://{}{prefix}{path_and_query}",
                info.scheme(),
                info.host()
            )
        }
    };
    Ok(web::Json(FileUrlResponse {
        filename: path.into_inner(),
        url,
        expires_in_seconds: expires,
    }))
}

/// A download through a signed URL from `/files/{filename}/url` (local-disk stores).
#[utoipa::path(
    get, path = "/signed/files/{user_id}/{filename}", tag = "files",
    params(("user_id" = Uuid, Path), ("filename" = String, Path),
        ("expires" = i64, Query, description = "Unix time the URL expires"),
        ("signature" = String, Query, description = "HMAC-SHA256, hex")),
    responses(
        (status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "`forbidden`: altered, expired or incomplete", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 422, description = "`validation_failed`: a file name that can name no file", body = ErrorBody),
    )
)]
pub(crate) async fn download_signed(
    app: web::Data<App>,
    path: web::Path<(Uuid, String)>,
    query: Result<web::Query<SignedQuery>, actix_web::Error>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = query.map_err(|_| AppError::Forbidden("the link is incomplete"))?;
    let (owner, name) = path.into_inner();
    let download = app
        .download_signed_file(
            UserId(owner),
            &name,
            query.expires,
            &query.signature,
            range(&req),
        )
        .await?;
    Ok(stream(download))
}
