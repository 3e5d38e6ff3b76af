use actix_web::http::{ConnectionType, StatusCode, header};
use actix_web::test as atest;
use actix_web::{App, HttpResponse, web};
use serde_json::Value;
use triage_app::{AppError, FieldError};
use triage_domain::JobStatus;

use super::ApiError;

/// Every variant, with the status and code it must answer.
fn cases() -> Vec<(AppError, u16, &'static str)> {
    vec![
        (
            AppError::Unauthenticated("token expired"),
            401,
            "unauthenticated",
        ),
        (AppError::InvalidCredentials, 401, "invalid_credentials"),
        (
            AppError::RateLimited {
                retry_after_secs: 120,
            },
            429,
            "rate_limited",
        ),
        (
            AppError::TooManyOpen {
                code: "too_many_uploads",
                message: "at most 2 uploads at once per client".into(),
            },
            429,
            "too_many_uploads",
        ),
        (
            AppError::Forbidden("only administrators may list users"),
            403,
            "forbidden",
        ),
        (AppError::NotFound("job"), 404, "not_found"),
        (AppError::ResultsNotReady, 404, "results_not_ready"),
        (
            AppError::Validation(vec![
                FieldError {
                    field: "username".into(),
                    message: "must be 3 to 50 characters long".into(),
                },
                FieldError {
                    field: "password".into(),
                    message: "must be 6 to 128 characters long".into(),
                },
            ]),
            422,
            "validation_failed",
        ),
        (AppError::UsernameTaken, 409, "username_taken"),
        (
            AppError::InvalidTransition {
                from: JobStatus::Succeeded,
                to: JobStatus::Cancelled,
            },
            409,
            "invalid_transition",
        ),
        (
            AppError::Conflict {
                code: "last_admin",
                message: "the last administrator cannot be removed".into(),
            },
            409,
            "last_admin",
        ),
        (
            AppError::PayloadTooLarge { limit: 1024 },
            413,
            "payload_too_large",
        ),
        (AppError::UnsupportedFile, 415, "unsupported_file"),
        (
            AppError::InvalidArchive("entry name contains '..'".into()),
            422,
            "invalid_archive",
        ),
        (AppError::NoDicom, 422, "no_dicom"),
        (AppError::NotAZip, 400, "not_a_zip"),
        (
            AppError::bad_request("invalid_multipart", "malformed multipart body"),
            400,
            "invalid_multipart",
        ),
        (
            AppError::RangeNotSatisfiable { size: 42 },
            416,
            "range_not_satisfiable",
        ),
        (
            AppError::Unavailable {
                service: "database",
                retry_after_secs: None,
            },
            503,
            "unavailable",
        ),
        (
            AppError::Unavailable {
                service: "blobs",
                retry_after_secs: Some(30),
            },
            503,
            "unavailable",
        ),
        (
            AppError::Internal("diesel: connection refused at 10.0.0.5".into()),
            500,
            "internal",
        ),
    ]
}

async fn fail(index: web::Path<usize>) -> Result<HttpResponse, ApiError> {
    let (err, _, _) = cases().swap_remove(index.into_inner());
    Err(err.into())
}

#[actix_web::test]
async fn every_app_error_has_its_status_code_and_body() {
    let app = atest::init_service(App::new().route("/fail/{index}", web::get().to(fail))).await;
    for (index, (err, status, code)) in cases().into_iter().enumerate() {
        let req = atest::TestRequest::get()
            .uri(&format!("/fail/{index}"))
            .to_request();
        let res = atest::call_service(&app, req).await;
        assert_eq!(res.status().as_u16(), status, "{err:?}");
        let headers = res.headers().clone();
        let closes = res.response().head().connection_type() == ConnectionType::Close;
        assert_eq!(
            headers.get(header::CONTENT_TYPE).unwrap(),
            "application/json",
            "{err:?}"
        );
        let body: Value = atest::read_body_json(res).await;
        assert_eq!(body["code"], code, "{err:?}");
        assert!(body["detail"].is_string(), "{err:?}: {body}");
        assert_eq!(body["detail"], body["message"], "{err:?}");
        assert_eq!(
            body.get("fields").is_some(),
            code == "validation_failed",
            "{err:?}: {body}"
        );

        let unauthorized = matches!(
            err,
            AppError::Unauthenticated(_) | AppError::InvalidCredentials
        );
        assert_eq!(
            headers.get(header::WWW_AUTHENTICATE).is_some(),
            unauthorized,
            "{err:?}"
        );
        match &err {
            AppError::RangeNotSatisfiable { .. } => {
                assert_eq!(headers.get(header::CONTENT_RANGE).unwrap(), "bytes */42");
            }
            AppError::Unavailable {
                retry_after_secs, ..
            } => {
                let expected = retry_after_secs.unwrap_or(5).to_string();
                assert_eq!(
                    headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap(),
                    expected
                );
            }
            AppError::RateLimited { .. } => {
                assert_eq!(headers.get(header::RETRY_AFTER).unwrap(), "120");
                assert!(body["detail"].as_str().unwrap().contains("120 seconds"));
            }
            AppError::Internal(_) => {
                assert_eq!(body["detail"], "internal server error");
                assert!(!body.to_string().contains("diesel"), "leaked: {body}");
            }
            AppError::NotFound(_) => assert_eq!(body["detail"], "job not found"),
            AppError::InvalidArchive(_) => {
                assert!(
                    body["detail"]
                        .as_str()
                        .unwrap()
                        .contains("entry name contains '..'")
                );
            }
            AppError::PayloadTooLarge { .. } => {
                assert!(closes, "a 413 must close the connection");
            }
            AppError::Validation(_) => {
                assert_eq!(
                    body["fields"],
                    serde_json::json!([
                        {"field": "username", "message": "must be 3 to 50 characters long"},
                        {"field": "password", "message": "must be 6 to 128 characters long"},
                    ])
                );
            }
            _ => {}
        }
    }
}

#[test]
fn invalid_credentials_say_the_same_whatever_went_wrong() {
    let body = ApiError::from(AppError::InvalidCredentials).body();
    assert_eq!(body.message, "invalid username or password");
}

#[test]
fn http_layer_errors_use_the_same_body() {
    let err = ApiError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "PATCH is not allowed here",
    );
    let body = serde_json::to_value(err.body()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "detail": "PATCH is not allowed here",
            "message": "PATCH is not allowed here",
            "code": "method_not_allowed",
        })
    );
}
