//! Key images and mask files of an analysed series over HTTP: listed, served with
//! Cache-Control and ETag (304 on a match), only to the owner, and deleted with the job.

use serde_json::Value;
use triage_testkit::{Actor, TestApp, ok_json};

/// Uploads `name`, runs the in-process engine, returns (job id, first report row).
async fn analysed(app: &TestApp, alice: &Actor, name: &str) -> (String, Value) {
    let job = ok_json(app.upload_fixture(alice, name).await, 201).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(app.dispatch().await.completed, 1);
    let results = ok_json(app.get(&format!("/jobs/{id}/results"), alice).await, 200).await;
    (id, results["results"]["rows"][0].clone())
}

async fn get_with(
    app: &TestApp,
    path: &str,
    actor: &Actor,
    etag: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(path))
        .header("Authorization", actor.bearer());
    if let Some(etag) = etag {
        request = request.header("If-None-Match", etag);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_analysed_series_has_key_images_and_masks_for_its_owner_only() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let (id, row) = analysed(&app, &alice, "ct-opacity.zip").await;
    let series = row["series_uid"].as_str().unwrap().to_owned();
    // The localisation of the finding: six voxel indices (the parsed report keeps the column
    // among the extra ones).
    let box_text = row["extra"]["pathology_localization"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        box_text
            .split(',')
            .filter_map(|v| v.parse::<u32>().ok())
            .count(),
        6,
        "{row}"
    );

    let listed = ok_json(
        app.get(&format!("/jobs/{id}/series/{series}/images"), &alice)
            .await,
        200,
    )
    .await;
    let images = listed["images"].as_array().unwrap();
    let mut kinds: Vec<&str> = images.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "axial",
            "axial",
            "axial",
            "coronal",
            "mask",
            "seg",
            "thumbnail"
        ],
        "{listed}"
    );

    for image in images {
        let url = image["url"].as_str().unwrap();
        let response = app.get(url, &alice).await;
        assert_eq!(response.status(), 200, "{url}");
        let headers = response.headers().clone();
        let etag = headers["etag"].to_str().unwrap().to_owned();
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("private")
        );
        let body = response.bytes().await.unwrap();
        assert_eq!(body.len() as u64, image["size"].as_u64().unwrap(), "{url}");
        let magic_ok = match image["kind"].as_str().unwrap() {
            "mask" => body.starts_with(&[0x1f, 0x8b]),
            "seg" => &body[128..132] == b"DICM",
            _ => body.starts_with(b"\x89PNG\r\n\x1a\n"),
        };
        assert!(magic_ok, "{url}");
        let again = get_with(&app, url, &alice, Some(&etag)).await;
        assert_eq!(again.status(), 304, "{url}");
        assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    }

    // Another user, an unknown series, a name no analysis writes: the same 404.
    let bob = app.new_user().await;
    let thumbnail = format!("/jobs/{id}/series/{series}/images/thumbnail.png");
    for (path, actor) in [
        (format!("/jobs/{id}/series/{series}/images"), &bob),
        (thumbnail.clone(), &bob),
        (format!("/jobs/{id}/series/{series}/seg.dcm"), &bob),
        (format!("/jobs/{id}/series/1.2.3/images"), &alice),
        (
            format!("/jobs/{id}/series/{series}/images/report.xlsx"),
            &alice,
        ),
        (
            format!("/jobs/{id}/series/{series}/images/..%2Fseg.dcm"),
            &alice,
        ),
    ] {
        let response = app.get(&path, actor).await;
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{path}");
    }

    // Deleting the job deletes its artefacts.
    let deleted = app
        .client
        .delete(app.url(&format!("/jobs/{id}")))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let left: Vec<String> = app
        .stored_files()
        .await
        .into_iter()
        .filter(|f| f.contains(&id))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(app.get(&thumbnail, &alice).await.status(), 404);
}
