//! The analysis service's completion callback (ml-protocol.md §2). It has its own token, not
//! a user's, and is left off the public docs page (the OpenAPI document lists it under the
//! `internal` tag).

use actix_web::http::header;
use actix_web::{HttpRequest, web};
use triage_app::{App, CallbackToken};
use triage_domain::JobId;
use uuid::Uuid;

use super::resource;
use crate::dto::internal::CompletionRequest;
use crate::dto::jobs::JobResponse;
use crate::error::{ApiError, ErrorBody};
use crate::rejection;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/internal/jobs/{id}/completion", "POST").route(web::post().to(complete_job)),
    );
}

/// The analysis reports how a job ended (or that it is in progress).
#[utoipa::path(
    post, path = "/internal/jobs/{id}/completion", tag = "internal",
    params(("id" = Uuid, Path, description = "Job id")),
    request_body = CompletionRequest,
    security(("ml_token" = [])),
    responses(
        (status = 200, description = "The job after the completion (a repeat changes nothing)", body = JobResponse),
        (status = 400, description = "`invalid_json`: malformed JSON (only with the right token)", body = ErrorBody),
        (status = 401, description = "`unauthenticated`: missing or wrong service token, whatever the body", body = ErrorBody),
        (status = 404, description = "`not_found`: unknown or deleted job", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.json_limit`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: not `application/json`", body = ErrorBody),
        (status = 409, description = "`completion_conflict`: cancelled, or another outcome after a terminal one", body = ErrorBody),
        (status = 422, description = "`validation_failed`: unknown `status`, or `output_object` outside the results prefix", body = ErrorBody),
        (status = 503, description = "`unavailable`: try again", body = ErrorBody),
    )
)]
pub(crate) async fn complete_job(
    req: HttpRequest,
    app: web::Data<App>,
    path: web::Path<Uuid>,
    payload: web::Payload,
) -> Result<web::Json<JobResponse>, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let token = CallbackToken(token);
    // The token is checked before the body is even read (so the body is taken raw, not as
    // `web::Json`): a stranger learns nothing from a 400, 413, 415 or 422.
    app.authorize_callback(token)?;
    let body: CompletionRequest = rejection::read_json(&req, payload).await?;
    let completion = body.try_into()?;
    let job = app
        .complete_job_callback(token, JobId(path.into_inner()), completion)
        .await?;
    Ok(web::Json(job.into()))
}
