//! Hostile and broken uploads: each gets its documented status and code, and nothing is left
//! behind in the data directory (no row, no object, no temp file).

use futures_util::stream;
use reqwest::multipart::{Form, Part};
use triage_testkit::zips::{
    RawEntry, encrypted_zip, raw_zip, tiny_dicom, zeros_bomb, zip_with_name,
};
use triage_testkit::{Actor, TestApp, fixture, ok_json};

use crate::jobs_flow::assert_error;

async fn assert_refused(
    app: &TestApp,
    actor: &Actor,
    name: &str,
    bytes: Vec<u8>,
    status: u16,
    code: &str,
) -> serde_json::Value {
    let body = assert_error(app.upload(actor, name, bytes).await, status, code).await;
    assert_nothing_stored(app, actor).await;
    body
}

async fn assert_nothing_stored(app: &TestApp, actor: &Actor) {
    assert_eq!(
        app.stored_files().await,
        Vec::<String>::new(),
        "files left behind"
    );
    let jobs = ok_json(app.get("/jobs", actor).await, 200).await;
    assert_eq!(jobs, serde_json::json!([]));
}

#[tokio::test]
async fn archives_without_dicom_are_refused() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let bytes = std::fs::read(fixture("not-dicom.zip")).unwrap();
    assert_refused(&app, &alice, "not-dicom.zip", bytes, 422, "no_dicom").await;
}

#[tokio::test]
async fn broken_archives_are_refused_with_the_reason() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let whole = std::fs::read(fixture("ct-normal.zip")).unwrap();
    let truncated = whole[..whole.len() / 2].to_vec();
    assert_refused(
        &app,
        &alice,
        "truncated.zip",
        truncated,
        422,
        "invalid_archive",
    )
    .await;
    let body = assert_refused(
        &app,
        &alice,
        "encrypted.zip",
        encrypted_zip(),
        422,
        "invalid_archive",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("encrypt"),
        "{body}"
    );
    for name in ["../x", "a/../../x", "/etc/x", "C:\\x", "C:/x"] {
        let body = assert_refused(
            &app,
            &alice,
            "names.zip",
            zip_with_name(name),
            422,
            "invalid_archive",
        )
        .await;
        assert!(
            body["message"].as_str().unwrap().contains("name"),
            "{name}: {body}"
        );
    }
    // A name that merely contains two dots is fine.
    let fine = raw_zip(&[RawEntry::new("a..b.dcm", tiny_dicom())]);
    ok_json(app.upload(&alice, "dots.zip", fine).await, 201).await;
}

#[tokio::test]
async fn a_zip_bomb_is_refused() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let bomb = zeros_bomb(1 << 30);
    assert!(
        bomb.len() < 8 << 20,
        "the bomb should be small: {}",
        bomb.len()
    );
    let body = assert_refused(&app, &alice, "bomb.zip", bomb, 422, "invalid_archive").await;
    assert!(
        body["message"].as_str().unwrap().contains("ratio"),
        "{body}"
    );
}

#[tokio::test]
async fn other_files_are_unsupported_unless_configured() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    assert_refused(
        &app,
        &alice,
        "notes.txt",
        b"hello, not a study".to_vec(),
        415,
        "unsupported_file",
    )
    .await;
    assert_refused(
        &app,
        &alice,
        "empty.zip",
        Vec::new(),
        422,
        "validation_failed",
    )
    .await;

    let Some(open) =
        crate::spawn_with(|c| c.uploads.accept = triage_server::config::Accept::Any).await
    else {
        return;
    };
    let bob = open.new_user().await;
    let job = ok_json(open.upload(&bob, "notes.txt", b"hello".to_vec()).await, 201).await;
    assert_eq!(job["file_type"], "other");
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_while_streaming() {
    let Some(app) = crate::spawn_with(|c| c.uploads.max_size = 1 << 20).await else {
        return;
    };
    let alice = app.new_user().await;
    // Declared too large: refused before reading.
    let declared = app.upload(&alice, "big.zip", vec![7u8; 3 << 20]).await;
    assert_error(declared, 413, "payload_too_large").await;
    // Within the declared slack but over the limit: refused while streaming.
    let streamed = app
        .upload(&alice, "big.zip", vec![7u8; (1 << 20) + (512 << 10)])
        .await;
    assert_error(streamed, 413, "payload_too_large").await;
    // No length at all (chunked): refused while streaming, without reading everything.
    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![7u8; 64 << 10]));
    let part = Part::stream(reqwest::Body::wrap_stream(stream::iter(chunks))).file_name("big.zip");
    let response = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(&alice.token)
        .multipart(Form::new().part("file", part))
        .send()
        .await;
    if let Ok(response) = response {
        assert_error(response, 413, "payload_too_large").await;
    }
    assert_nothing_stored(&app, &alice).await;
}

#[tokio::test]
async fn broken_multipart_requests_are_client_errors() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let no_file = Form::new().text("title", "where is the file");
    assert_error(
        app.post_form("/jobs", &alice, no_file).await,
        422,
        "validation_failed",
    )
    .await;
    let garbage = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(&alice.token)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("this is not multipart at all")
        .send()
        .await
        .unwrap();
    assert_error(garbage, 400, "invalid_multipart").await;
    let json = app
        .client
        .post(app.url("/jobs"))
        .bearer_auth(&alice.token)
        .json(&serde_json::json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert!(json.status().is_client_error());
    let bad_threshold = Form::new().text("threshold", "1.5").part(
        "file",
        Part::bytes(std::fs::read(fixture("ct-normal.zip")).unwrap()).file_name("x.zip"),
    );
    let body = assert_error(
        app.post_form("/jobs", &alice, bad_threshold).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["fields"][0]["field"], "threshold");
    assert_nothing_stored(&app, &alice).await;
}
