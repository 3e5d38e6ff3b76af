//! What only the file store has: how keys map onto the directory tree. The port's behaviour
//! is checked by the contract suite in `triage-testkit` (`tests/blobs_fs.rs`).

// Helpers outside `#[test]` fns are not exempted by clippy.toml.
#![allow(clippy::unwrap_used)]

use futures_util::TryStreamExt;
use futures_util::io::Cursor;
use triage_blob_fs::FsBlobStore;
use triage_domain::ports::{BlobReader, BlobStore};
use triage_domain::{BlobKey, ConflictKind, DomainError};

fn key(s: &str) -> BlobKey {
    BlobKey::parse(s).unwrap()
}

fn body(bytes: &[u8]) -> BlobReader {
    Box::pin(Cursor::new(bytes.to_vec()))
}

async fn store() -> (tempfile::TempDir, FsBlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn keys_are_plain_files_under_the_root() {
    let (_dir, store) = store().await;
    assert_eq!(
        store
            .put(&key("jobs/a b.zip"), body(b"zip"), "application/zip")
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        std::fs::read(store.root().join("jobs/a b.zip")).unwrap(),
        b"zip"
    );
    assert!(store.root().join(".tmp").is_dir());
}

#[tokio::test]
async fn delete_prunes_empty_directories_but_not_the_root_or_busy_ones() {
    let (_dir, store) = store().await;
    store.put(&key("a/b/c/one"), body(b"1"), "").await.unwrap();
    store.put(&key("a/two"), body(b"2"), "").await.unwrap();

    assert!(store.delete(&key("a/b/c/one")).await.unwrap());
    assert!(
        !store.root().join("a/b").exists(),
        "empty a/b/c and a/b should be gone"
    );
    assert!(store.root().join("a/two").is_file());

    assert!(store.delete(&key("a/two")).await.unwrap());
    assert!(!store.root().join("a").exists());
    assert!(store.root().is_dir() && store.root().join(".tmp").is_dir());
}

#[tokio::test]
async fn an_object_and_a_folder_cannot_share_a_name() {
    let (_dir, store) = store().await;
    store.put(&key("x"), body(b"file"), "").await.unwrap();
    let err = store
        .put(&key("x/y"), body(b"below a file"), "")
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::Conflict(ConflictKind::AlreadyExists));

    store.put(&key("d/e"), body(b"e"), "").await.unwrap();
    let err = store
        .put(&key("d"), body(b"over a folder"), "")
        .await
        .unwrap_err();
    assert_eq!(err, DomainError::Conflict(ConflictKind::AlreadyExists));

    // A folder is not an object, and a key below a file does not exist.
    assert_eq!(store.head(&key("d")).await.unwrap(), None);
    assert!(matches!(
        store.get(&key("d")).await,
        Err(DomainError::NotFound("object"))
    ));
    assert!(!store.delete(&key("d")).await.unwrap());
    assert_eq!(store.head(&key("x/y")).await.unwrap(), None);
    let chunks: Vec<_> = store
        .get(&key("x"))
        .await
        .unwrap()
        .stream
        .try_collect()
        .await
        .unwrap();
    assert_eq!(chunks.concat(), b"file");
}

#[tokio::test]
async fn the_temp_dir_is_not_addressable() {
    let (_dir, store) = store().await;
    let err = store
        .put(&key(".tmp/x.part"), body(b"x"), "")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { field: "key", .. }),
        "{err:?}"
    );
    assert!(matches!(
        store.head(&key(".tmp")).await,
        Err(DomainError::Invalid { .. })
    ));
}

#[tokio::test]
async fn ping_fails_once_the_root_is_gone() {
    let (_dir, store) = store().await;
    store.ping().await.unwrap();
    std::fs::remove_dir_all(store.root()).unwrap();
    assert!(matches!(
        store.ping().await,
        Err(DomainError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn a_root_that_is_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"").unwrap();
    assert!(matches!(
        FsBlobStore::open(&file).await,
        Err(DomainError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn a_name_too_long_for_the_filesystem_is_invalid() {
    let (_dir, store) = store().await;
    let long = key(&format!("files/{}.zip", "я".repeat(200)));
    let err = store.put(&long, body(b"x"), "").await.unwrap_err();
    assert!(
        matches!(err, DomainError::Invalid { field: "key", .. }),
        "{err:?}"
    );
    assert!(matches!(
        store.head(&long).await,
        Err(DomainError::Invalid { .. })
    ));
    assert_eq!(
        std::fs::read_dir(store.root().join(".tmp"))
            .unwrap()
            .count(),
        0
    );
}
