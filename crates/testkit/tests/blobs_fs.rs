//! `FsBlobStore`: the blob contract on a temp dir per test, plus what only a filesystem can
//! get wrong (temp files, symlinks).

// Helpers outside `#[test]` fns are not exempted by clippy.toml.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use tempfile::TempDir;
use tokio::sync::oneshot;
use triage_blob_fs::FsBlobStore;
use triage_domain::ports::BlobStore;
use triage_domain::{BlobKey, DomainError};
use triage_testkit::contract::blobs::bodies::{Generated, MIB, body};

async fn fs_store() -> Option<(Arc<dyn BlobStore>, TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    Some((Arc::new(store), dir))
}

mod contract {
    triage_testkit::blob_store_contract!(super::fs_store());
}

async fn open() -> (TempDir, FsBlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    (dir, store)
}

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).unwrap()
}

fn temp_files(store: &FsBlobStore) -> Vec<String> {
    let entries = std::fs::read_dir(store.root().join(".tmp")).unwrap();
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_failed_put_leaves_no_temp_file() {
    let (_dir, store) = open().await;
    let result = store
        .put(
            &key("jobs/a.zip"),
            Generated::failing_after(3 * MIB).reader(),
            "",
        )
        .await;
    assert!(
        matches!(result, Err(DomainError::Internal(_))),
        "{result:?}"
    );
    assert_eq!(temp_files(&store), Vec::<String>::new());
    assert!(!store.root().join("jobs").exists());
}

#[tokio::test]
async fn a_put_dropped_mid_way_leaves_no_temp_file() {
    let (_dir, store) = open().await;
    let (reached, stalled) = oneshot::channel();
    let body = Generated::stalling_after(3 * MIB, reached).reader();
    let target = key("jobs/b.zip");
    let mut put = Box::pin(store.put(&target, body, ""));
    tokio::select! {
        result = &mut put => panic!("a stalled put finished: {result:?}"),
        _ = stalled => {}
    }
    // The upload is in flight: its temp file exists until the future is dropped.
    assert_eq!(temp_files(&store).len(), 1);
    drop(put);
    assert_eq!(temp_files(&store), Vec::<String>::new());
    assert_eq!(store.head(&target).await.unwrap(), None);
}

#[tokio::test]
async fn get_streams_in_bounded_chunks() {
    let (_dir, store) = open().await;
    store
        .put(&key("big"), Generated::new(5 * MIB).reader(), "")
        .await
        .unwrap();
    let mut stream = store.get(&key("big")).await.unwrap().stream;
    let (mut chunks, mut largest) = (0, 0);
    while let Some(chunk) = stream.next().await {
        chunks += 1;
        largest = largest.max(chunk.unwrap().len());
    }
    assert!(
        chunks >= 80 && largest <= 64 * 1024,
        "{chunks} chunks, largest {largest}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn paths_through_symlinks_are_refused() {
    let (dir, store) = open().await;
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(&outside, store.root().join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), store.root().join("file-link")).unwrap();

    for k in ["link/secret", "file-link"] {
        let k = key(k);
        assert!(matches!(
            store.get(&k).await,
            Err(DomainError::Invalid { field: "key", .. })
        ));
        assert!(matches!(
            store.get_range(&k, 0, 0).await,
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            store.head(&k).await,
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            store.delete(&k).await,
            Err(DomainError::Invalid { .. })
        ));
    }
    let put = store.put(&key("link/planted"), body(&b"x"[..]), "").await;
    assert!(matches!(put, Err(DomainError::Invalid { .. })), "{put:?}");
    assert!(!outside.join("planted").exists());
    assert!(outside.join("secret").exists());
    // Links are not objects, and the walk does not follow them.
    assert!(store.list("").await.unwrap().is_empty());
}

fn touch(path: &Path, age: Duration) {
    let file = std::fs::File::create(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[tokio::test]
async fn open_sweeps_stale_temp_files_only() {
    let (_dir, store) = open().await;
    let tmp = store.root().join(".tmp");
    touch(&tmp.join("crashed.part"), Duration::from_secs(2 * 3600));
    touch(&tmp.join("in-flight.part"), Duration::from_secs(60));

    let reopened = FsBlobStore::open(store.root()).await.unwrap();
    assert_eq!(temp_files(&reopened), ["in-flight.part"]);
}

#[tokio::test]
async fn list_skips_the_temp_dir() {
    let (_dir, store) = open().await;
    touch(&store.root().join(".tmp/upload.part"), Duration::ZERO);
    store.put(&key("a"), body(&b"a"[..]), "").await.unwrap();
    let keys: Vec<_> = store
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(keys, ["a"]);
    assert!(store.list(".tmp").await.unwrap().is_empty());
}
