//! `S3BlobStore`: the blob contract on a real S3 server (a fresh bucket per test, see
//! `triage_testkit::s3`), plus what only S3 can get wrong: multipart uploads left behind,
//! presigned URLs, an unreachable or silent server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use triage_blob_s3::{MIN_PART_SIZE, S3BlobStore, S3Options};
use triage_domain::ports::BlobStore;
use triage_domain::{BlobKey, DomainError};
use triage_testkit::contract::blobs::bodies::{
    Generated, MIB, body, generated, generated_sha256, read_all, sha256,
};
use triage_testkit::s3::{RecordingProxy, TestBucket};

async fn s3_store() -> Option<(Arc<dyn BlobStore>, TestBucket)> {
    let bucket = TestBucket::create().await?;
    let store = bucket.store().await;
    Some((Arc::new(store), bucket))
}

/// The whole blob contract but one case (below): s3s-fs, the server CI runs, keeps a
/// key's parent directories after DeleteObject, so a deleted object's name cannot hold an
/// object again ("x/y/z" deleted, then PUT "x/y" → 500 "Is a directory"). S3, MinIO and
/// Garage have no directories; run that case against them with `-- --ignored`.
mod contract {
    /// Stamps the cases, and lists them (plus the one left out) for the check below.
    macro_rules! cases {
        ($($case:ident),+ $(,)?) => {
            triage_testkit::blob_store_contract!(@cases super::s3_store(); $($case),+);
            pub const COVERED: &[&str] =
                &[$(stringify!($case)),+, "deleted_object_name_can_become_a_folder"];
        };
    }

    cases!(
        put_then_get_small,
        put_then_get_empty,
        put_then_get_large_streamed,
        put_replaces_existing,
        failed_put_leaves_nothing,
        failed_put_keeps_previous_object,
        missing_object_is_not_found,
        get_range_slices_large_object,
        get_range_refuses_bad_ranges,
        head_reports_size,
        delete_reports_whether_it_existed,
        list_by_prefix_in_key_order,
        non_ascii_keys,
        presign_get_bounds,
        ping_ok,
    );

    #[tokio::test]
    #[ignore = "needs a server without directories (S3, MinIO, Garage); s3s-fs keeps them"]
    async fn deleted_object_name_can_become_a_folder() {
        match super::s3_store().await {
            Some((store, _bucket)) => {
                triage_testkit::contract::blobs::deleted_object_name_can_become_a_folder(&*store)
                    .await;
            }
            None => {
                triage_testkit::contract::blobs::skip("deleted_object_name_can_become_a_folder")
            }
        }
    }
}

/// A case added to the contract must be added above too: the list in the contract macro's
/// source is the reference.
#[test]
fn every_contract_case_is_run_here() {
    let source = include_str!("../src/contract/blobs.rs");
    let start = source.find("@cases $factory;").expect("the contract macro") + 16;
    let end = start + source[start..].find(");").unwrap();
    let mut cases: Vec<&str> = source[start..end]
        .split(',')
        .map(str::trim)
        .filter(|case| !case.is_empty())
        .collect();
    let mut here = contract::COVERED.to_vec();
    cases.sort_unstable();
    here.sort_unstable();
    assert_eq!(here, cases);
}

/// Parts as small as S3 allows, so multipart tests stay quick.
const PART: u64 = MIN_PART_SIZE as u64;

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).unwrap()
}

fn small_parts(opts: S3Options) -> S3Options {
    S3Options {
        part_size: MIN_PART_SIZE,
        ..opts
    }
}

/// A store on `bucket` through a recording proxy, with 5 MiB parts.
async fn proxied(bucket: &TestBucket) -> (S3BlobStore, RecordingProxy) {
    let opts = bucket.options();
    let proxy = RecordingProxy::start(&opts.endpoint).await;
    let store = S3BlobStore::connect(S3Options {
        endpoint: proxy.endpoint.clone(),
        ..small_parts(opts)
    })
    .await
    .unwrap();
    (store, proxy)
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, DomainError>) -> bool {
    matches!(
        result,
        Err(DomainError::Unavailable {
            service: "blobs",
            ..
        })
    )
}

/// The server holds no multipart upload for `key`: by listing them where the server can
/// (S3, MinIO, Garage), and by asking about each upload the adapter started.
async fn assert_no_pending_upload(bucket: &TestBucket, proxy: &RecordingProxy, key: &BlobKey) {
    if let Some(pending) = bucket.pending_uploads().await {
        assert_eq!(pending, Vec::new(), "multipart uploads left behind");
    }
    let ids = proxy.upload_ids();
    assert!(!ids.is_empty(), "no multipart upload was started");
    for id in ids {
        assert!(proxy.aborted(&id), "upload {id} was not aborted");
        assert!(
            bucket.upload_is_gone(key.as_str(), &id).await,
            "upload {id} is still known to the server"
        );
    }
}

#[tokio::test]
async fn multipart_put_of_several_parts_round_trips() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let (store, proxy) = proxied(&bucket).await;
    let target = key("jobs/multi.zip");
    let len = 3 * PART + 12_345;
    assert_eq!(
        store
            .put(&target, Generated::new(len).reader(), "application/zip")
            .await
            .unwrap(),
        len
    );
    let parts = proxy
        .requests()
        .iter()
        .filter(|line| line.starts_with("PUT ") && line.contains("partNumber="))
        .count();
    assert_eq!(parts, 4, "{:#?}", proxy.requests());
    // Bounded memory: never more than two parts uploading at once.
    let most = proxy.max_open("partNumber=");
    assert!((1..=2).contains(&most), "{most} parts in flight at once");
    assert_eq!(store.head(&target).await.unwrap().unwrap().size, len);
    let got = store.get(&target).await.unwrap();
    assert_eq!(sha256(got.stream).await, (generated_sha256(0, len), len));
    let boundary = store
        .get_range(&target, 2 * PART - 10, 2 * PART + 9)
        .await
        .unwrap();
    assert_eq!(
        read_all(boundary.stream).await,
        generated(2 * PART - 10, 20)
    );
    // Exactly one part: a multipart upload of one full part, then an empty read.
    let exact = key("jobs/exact.bin");
    let put = store.put(&exact, Generated::new(PART).reader(), "").await;
    assert_eq!(put.unwrap(), PART);
    let got = store.get(&exact).await.unwrap();
    assert_eq!(sha256(got.stream).await, (generated_sha256(0, PART), PART));
}

#[tokio::test]
async fn a_put_failing_mid_way_leaves_no_object_and_no_pending_upload() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let (store, proxy) = proxied(&bucket).await;
    let target = key("jobs/broken.zip");
    let result = store
        .put(
            &target,
            Generated::failing_after(2 * PART + MIB).reader(),
            "",
        )
        .await;
    assert!(
        matches!(result, Err(DomainError::Internal(_))),
        "{result:?}"
    );
    assert_eq!(store.head(&target).await.unwrap(), None);
    assert!(store.list("").await.unwrap().is_empty());
    assert_no_pending_upload(&bucket, &proxy, &target).await;
}

#[tokio::test]
async fn a_put_dropped_mid_way_is_aborted() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let (store, proxy) = proxied(&bucket).await;
    let target = key("jobs/dropped.zip");
    let (reached, stalled) = oneshot::channel();
    let body = Generated::stalling_after(PART + MIB, reached).reader();
    let mut put = Box::pin(store.put(&target, body, ""));
    tokio::select! {
        result = &mut put => panic!("a stalled put finished: {result:?}"),
        _ = stalled => {}
    }
    drop(put);
    // The abort runs in a task of its own: wait for it, within reason. (The upload id may
    // first show in the abort: the part in flight may not have gone out yet.)
    let deadline = Instant::now() + Duration::from_secs(10);
    let settled = |ids: Vec<String>| !ids.is_empty() && ids.iter().all(|id| proxy.aborted(id));
    while !settled(proxy.upload_ids()) {
        assert!(Instant::now() < deadline, "{:#?}", proxy.requests());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.head(&target).await.unwrap(), None);
    assert_no_pending_upload(&bucket, &proxy, &target).await;
}

#[tokio::test]
async fn a_presigned_url_downloads_with_a_plain_get_and_a_tampered_one_is_refused() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let store = bucket.store().await;
    let target = key("results/исследование 1.xlsx");
    store
        .put(
            &target,
            body(&b"report bytes"[..]),
            "application/vnd.ms-excel",
        )
        .await
        .unwrap();
    let url = store
        .presign_get(&target, Duration::from_secs(60))
        .await
        .unwrap()
        .expect("S3 presigns");
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), &b"report bytes"[..]);

    let at = url.find("X-Amz-Signature=").expect("a SigV4 URL") + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    let response = client.get(&tampered).send().await.unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn presign_expiry_must_be_one_second_to_seven_days() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let store = bucket.store().await;
    let target = key("shared.xlsx");
    let week = 7 * 24 * 3600;
    for bad in [
        Duration::ZERO,
        Duration::from_millis(999),
        Duration::from_secs(week) + Duration::from_millis(1),
        Duration::from_secs(30 * 24 * 3600),
    ] {
        let result = store.presign_get(&target, bad).await;
        assert!(
            matches!(
                result,
                Err(DomainError::Invalid {
                    field: "expires_in",
                    ..
                })
            ),
            "{bad:?}: {result:?}"
        );
    }
    for (ok, secs) in [
        (Duration::from_secs(1), 1),
        (Duration::from_secs(week), week),
    ] {
        let url = store.presign_get(&target, ok).await.unwrap().unwrap();
        assert!(url.contains(&format!("X-Amz-Expires={secs}")), "{url}");
    }
}

#[tokio::test]
async fn wrong_credentials_are_refused_without_leaking_the_secret() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    let secret = "not-the-secret-1b2d9f";
    let store = S3BlobStore::connect(S3Options {
        secret_key: secret.to_owned(),
        ..bucket.options()
    })
    .await
    .unwrap();
    assert!(!format!("{store:?}").contains(secret));
    let target = key("forged");
    let ping = store.ping().await;
    assert!(is_unavailable(&ping), "{ping:?}");
    let put = store.put(&target, body(&b"x"[..]), "").await;
    assert!(is_unavailable(&put), "{put:?}");
    for err in [ping.unwrap_err(), put.unwrap_err()] {
        assert!(!err.to_string().contains(secret), "{err}");
    }
    assert_eq!(bucket.store().await.head(&target).await.unwrap(), None);
}

#[tokio::test]
async fn connect_creates_a_missing_bucket_and_accepts_an_existing_one() {
    let Some(bucket) = TestBucket::create().await else {
        return;
    };
    // The bucket exists (TestBucket made it): connecting with create_bucket is a no-op.
    let again = S3BlobStore::connect(S3Options {
        create_bucket: true,
        ..bucket.options()
    })
    .await
    .unwrap();
    again.ping().await.unwrap();
    // Without create_bucket, a missing bucket shows at the first request.
    let missing = S3BlobStore::connect(S3Options {
        bucket: format!("{}-missing", bucket.name()),
        ..bucket.options()
    })
    .await
    .unwrap();
    assert!(is_unavailable(&missing.ping().await));
}

/// Every call of `store` fails with `Unavailable` within `within`.
async fn assert_all_unavailable(store: &S3BlobStore, within: Duration) {
    let k = key("jobs/a.zip");
    let started = Instant::now();
    assert!(is_unavailable(&store.ping().await));
    assert!(is_unavailable(&store.head(&k).await));
    assert!(is_unavailable(&store.get(&k).await.map(|b| b.meta)));
    assert!(is_unavailable(
        &store.get_range(&k, 0, 1).await.map(|b| b.meta)
    ));
    assert!(is_unavailable(&store.delete(&k).await));
    assert!(is_unavailable(&store.list("").await));
    assert!(is_unavailable(&store.put(&k, body(&b"x"[..]), "").await));
    let big = store.put(&k, Generated::new(PART + 1).reader(), "").await;
    assert!(is_unavailable(&big), "{big:?}");
    // Nine calls (a put of one part is read before anything is sent).
    let elapsed = started.elapsed();
    assert!(elapsed < within, "took {elapsed:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_promptly() {
    let opts = S3Options {
        request_timeout: Duration::from_secs(3),
        ..small_parts(S3Options::new("127.0.0.1:1", "uploads", "ak", "sk"))
    };
    let store = S3BlobStore::connect(opts.clone()).await.unwrap();
    // rust-s3 retries a refused connection once, after a second: ~1 s per call at most.
    assert_all_unavailable(&store, Duration::from_secs(8 * 3)).await;
    let create = S3BlobStore::connect(S3Options {
        create_bucket: true,
        ..opts
    })
    .await;
    assert!(is_unavailable(&create), "{create:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = listener.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            open.push(conn);
        }
    });
    let store = S3BlobStore::connect(S3Options {
        request_timeout: Duration::from_millis(500),
        ..small_parts(S3Options::new(endpoint, "uploads", "ak", "sk"))
    })
    .await
    .unwrap();
    // Nine calls of 0.5 s each (a multipart put: its start), plus slack for a slow machine.
    assert_all_unavailable(&store, Duration::from_secs(9)).await;
    hold.abort();
}
