//! The life of jobs over HTTP: upload each fixture, read it back every way the API offers,
//! edit, cancel, retry and delete it — at the root and under /api.

use serde_json::{Value, json};
use triage_testkit::{Actor, TestApp, fixture, ok_json};

const FIXTURES: [&str; 4] = [
    "ct-normal.zip",
    "ct-emphysema.zip",
    "ct-opacity.zip",
    "ct-two-studies-pacs.zip",
];

#[tokio::test]
async fn jobs_live_and_die_at_the_root() {
    job_life("").await;
}

#[tokio::test]
async fn jobs_live_and_die_under_api() {
    job_life("/api").await;
}

async fn job_life(prefix: &str) {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let mut ids = Vec::new();
    for name in FIXTURES {
        let job = ok_json(app.upload_fixture(&alice, name).await, 201).await;
        assert_eq!(job["status"], "queued");
        assert_eq!(job["file_name"], name);
        assert_eq!(job["title"], name);
        assert_eq!(job["file_type"], "zip");
        assert_eq!(job["owner_id"], alice.id.as_str());
        assert_eq!(
            job["file_size"].as_u64(),
            Some(std::fs::metadata(fixture(name)).unwrap().len())
        );
        assert_eq!(job["sha256"].as_str().map(str::len), Some(64));
        assert!(job["results_payload"].is_null());
        ids.push(job["id"].as_str().unwrap().to_owned());
    }

    // The list is a plain array, newest first.
    let list = ok_json(app.get(&format!("{prefix}/jobs"), &alice).await, 200).await;
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);

    let two = &ids[3];
    let job = ok_json(app.get(&format!("{prefix}/jobs/{two}"), &alice).await, 200).await;
    assert_eq!(job["id"], two.as_str());
    let keys: Vec<&String> = job.as_object().unwrap().keys().collect();
    assert_eq!(
        &keys[..11],
        [
            "id",
            "title",
            "description",
            "status",
            "file_name",
            "file_size",
            "owner_id",
            "created_at",
            "updated_at",
            "results_payload",
            "results_parsed_at"
        ]
    );

    let contents = ok_json(
        app.get(&format!("{prefix}/jobs/{two}/zip-contents"), &alice)
            .await,
        200,
    )
    .await;
    assert_eq!(contents["job_id"], two.as_str());
    assert_eq!(contents["total_files"], 64);
    assert_eq!(contents["files"].as_array().unwrap().len(), 64);
    assert!(
        contents["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["is_dicom"] == true)
    );
    let page = ok_json(
        app.get(
            &format!("{prefix}/jobs/{two}/zip-contents?offset=60&limit=10"),
            &alice,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["files"].as_array().unwrap().len(), 4);
    assert_eq!(page["total_files"], 64);

    let info = ok_json(
        app.get(&format!("{prefix}/jobs/{two}/zip-info"), &alice)
            .await,
        200,
    )
    .await;
    assert_eq!(info["zip_info"]["total_files"], 64);
    assert_eq!(info["dicom"]["files"], 64);
    let studies = info["dicom"]["studies"].as_array().unwrap();
    assert_eq!(studies.len(), 2, "{info}");
    for study in studies {
        let series = study["series"].as_array().unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0]["modality"], "CT");
        assert_eq!(series[0]["slices"], 32);
        assert!(study["study_uid"].as_str().unwrap().starts_with("1.2."));
    }

    // The upload comes back byte for byte, whole and in ranges.
    let normal = &ids[0];
    let original = std::fs::read(fixture("ct-normal.zip")).unwrap();
    let file = app
        .get(&format!("{prefix}/jobs/{normal}/file"), &alice)
        .await;
    assert_eq!(file.status(), 200);
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename=\"ct-normal.zip\""),
        "{disposition}"
    );
    assert!(
        disposition.contains("filename*=UTF-8''ct-normal.zip"),
        "{disposition}"
    );
    assert_eq!(file.bytes().await.unwrap().as_ref(), &original[..]);
    let ranged = app
        .client
        .get(app.url(&format!("{prefix}/jobs/{normal}/file")))
        .header("Authorization", alice.bearer())
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 100-199/{}", original.len()).as_str()
    );
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &original[100..200]);

    // Not processed yet: no results.
    let results = app
        .get(&format!("{prefix}/jobs/{normal}/results"), &alice)
        .await;
    assert_error(results, 404, "results_not_ready").await;
    let xlsx = app
        .get(&format!("{prefix}/jobs/{normal}/results.xlsx"), &alice)
        .await;
    assert_error(xlsx, 404, "results_not_ready").await;

    // Edit, cancel, retry.
    let edited = put(
        &app,
        &alice,
        &format!("{prefix}/jobs/{normal}"),
        json!({"title": "Исследование 1", "description": "left lung"}),
    )
    .await;
    let edited = ok_json(edited, 200).await;
    assert_eq!(edited["title"], "Исследование 1");
    assert_eq!(edited["description"], "left lung");
    let cancelled = ok_json(
        post(&app, &alice, &format!("{prefix}/jobs/{normal}/cancel")).await,
        200,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["completed_at"].is_string());
    assert!(
        cancelled["status_reason"]
            .as_str()
            .unwrap()
            .contains(&alice.username)
    );
    assert_error(
        post(&app, &alice, &format!("{prefix}/jobs/{normal}/cancel")).await,
        409,
        "invalid_transition",
    )
    .await;
    let retried = ok_json(
        post(&app, &alice, &format!("{prefix}/jobs/{normal}/retry")).await,
        200,
    )
    .await;
    assert_eq!(retried["status"], "queued");
    assert_eq!(retried["attempts"], 0);
    assert!(retried["completed_at"].is_null());
    assert_error(
        post(&app, &alice, &format!("{prefix}/jobs/{normal}/retry")).await,
        409,
        "invalid_transition",
    )
    .await;
    let via_put = ok_json(
        put(
            &app,
            &alice,
            &format!("{prefix}/jobs/{normal}"),
            json!({"status": "cancelled"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(via_put["status"], "cancelled");
    assert_error(
        put(
            &app,
            &alice,
            &format!("{prefix}/jobs/{normal}"),
            json!({"status": "succeeded"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    // Delete: the row and the stored upload are gone.
    let blobs_before = app.stored_files().await.len();
    let deleted = app
        .client
        .delete(app.url(&format!("{prefix}/jobs/{normal}")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_error(
        app.get(&format!("{prefix}/jobs/{normal}"), &alice).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(app.stored_files().await.len(), blobs_before - 1);
    assert!(
        !app.stored_files()
            .await
            .iter()
            .any(|p| p.contains(normal.as_str()))
    );
    let list = ok_json(app.get(&format!("{prefix}/jobs"), &alice).await, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_single_dicom_file_is_a_job_too() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let bob = app.new_user().await;
    let job = ok_json(
        app.upload(&bob, "slice.dcm", triage_testkit::zips::tiny_dicom())
            .await,
        201,
    )
    .await;
    assert_eq!(job["file_type"], "dicom");
    let id = job["id"].as_str().unwrap();
    assert_error(
        app.get(&format!("/jobs/{id}/zip-contents"), &bob).await,
        400,
        "not_a_zip",
    )
    .await;
    let info = ok_json(app.get(&format!("/jobs/{id}/zip-info"), &bob).await, 200).await;
    assert_eq!(info["dicom"]["files"], 1);
}

#[tokio::test]
async fn form_fields_set_title_profile_and_threshold() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let bob = app.new_user().await;
    let bytes = std::fs::read(fixture("ct-normal.zip")).unwrap();
    let form = reqwest::multipart::Form::new()
        .text("title", "Patient 7")
        .text("description", "follow-up")
        .text("profile", "production")
        .text("threshold", "0,4")
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name("исследование.zip"),
        );
    let job = ok_json(app.post_form("/jobs", &bob, form).await, 201).await;
    assert_eq!(job["title"], "Patient 7");
    assert_eq!(job["description"], "follow-up");
    assert_eq!(job["profile"], "production");
    assert_eq!(job["threshold"], 0.4);
    assert_eq!(job["file_name"], "исследование.zip");
    let file = app
        .get(&format!("/jobs/{}/file", job["id"].as_str().unwrap()), &bob)
        .await;
    let disposition = file.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''%D0%B8"),
        "{disposition}"
    );
}

pub async fn post(app: &TestApp, actor: &Actor, path: &str) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("Authorization", actor.bearer())
        .send()
        .await
        .unwrap()
}

pub async fn put(app: &TestApp, actor: &Actor, path: &str, body: Value) -> reqwest::Response {
    app.client
        .put(app.url(path))
        .header("Authorization", actor.bearer())
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Asserts status and `code`, and that the error body has the documented shape.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let body = ok_json(response, status).await;
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].is_string() && body["detail"] == body["message"],
        "{body}"
    );
    body
}
