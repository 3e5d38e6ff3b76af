use serde_json::Value;

use super::{openapi, public_openapi};

fn document() -> Value {
    serde_json::to_value(openapi()).unwrap()
}

#[test]
fn every_implemented_route_of_api_md_is_documented() {
    let doc = document();
    let expected = [
        ("/auth/register", &["post"][..]),
        ("/auth/login", &["post"]),
        ("/auth/me", &["get"]),
        ("/users", &["get"]),
        ("/users/username/{username}", &["get"]),
        ("/users/{user_id}", &["get", "put", "delete"]),
        ("/jobs", &["get", "post"]),
        ("/jobs/{id}", &["get", "put", "delete"]),
        ("/jobs/{id}/cancel", &["post"]),
        ("/jobs/{id}/retry", &["post"]),
        ("/jobs/{id}/file", &["get"]),
        ("/jobs/{id}/zip-contents", &["get"]),
        ("/jobs/{id}/zip-info", &["get"]),
        ("/jobs/{id}/results", &["get"]),
        ("/jobs/{id}/results.xlsx", &["get"]),
        ("/jobs/{id}/series/{series_uid}/images", &["get"]),
        ("/jobs/{id}/series/{series_uid}/images/{name}", &["get"]),
        ("/jobs/{id}/series/{series_uid}/mask.nii.gz", &["get"]),
        ("/jobs/{id}/series/{series_uid}/seg.dcm", &["get"]),
        ("/health", &["get"]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/openapi.json", &["get"]),
        ("/internal/jobs/{id}/completion", &["post"]),
        ("/upload", &["post"]),
        ("/files", &["get"]),
        ("/download/{filename}", &["get"]),
        ("/files/{filename}", &["delete"]),
        ("/files/{filename}/url", &["get"]),
        ("/signed/files/{user_id}/{filename}", &["get"]),
        ("/ws/jobs/{id}", &["get"]),
        ("/ws/jobs", &["get"]),
        ("/evaluations", &["get", "post"]),
        ("/evaluations/{id}", &["get"]),
        ("/evaluations/{id}/roc.svg", &["get"]),
        ("/evaluations/{id}/roc.png", &["get"]),
        ("/evaluations/{id}/calibration.svg", &["get"]),
        ("/evaluations/{id}/report.xlsx", &["get"]),
        ("/evaluations/{a}/compare/{b}", &["get"]),
        ("/studies", &["get"]),
        ("/studies.xlsx", &["get"]),
        ("/studies/{study_uid}", &["get"]),
        ("/studies/{study_uid}/review", &["post"]),
        ("/audit", &["get"]),
    ];
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in expected {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for method in methods {
            assert!(
                item.get(*method).is_some(),
                "{method} {path} is not documented"
            );
        }
    }
    assert_eq!(
        paths.len(),
        expected.len(),
        "undocumented extras: {:?}",
        paths.keys().collect::<Vec<_>>()
    );
}

#[test]
fn protected_routes_require_the_bearer_scheme_and_public_ones_do_not() {
    let doc = document();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let public = [
        "/auth/register",
        "/auth/login",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
        "/signed/files/{user_id}/{filename}",
    ];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if path.starts_with("/internal/") {
                assert!(
                    operation["security"][0].get("ml_token").is_some(),
                    "{method} {path}"
                );
                continue;
            }
            let secured = operation.get("security").is_some();
            assert_eq!(secured, !public.contains(&path.as_str()), "{method} {path}");
        }
    }
}

#[test]
fn path_parameters_and_schemas_are_described() {
    let doc = document();
    let get_job = &doc["paths"]["/jobs/{id}"]["get"];
    let params = get_job["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .any(|p| p["name"] == "id" && p["in"] == "path"),
        "{params:?}"
    );
    let list = &doc["paths"]["/jobs"]["get"]["parameters"];
    for name in ["skip", "limit", "status", "all"] {
        assert!(
            list.as_array().unwrap().iter().any(|p| p["name"] == name),
            "{name} missing: {list}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Job",
        "User",
        "ErrorBody",
        "ZipContents",
        "ZipInfo",
        "JobResults",
        "Report",
        "JobUpload",
    ] {
        assert!(
            schemas.contains_key(name),
            "schema {name} missing: {:?}",
            schemas.keys().collect::<Vec<_>>()
        );
    }
    let job_keys: Vec<&str> = schemas["Job"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(job_keys.first(), Some(&"id"));
    assert_eq!(job_keys.last(), Some(&"sha256"));
    assert!(
        doc["info"]["description"]
            .as_str()
            .unwrap()
            .contains("/api")
    );
}

#[test]
fn the_docs_page_document_leaves_out_internal_routes() {
    let public = serde_json::to_value(public_openapi()).unwrap();
    let paths = public["paths"].as_object().unwrap();
    assert!(paths.get("/internal/jobs/{id}/completion").is_none());
    assert!(paths.get("/jobs").is_some());
    let full = document();
    assert_eq!(
        full["paths"]["/internal/jobs/{id}/completion"]["post"]["tags"][0],
        "internal"
    );
}

#[test]
fn every_operation_tag_and_error_code_has_both_languages() {
    use std::collections::BTreeSet;

    use super::lang::{Lang, operations_mut};

    let mut doc = openapi();
    let operations: BTreeSet<String> = operations_mut(&mut doc)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    let tags: BTreeSet<String> = doc.tags.iter().flatten().map(|t| t.name.clone()).collect();
    // Every code an error response names, as "`code`: ..." or "`code`, `other`: ...".
    let json = serde_json::to_value(&doc).unwrap();
    let mut codes = BTreeSet::new();
    for item in json["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let text = response["description"].as_str().unwrap_or_default();
                let head = text.split([':', '(']).next().unwrap_or_default();
                if !(status.starts_with('4') || status.starts_with('5')) || !head.starts_with('`') {
                    continue;
                }
                for part in head.split('`').skip(1).step_by(2) {
                    if part.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                        codes.insert(part.to_owned());
                    }
                }
            }
        }
    }
    assert!(codes.contains("validation_failed"), "{codes:?}");
    let cyrillic = |text: &str| {
        text.chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap()))
    };
    for lang in Lang::ALL {
        let texts = lang.texts();
        let documented: BTreeSet<String> = texts.operations.keys().cloned().collect();
        assert_eq!(documented, operations, "{lang:?}: operations");
        for (key, (summary, description)) in &texts.operations {
            assert!(
                !summary.trim().is_empty() && !description.trim().is_empty(),
                "{lang:?} {key}"
            );
            assert_eq!(
                cyrillic(summary),
                lang == Lang::Ru,
                "{lang:?} {key}: {summary}"
            );
            assert_eq!(cyrillic(description), lang == Lang::Ru, "{lang:?} {key}");
        }
        let documented: BTreeSet<String> = texts.tags.keys().cloned().collect();
        assert_eq!(documented, tags, "{lang:?}: tags");
        for code in &codes {
            assert!(
                texts.error_codes.contains_key(code),
                "{lang:?}: code {code}"
            );
        }
        for (code, meaning) in &texts.error_codes {
            assert_eq!(cyrillic(meaning), lang == Lang::Ru, "{lang:?} {code}");
        }
        assert_eq!(cyrillic(&texts.info), lang == Lang::Ru, "{lang:?}: info");
    }
    assert_eq!(
        Lang::Ru.texts().error_codes.keys().collect::<Vec<_>>(),
        Lang::En.texts().error_codes.keys().collect::<Vec<_>>()
    );
}
