//! Routing through the public `configure`, for everything that answers without the use cases:
//! health, docs, the JSON 404/405, and the 401 of every protected route.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::http::{Method, StatusCode, header};
use actix_web::test::{TestRequest, call_service, init_service, read_body, read_body_json};
use actix_web::{App, dev::Service, dev::ServiceResponse};
use serde_json::Value;

async fn call(method: Method, uri: &str, auth: Option<&str>) -> ServiceResponse {
    let app = init_service(App::new().configure(triage_api::configure)).await;
    let mut req = TestRequest::default().method(method).uri(uri);
    if let Some(auth) = auth {
        req = req.insert_header((header::AUTHORIZATION, auth));
    }
    call_service(&app, req.to_request()).await
}

async fn json(res: ServiceResponse) -> Value {
    read_body_json(res).await
}

#[actix_web::test]
async fn health_answers_at_the_root_and_under_api() {
    for uri in ["/health", "/api/health"] {
        let res = call(Method::GET, uri, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{uri}");
        let body = json(res).await;
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }
}

#[actix_web::test]
async fn openapi_and_swagger_ui_are_served_in_both_places() {
    for prefix in ["", "/api"] {
        let res = call(Method::GET, &format!("{prefix}/openapi.json"), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let doc = json(res).await;
        assert!(doc["paths"]["/jobs/{id}"].is_object(), "{prefix}");

        let res = call(Method::GET, &format!("{prefix}/docs"), None).await;
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(res.headers().get(header::LOCATION).unwrap(), "docs/");

        let res = call(Method::GET, &format!("{prefix}/docs/"), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert!(
            res.headers()
                .get(header::CONTENT_TYPE)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );

        let res = call(
            Method::GET,
            &format!("{prefix}/docs/swagger-initializer.js"),
            None,
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK);
        let script = String::from_utf8(read_body(res).await.to_vec()).unwrap();
        assert!(script.contains("\"openapi.json\""), "{script}");

        // The docs page shows the public document: no internal routes.
        let res = call(Method::GET, &format!("{prefix}/docs/openapi.json"), None).await;
        assert_eq!(res.status(), StatusCode::OK);
        let shown = json(res).await;
        assert!(shown["paths"]["/jobs/{id}"].is_object(), "{prefix}");
        assert!(
            shown["paths"]["/internal/jobs/{id}/completion"].is_null(),
            "{prefix}"
        );
    }
}

#[actix_web::test]
async fn unknown_routes_are_json_404s() {
    for uri in ["/nope", "/api/nope", "/jobs/x/y/z", "/api"] {
        let res = call(Method::GET, uri, None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
        let body = json(res).await;
        assert_eq!(body["code"], "not_found", "{uri}");
        assert_eq!(body["detail"], body["message"]);
    }
}

#[actix_web::test]
async fn wrong_methods_are_json_405s_with_allow() {
    let cases = [
        (Method::DELETE, "/health", "GET"),
        (
            Method::PATCH,
            "/api/jobs/6f1c0000-0000-4000-8000-000000000001",
            "GET, PUT, DELETE",
        ),
        (Method::GET, "/auth/login", "POST"),
        (Method::PUT, "/jobs", "GET, POST"),
    ];
    for (method, uri, allow) in cases {
        let res = call(method.clone(), uri, None).await;
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}"
        );
        assert_eq!(res.headers().get(header::ALLOW).unwrap(), allow);
        assert_eq!(json(res).await["code"], "method_not_allowed");
    }
}

#[actix_web::test]
async fn protected_routes_answer_401_without_a_bearer_token() {
    let id = "6f1c0000-0000-4000-8000-000000000001";
    let routes = [
        (Method::GET, "/auth/me".to_owned()),
        (Method::GET, "/users".to_owned()),
        (Method::GET, "/users/username/alice".to_owned()),
        (Method::GET, format!("/users/{id}")),
        (Method::PUT, format!("/users/{id}")),
        (Method::DELETE, format!("/users/{id}")),
        (Method::GET, "/jobs".to_owned()),
        (Method::POST, "/jobs".to_owned()),
        (Method::GET, format!("/jobs/{id}")),
        (Method::PUT, format!("/jobs/{id}")),
        (Method::DELETE, format!("/jobs/{id}")),
        (Method::POST, format!("/jobs/{id}/cancel")),
        (Method::POST, format!("/jobs/{id}/retry")),
        (Method::GET, format!("/jobs/{id}/file")),
        (Method::GET, format!("/jobs/{id}/zip-contents")),
        (Method::GET, format!("/jobs/{id}/zip-info")),
        (Method::GET, format!("/jobs/{id}/results")),
        (Method::GET, format!("/jobs/{id}/results.xlsx")),
    ];
    for (method, path) in routes {
        for prefix in ["", "/api"] {
            for auth in [None, Some("Basic YWxpY2U6c2VjcmV0"), Some("Bearer ")] {
                let uri = format!("{prefix}{path}");
                let res = call(method.clone(), &uri, auth).await;
                assert_eq!(
                    res.status(),
                    StatusCode::UNAUTHORIZED,
                    "{method} {uri} {auth:?}"
                );
                assert_eq!(
                    res.headers().get(header::WWW_AUTHENTICATE).unwrap(),
                    "Bearer"
                );
                assert_eq!(json(res).await["code"], "unauthenticated");
            }
        }
    }
}

#[actix_web::test]
async fn the_service_config_is_reusable() {
    // The server builds one App per worker: configure must be callable many times.
    for _ in 0..2 {
        let app = init_service(App::new().configure(triage_api::configure)).await;
        let res = app
            .call(TestRequest::get().uri("/health").to_request())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}
