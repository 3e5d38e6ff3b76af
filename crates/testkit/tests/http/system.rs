//! Health, readiness and the self-description of the API.

use triage_testkit::ok_json;

#[tokio::test]
async fn health_ready_and_docs_need_no_token() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    for prefix in ["", "/api"] {
        let health = ok_json(
            app.client
                .get(app.url(&format!("{prefix}/health")))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(health["status"], "healthy");
        let ready = ok_json(
            app.client
                .get(app.url(&format!("{prefix}/ready")))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert_eq!(ready["checks"]["database"]["ok"], true);
        assert_eq!(ready["checks"]["blobs"]["ok"], true);
    }
    let spec = ok_json(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    for path in [
        "/auth/login",
        "/jobs",
        "/jobs/{id}",
        "/jobs/{id}/file",
        "/users/{user_id}",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let docs = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text().await.unwrap().contains("swagger"),
        "Swagger UI page"
    );
}

#[tokio::test]
async fn unknown_routes_answer_json_404() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let response = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    let body = ok_json(response, 404).await;
    assert_eq!(body["code"], "not_found");
}
