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

/// The document lists `status` for `method path`.
fn lists(spec: &serde_json::Value, method: &str, path: &str, status: u16) -> bool {
    spec["paths"][path][method]["responses"]
        .get(status.to_string())
        .is_some()
}

/// The schema of the query parameter `name` of `method path`.
fn query_param<'a>(
    spec: &'a serde_json::Value,
    method: &str,
    path: &str,
    name: &str,
) -> &'a serde_json::Value {
    let params = spec["paths"][path][method]["parameters"]
        .as_array()
        .unwrap();
    let param = params.iter().find(|p| p["name"] == name).unwrap();
    &param["schema"]
}

#[tokio::test]
async fn the_openapi_document_and_the_server_agree() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let spec = ok_json(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let job = ok_json(app.upload_fixture(&alice, "ct-normal.zip").await, 201).await;
    let job = job["id"].as_str().unwrap();

    // Every operation with a JSON body lists the refusals the JSON layer answers ...
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if operation["requestBody"]["content"]
                .get("application/json")
                .is_some()
            {
                for status in [400, 413, 415, 422] {
                    assert!(
                        lists(&spec, method, path, status),
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    // ... and the server really answers them.
    let json_routes = [
        ("post", "/auth/register", "/auth/register".to_owned()),
        ("post", "/auth/login", "/auth/login".to_owned()),
        ("put", "/jobs/{id}", format!("/jobs/{job}")),
        ("put", "/users/{user_id}", format!("/users/{}", alice.id)),
    ];
    let huge = format!("{{\"title\": \"{}\"}}", "x".repeat(100 * 1024));
    for (method, path, url) in json_routes {
        for (content_type, body, status) in [
            ("application/json", "{not json".to_owned(), 400),
            ("text/plain", "{}".to_owned(), 415),
            ("application/json", huge.clone(), 413),
            ("application/json", "[1, 2]".to_owned(), 422),
        ] {
            let request = match method {
                "post" => app.client.post(app.url(&url)),
                _ => app.client.put(app.url(&url)),
            };
            let answer = request
                .header("Authorization", alice.bearer())
                .header("Content-Type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), status, "{method} {path} {content_type}");
            assert!(
                lists(&spec, method, path, status),
                "{method} {path} {status}"
            );
        }
    }

    // `skip` has the maximum the document states.
    let admin = app.new_admin().await;
    for path in ["/jobs", "/users"] {
        let max = query_param(&spec, "get", path, "skip")["maximum"]
            .as_u64()
            .unwrap();
        let at = app.get(&format!("{path}?skip={max}"), &admin).await;
        assert_eq!(at.status(), 200, "{path}");
        let over = app.get(&format!("{path}?skip={}", max + 1), &admin).await;
        assert_eq!(ok_json(over, 422).await["fields"][0]["field"], "skip");
        assert!(lists(&spec, "get", path, 422), "{path}");
    }

    // `expires` of a file URL: 1–604800 seconds, as stated.
    let expires = query_param(&spec, "get", "/files/{filename}/url", "expires");
    assert_eq!(
        (expires["minimum"].as_u64(), expires["maximum"].as_u64()),
        (Some(1), Some(604_800))
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("a.txt"),
    );
    assert_eq!(app.post_form("/upload", &alice, form).await.status(), 201);
    for (expires, status) in [(0, 422), (1, 200), (604_800, 200), (604_801, 422)] {
        let answer = app
            .get(&format!("/files/a.txt/url?expires={expires}"), &alice)
            .await;
        assert_eq!(answer.status(), status, "expires={expires}");
    }

    // Passwords: the stated length limits are the enforced ones.
    let register = &spec["components"]["schemas"]["RegisterRequest"]["properties"];
    let (min, max) = (
        register["password"]["minLength"].as_u64().unwrap(),
        register["password"]["maxLength"].as_u64().unwrap(),
    );
    assert_eq!((min, max), (6, 128));
    for (length, status) in [(min - 1, 422), (min, 201), (max, 201), (max + 1, 422)] {
        let name = format!("pw_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
        let password = "p".repeat(usize::try_from(length).unwrap());
        let answer = app.register(&name, &password).await;
        assert_eq!(answer.status(), status, "password of {length}");
    }

    // The threshold of an upload: 0–1, as stated.
    let upload = &spec["components"]["schemas"]["JobUpload"]["properties"]["threshold"];
    assert_eq!(
        (upload["minimum"].as_f64(), upload["maximum"].as_f64()),
        (Some(0.0), Some(1.0))
    );

    // A signed download for a name that can be no file: the 422 the document lists.
    let signed = app
        .client
        .get(app.url(&format!(
            "/signed/files/{}/%20x%20?expires=1&signature=00",
            alice.id
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 422);
    assert!(lists(
        &spec,
        "get",
        "/signed/files/{user_id}/{filename}",
        422
    ));
}

#[tokio::test]
async fn the_api_document_speaks_russian_and_english() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let cyrillic = |text: &str| text.chars().any(|c| ('а'..='я').contains(&c));
    let fetch = |path: &'static str, accept: Option<&'static str>| {
        let mut request = app.client.get(app.url(path));
        if let Some(accept) = accept {
            request = request.header("Accept-Language", accept);
        }
        request.send()
    };
    for (path, accept, lang) in [
        ("/openapi.json", None, "ru"),
        ("/openapi.json?lang=ru", Some("en"), "ru"),
        ("/api/openapi.json?lang=en", None, "en"),
        ("/openapi.json", Some("en-US,en;q=0.9,ru;q=0.8"), "en"),
        ("/openapi.json", Some("de, ru;q=0.5"), "ru"),
        ("/docs/openapi.json", Some("en"), "en"),
        ("/docs/openapi.json", None, "ru"),
    ] {
        let answer = fetch(path, accept).await.unwrap();
        assert_eq!(
            answer.headers()["Content-Language"],
            lang,
            "{path} {accept:?}"
        );
        let doc = ok_json(answer, 200).await;
        let russian = lang == "ru";
        let description = doc["info"]["description"].as_str().unwrap();
        assert_eq!(cyrillic(description), russian, "{path}");
        assert!(
            description.contains("`validation_failed`"),
            "{path}: error codes"
        );
        for tag in doc["tags"].as_array().unwrap() {
            let text = tag["description"].as_str().unwrap();
            assert_eq!(cyrillic(text), russian, "{path}: tag {}", tag["name"]);
        }
        let mut operations = 0;
        for (route, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                for field in ["summary", "description"] {
                    let text = operation[field].as_str().unwrap_or_default();
                    assert!(!text.trim().is_empty(), "{path}: {method} {route} {field}");
                    assert_eq!(cyrillic(text), russian, "{path}: {method} {route} {field}");
                }
            }
        }
        assert!(operations > 30, "{path}: {operations}");
    }
    let unknown = fetch("/openapi.json?lang=de", None).await.unwrap();
    assert_eq!(ok_json(unknown, 422).await["fields"][0]["field"], "lang");
}
