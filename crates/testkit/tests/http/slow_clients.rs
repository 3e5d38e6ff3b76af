//! Slow and greedy clients: an upload body that stops sending is cut off after
//! `uploads.idle_timeout_secs` (408, connection closed, spool removed), and one client address
//! may have only `uploads.max_concurrent_per_client` uploads in progress.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use triage_testkit::zips::tiny_dicom;
use triage_testkit::{Actor, TestApp, ok_json};

use crate::jobs_flow::assert_error;

/// The spool files of uploads in progress.
fn spool_files(app: &TestApp) -> Vec<PathBuf> {
    let dir = app.app().settings().uploads.tmp_dir.clone();
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("upload-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn wait_for_spools(app: &TestApp, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while spool_files(app).len() != count {
        assert!(
            Instant::now() < deadline,
            "expected {count} spool files, found {:?}",
            spool_files(app)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Opens `POST /jobs` on a raw connection and sends the headers and the start of the file
/// part, then nothing more: a client that stalls.
async fn stalled_upload(app: &TestApp, actor: &Actor) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let part = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\
                Content-Type: application/zip\r\n\r\n";
    let head = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: 10000000\r\n\r\n{part}",
        actor.bearer()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&[b'P'; 4096]).await.unwrap();
    conn
}

#[tokio::test]
async fn a_stalled_upload_is_cut_off_and_its_spool_removed() {
    let Some(app) = crate::spawn_with(|c| c.uploads.idle_timeout_secs = 1).await else {
        return;
    };
    let alice = app.new_user().await;
    let mut conn = stalled_upload(&app, &alice).await;
    wait_for_spools(&app, 1).await;

    // The server answers and closes the connection: reading ends.
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), conn.read_to_end(&mut answer))
        .await
        .expect("the server closed the connection")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    assert_eq!(spool_files(&app), Vec::<PathBuf>::new());
    let jobs = ok_json(app.get("/jobs", &alice).await, 200).await;
    assert_eq!(jobs, serde_json::json!([]));
}

#[tokio::test]
async fn a_client_may_have_only_so_many_uploads_at_once() {
    let Some(app) = crate::spawn_with(|c| c.uploads.max_concurrent_per_client = 2).await else {
        return;
    };
    let alice = app.new_user().await;
    let first = stalled_upload(&app, &alice).await;
    let _second = stalled_upload(&app, &alice).await;
    wait_for_spools(&app, 2).await;

    let refused = app.upload(&alice, "slice.dcm", tiny_dicom()).await;
    let body = assert_error(refused, 429, "too_many_uploads").await;
    assert!(
        body["message"].as_str().unwrap().contains("at most 2"),
        "{body}"
    );

    // A client that goes away gives its slot back.
    drop(first);
    wait_for_spools(&app, 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = app.upload(&alice, "slice.dcm", tiny_dicom()).await;
        if answer.status() == 201 || Instant::now() > deadline {
            ok_json(answer, 201).await;
            break;
        }
        tokio::task::yield_now().await;
    }
}
