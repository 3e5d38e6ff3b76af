//! The OpenAPI document: every documented handler, the error body, and the bearer scheme.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, FieldErrorBody};
use crate::openapi::json_bodies::JsonBodyRefusals;
use crate::routes::{auth, evaluations, files, internal, jobs, studies, system, users, ws};

/// The OpenAPI document, also served at `/openapi.json` (and `/api/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The document the docs page shows: without the `internal` routes, which only the analysis
/// service calls.
pub fn public_openapi() -> utoipa::openapi::OpenApi {
    let mut doc = openapi();
    doc.paths.paths.retain(|_, item| {
        let operations = [
            &item.get,
            &item.put,
            &item.post,
            &item.delete,
            &item.options,
            &item.head,
            &item.patch,
            &item.trace,
        ];
        !operations.into_iter().flatten().any(|op| {
            op.tags
                .as_ref()
                .is_some_and(|tags| tags.iter().any(|t| t == "internal"))
        })
    });
    if let Some(tags) = doc.tags.as_mut() {
        tags.retain(|tag| tag.name != "internal");
    }
    doc
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "triage",
        description = "AI triage of chest CT studies: upload a ZIP of DICOM series (or one DICOM file), \
            follow the job, read the report.\n\n\
            Every path below is also served under the `/api` prefix (`/api/jobs`, ...). \
            Errors answer `{\"detail\", \"message\", \"code\"}` (422 adds `fields`). \
            Send `Authorization: Bearer <access_token>` from `/auth/login`."
    ),
    servers(
        (url = "/", description = "This server"),
        (url = "/api", description = "The same routes under the `/api` prefix the frontend uses"),
    ),
    paths(
        auth::register,
        auth::login,
        auth::me,
        users::list_users,
        users::get_user_by_name,
        users::get_user,
        users::update_user,
        users::delete_user,
        jobs::upload::create_job,
        jobs::list_jobs,
        jobs::get_job,
        jobs::update_job,
        jobs::delete_job,
        jobs::cancel_job,
        jobs::retry_job,
        jobs::download::download_file,
        jobs::zip_contents,
        jobs::zip_info,
        jobs::results,
        jobs::download::download_report,
        jobs::artefacts::list_images,
        jobs::artefacts::image,
        jobs::artefacts::mask,
        jobs::artefacts::seg,
        studies::list_studies,
        studies::studies_report,
        studies::get_study,
        studies::review_study,
        studies::list_audit,
        files::upload_file,
        files::list_files,
        files::download_file,
        files::delete_file,
        files::file_url,
        files::download_signed,
        evaluations::create_evaluation,
        evaluations::list_evaluations,
        evaluations::get_evaluation,
        evaluations::roc_svg,
        evaluations::roc_png,
        evaluations::calibration_svg,
        evaluations::report_xlsx,
        evaluations::compare_evaluations,
        ws::watch_job,
        ws::watch_jobs,
        system::health,
        system::ready,
        system::metrics,
        system::openapi_json,
        internal::complete_job,
    ),
    components(schemas(ErrorBody, FieldErrorBody)),
    modifiers(&BearerScheme, &JsonBodyRefusals),
    tags(
        (name = "auth", description = "Accounts and tokens"),
        (name = "users", description = "User administration: admins see everyone, users themselves"),
        (name = "jobs", description = "Uploads, their analysis and its results"),
        (name = "studies", description = "The triage worklist across uploads, studies, reviews and the audit trail"),
        (name = "files", description = "A per-user object area: upload, list, download, delete, share by URL"),
        (name = "evaluations", description = "ROC AUC, sensitivity and specificity with 95 % confidence intervals against ground truth"),
        (name = "live", description = "Live job updates over WebSocket"),
        (name = "system", description = "Health, readiness and this document"),
        (name = "internal", description = "Called by the analysis service with its own token; not for clients"),
    )
)]
struct ApiDoc;

/// `bearer`: the JWT from `/auth/login`.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "ml_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

mod json_bodies;
pub(crate) mod lang;
#[cfg(test)]
mod tests;
