//! What the HTTP layer answers before a handler runs: malformed JSON (400), JSON of the wrong
//! shape (422), bad queries (422), path ids that are not UUIDs (404), unknown routes (404)
//! and wrong methods (405) — all with the same error body as [`ApiError`].

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde_json::error::Category;

use crate::error::ApiError;

/// Every JSON body is small (users, logins, job edits): larger than `limit` bytes
/// (`server.json_limit`) answers 413 `payload_too_large`. Uploads are multipart, with their
/// own limit.
pub(crate) fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _| json_error(err, limit).into())
}

/// The JSON body limit, for handlers that must read their body themselves (after checking
/// something the body must not influence, like the callback's token).
#[derive(Debug, Clone, Copy)]
pub(crate) struct JsonLimit(pub usize);

/// Reads a JSON body from `payload` the way [`json_config`] would: 415 for another content
/// type, 413 beyond the limit, 400 for broken JSON, 422 for the wrong shape.
///
/// # Errors
/// Those [`ApiError`]s.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<T, ApiError> {
    use futures_util::StreamExt;

    let limit = req
        .app_data::<JsonLimit>()
        .map_or(triage_app::DEFAULT_JSON_LIMIT, |limit| limit.0);
    let is_json = req
        .mime_type()
        .ok()
        .flatten()
        .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    if !is_json {
        return Err(json_error(JsonPayloadError::ContentType, limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|err| json_error(JsonPayloadError::Payload(err), limit))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|err| serde_json_error(&err))
}

pub(crate) fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| query_error(&err).into())
}

pub(crate) fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, req| path_error(&err, req).into())
}

fn json_error(err: JsonPayloadError, limit: usize) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. }
        | JsonPayloadError::Overflow { .. }
        | JsonPayloadError::Payload(PayloadError::Overflow) => too_large(limit),
        JsonPayloadError::ContentType => ApiError::http(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected a JSON body (Content-Type: application/json)",
        ),
        JsonPayloadError::Deserialize(err) => serde_json_error(&err),
        JsonPayloadError::Payload(err) => {
            ApiError::bad_request("invalid_body", format!("the body could not be read: {err}"))
        }
        other => ApiError::bad_request("invalid_json", other.to_string()),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::http(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the JSON body is larger than the limit of {limit} bytes"),
    )
}

/// Syntax errors are the client's broken JSON (400); data errors are valid JSON of the wrong
/// shape (422), naming the field when serde does.
pub(crate) fn serde_json_error(err: &serde_json::Error) -> ApiError {
    let text = err.to_string();
    let text = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(message, _)| message);
    match err.classify() {
        Category::Data => shape_error(text),
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request("invalid_json", format!("malformed JSON: {text}"))
        }
    }
}

/// A 422 for a serde data error; `missing field `x`` and `unknown field `x`` name their field.
fn shape_error(text: &str) -> ApiError {
    let named = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
    };
    if let Some(field) = named("missing field `") {
        return ApiError::field(field, "is required");
    }
    if let Some(field) = named("unknown field `") {
        return ApiError::field(field, "is not allowed");
    }
    if let Some(field) = named("duplicate field `") {
        return ApiError::field(field, "is given more than once");
    }
    ApiError::field("body", text)
}

fn query_error(err: &QueryPayloadError) -> ApiError {
    match err {
        QueryPayloadError::Deserialize(err) => shape_error(&err.to_string()),
        other => ApiError::field("query", other.to_string()),
    }
}

/// Path parameters are UUIDs; anything else names nothing that exists (api.md: "A malformed
/// UUID → 404").
fn path_error(_: &PathError, req: &HttpRequest) -> ApiError {
    let pattern = req.match_pattern().unwrap_or_default();
    let what = if pattern.contains("/jobs/") {
        "job"
    } else if pattern.contains("/users/") {
        "user"
    } else {
        "resource"
    };
    triage_app::AppError::NotFound(what).into()
}

/// The JSON 404 for unknown routes.
pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::http(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route for {} {}", req.method(), req.path()),
    )
    .error_response()
}

/// The JSON 405 for a known path asked with a method it does not serve.
pub(crate) fn method_not_allowed(method: &Method, allow: &'static str) -> HttpResponse {
    let mut response = ApiError::http(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed here"),
    )
    .error_response();
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: serde::de::DeserializeOwned>(body: &str) -> ApiError {
        match serde_json::from_str::<T>(body) {
            Ok(_) => panic!("{body} parsed"),
            Err(err) => serde_json_error(&err),
        }
    }

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "only deserialised")]
    struct Login {
        username: String,
        password: String,
    }

    #[test]
    fn broken_json_is_a_400_and_wrong_shapes_are_422s_naming_the_field() {
        let syntax = parse::<Login>("{\"username\": ");
        assert_eq!(
            (syntax.status_code(), syntax.code()),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );

        let missing = parse::<Login>("{\"username\": \"alice\"}");
        assert_eq!(missing.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let fields = missing.body().fields.unwrap();
        assert_eq!(
            (fields[0].field.as_str(), fields[0].message.as_str()),
            ("password", "is required")
        );

        let wrong_type = parse::<Login>("{\"username\": 5, \"password\": \"x\"}");
        assert_eq!(
            (wrong_type.status_code(), wrong_type.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
        );
        assert!(
            !wrong_type.body().message.contains("line"),
            "{:?}",
            wrong_type.body()
        );
    }

    mod http {
        use actix_web::test::{TestRequest, call_service, init_service, read_body_json};
        use actix_web::{App, HttpResponse, web};
        use serde_json::Value;
        use uuid::Uuid;

        use super::super::*;
        use crate::dto::auth::LoginRequest;
        use crate::dto::jobs::JobListQuery;

        async fn login(body: web::Json<LoginRequest>) -> HttpResponse {
            HttpResponse::Ok().body(body.into_inner().username)
        }

        async fn job(id: web::Path<Uuid>) -> HttpResponse {
            HttpResponse::Ok().body(id.to_string())
        }

        async fn list(query: web::Query<JobListQuery>) -> Result<HttpResponse, ApiError> {
            query.check()?;
            Ok(HttpResponse::Ok().finish())
        }

        async fn send(req: TestRequest) -> (StatusCode, Value) {
            let app = init_service(
                App::new()
                    .app_data(json_config(triage_app::DEFAULT_JSON_LIMIT))
                    .app_data(query_config())
                    .app_data(path_config())
                    .route("/auth/login", web::post().to(login))
                    .route("/jobs/{id}", web::get().to(job))
                    .route("/jobs", web::get().to(list)),
            )
            .await;
            let res = call_service(&app, req.to_request()).await;
            let status = res.status();
            (status, read_body_json(res).await)
        }

        fn post_json(body: impl Into<String>) -> TestRequest {
            TestRequest::post()
                .uri("/auth/login")
                .insert_header(("content-type", "application/json"))
                .set_payload(body.into())
        }

        #[actix_web::test]
        async fn json_bodies() {
            let (status, body) = send(post_json("{\"username\": \"a\", ")).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some("invalid_json"))
            );

            let (status, body) = send(post_json(r#"{"username": "a"}"#)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
            );
            assert_eq!(body["fields"][0]["field"], "password");

            let (status, body) = send(post_json(r#"[1, 2]"#)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"))
            );

            let big = format!(
                r#"{{"username": "{}", "password": "x"}}"#,
                "a".repeat(triage_app::DEFAULT_JSON_LIMIT)
            );
            let (status, body) = send(post_json(big)).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
            );

            let form = TestRequest::post()
                .uri("/auth/login")
                .insert_header(("content-type", "text/plain"))
                .set_payload("x");
            let (status, body) = send(form).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Some("unsupported_media_type")
                )
            );
        }

        #[actix_web::test]
        async fn malformed_ids_are_404s() {
            let (status, body) = send(TestRequest::get().uri("/jobs/not-a-uuid")).await;
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::NOT_FOUND, Some("not_found"))
            );
            assert_eq!(body["detail"], "job not found");
        }

        #[actix_web::test]
        async fn bad_queries_are_422s_naming_the_parameter() {
            for (query, field) in [
                ("limit=-1", "limit"),
                ("limit=abc", "limit"),
                ("skip=-5", "skip"),
                ("status=done", "status"),
                ("limit=1&limit=2", "limit"),
            ] {
                let (status, body) = send(TestRequest::get().uri(&format!("/jobs?{query}"))).await;
                assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
                assert_eq!(body["fields"][0]["field"], field, "{query}: {body}");
            }
        }
    }
}
