//! The Files section: a per-user area, streamed both ways, with signed download URLs that
//! refuse alteration and expiry.

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use triage_testkit::{Actor, TestApp, ok_json};

async fn put_file(
    app: &TestApp,
    actor: &Actor,
    name: &str,
    bytes: &[u8],
    query: &str,
) -> reqwest::Response {
    let form = Form::new().part(
        "file",
        Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
    );
    app.post_form(&format!("/upload{query}"), actor, form).await
}

#[tokio::test]
async fn files_round_trip_and_stay_private() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();

    let stored = ok_json(
        put_file(&app, &alice, "scan notes.bin", &body, "").await,
        201,
    )
    .await;
    assert_eq!(stored["filename"], "scan notes.bin");
    assert_eq!(stored["bucket"], app.config.blobs.bucket.as_str());
    assert_eq!(stored["size"], body.len() as u64);

    let taken = put_file(&app, &alice, "scan notes.bin", b"x", "").await;
    assert_eq!(taken.status(), 409);
    assert_eq!(ok_json(taken, 409).await["code"], "file_exists");
    ok_json(
        put_file(&app, &alice, "scan notes.bin", &body, "?overwrite=true").await,
        201,
    )
    .await;

    let list = ok_json(app.get("/api/files", &alice).await, 200).await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["files"][0]["name"], "scan notes.bin");
    assert_eq!(list["files"][0]["size"], body.len() as u64);
    let theirs = ok_json(app.get("/files", &bob).await, 200).await;
    assert_eq!(theirs["count"], 0, "bob sees none of alice's files");
    assert_eq!(
        app.get("/download/scan%20notes.bin", &bob).await.status(),
        404
    );

    let whole = app.get("/download/scan%20notes.bin", &alice).await;
    assert_eq!(whole.status(), 200);
    let disposition = whole.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("filename*=UTF-8''scan%20notes.bin"),
        "{disposition}"
    );
    assert_eq!(whole.bytes().await.unwrap().as_ref(), &body[..]);
    let ranged = app
        .client
        .get(app.url("/download/scan%20notes.bin"))
        .header("Authorization", alice.bearer())
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &body[100..200]);

    let wrong_bucket = app.get("/files?bucket_name=other", &alice).await;
    assert_eq!(ok_json(wrong_bucket, 400).await["code"], "unknown_bucket");

    let deleted = app
        .client
        .delete(app.url("/files/scan%20notes.bin"))
        .header("Authorization", alice.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        app.get("/download/scan%20notes.bin", &alice).await.status(),
        404
    );
}

#[tokio::test]
async fn bad_file_names_are_refused_before_storing() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    for name in ["..", "a..b", ""] {
        let answer = put_file(&app, &alice, name, b"data", "").await;
        assert_eq!(answer.status(), 422, "{name:?}");
    }
    let list = ok_json(app.get("/files", &alice).await, 200).await;
    assert_eq!(list["count"], 0);
}

#[tokio::test]
async fn signed_urls_download_and_refuse_alteration_and_expiry() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    ok_json(
        put_file(&app, &alice, "report.xlsx", b"spreadsheet bytes", "").await,
        201,
    )
    .await;

    let answer: Value = ok_json(
        app.get("/api/files/report.xlsx/url?expires=60", &alice)
            .await,
        200,
    )
    .await;
    assert_eq!(answer["expires_in_seconds"], 60);
    let url = answer["url"].as_str().unwrap().to_owned();
    if app.config.blobs.uses_s3() {
        // Presigned by the S3 server: straight to the bucket.
        assert!(
            url.contains(&format!("/{}/files/", app.config.blobs.bucket)),
            "{url}"
        );
        assert!(url.contains("X-Amz-Signature="), "{url}");
    } else {
        assert!(url.starts_with(&app.base), "{url}");
        assert!(
            url.contains("/api/signed/files/"),
            "keeps the /api prefix: {url}"
        );
    }

    // No token needed.
    let plain = reqwest::Client::new();
    let fetched = plain.get(&url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.unwrap().as_ref(),
        b"spreadsheet bytes"
    );

    // One character of the signature changed.
    let last = url.chars().last().unwrap();
    let swapped = if last == '0' { '1' } else { '0' };
    let altered = format!("{}{swapped}", &url[..url.len() - 1]);
    assert_eq!(plain.get(&altered).send().await.unwrap().status(), 403);
    // Another expiry with the same signature.
    let stretched = if url.contains("X-Amz-Expires=") {
        url.replacen("X-Amz-Expires=", "X-Amz-Expires=9", 1)
    } else {
        url.replacen("expires=", "expires=9", 1)
    };
    assert_eq!(plain.get(&stretched).send().await.unwrap().status(), 403);

    for bad in ["0", "604801"] {
        let answer = app
            .get(&format!("/files/report.xlsx/url?expires={bad}"), &alice)
            .await;
        assert_eq!(answer.status(), 422, "expires={bad}");
    }
    assert_eq!(
        app.get("/files/missing.xlsx/url", &alice).await.status(),
        404
    );
}

#[tokio::test]
async fn an_expired_signed_url_is_refused() {
    let Some(app) = crate::spawn().await else {
        return;
    };
    let alice = app.new_user().await;
    ok_json(put_file(&app, &alice, "a.txt", b"a", "").await, 201).await;
    let answer: Value = ok_json(app.get("/files/a.txt/url?expires=1", &alice).await, 200).await;
    let url = answer["url"].as_str().unwrap().to_owned();
    // Expiry is to the second: wait until the clock has passed it, by polling.
    let plain = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = plain.get(&url).send().await.unwrap().status();
        if status == 403 {
            break;
        }
        assert_eq!(status, 200, "valid until it expires");
        assert!(std::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
