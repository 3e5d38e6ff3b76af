//! Contract cases that store, replace and delete objects.

use triage_domain::DomainError;
use triage_domain::ports::BlobStore;

use super::bodies::{Generated, MIB, body, generated_sha256, read_all, sha256};
use super::scope::Scope;
use super::{LARGE, PART};

pub async fn put_then_get_small(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("small.bin");
        assert_eq!(
            store
                .put(&key, body(&b"hello, blobs"[..]), "application/octet-stream")
                .await
                .unwrap(),
            12
        );
        let got = store.get(&key).await.unwrap();
        assert_eq!(
            (got.meta.key.clone(), got.meta.size, got.range),
            (key, 12, None)
        );
        assert_eq!(read_all(got.stream).await, b"hello, blobs");
    })
    .await;
}

pub async fn put_then_get_empty(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("empty");
        assert_eq!(
            store
                .put(&key, body(Vec::new()), "text/plain")
                .await
                .unwrap(),
            0
        );
        let got = store.get(&key).await.unwrap();
        assert_eq!(got.meta.size, 0);
        assert!(read_all(got.stream).await.is_empty());
    })
    .await;
}

pub async fn put_then_get_large_streamed(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("large.zip");
        assert_eq!(
            store
                .put(&key, Generated::new(LARGE).reader(), "application/zip")
                .await
                .unwrap(),
            LARGE
        );
        let got = store.get(&key).await.unwrap();
        assert_eq!(got.meta.size, LARGE);
        assert_eq!(
            sha256(got.stream).await,
            (generated_sha256(0, LARGE), LARGE)
        );
    })
    .await;
}

pub async fn put_replaces_existing(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("report.xlsx");
        store
            .put(&key, Generated::new(100_000).reader(), "")
            .await
            .unwrap();
        assert_eq!(store.put(&key, body(&b"v2"[..]), "").await.unwrap(), 2);
        assert_eq!(store.head(&key).await.unwrap().unwrap().size, 2);
        assert_eq!(read_all(store.get(&key).await.unwrap().stream).await, b"v2");
    })
    .await;
}

pub async fn failed_put_leaves_nothing(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("broken.zip");
        // Past one multipart part, so an S3 adapter has a pending upload to abort.
        let result = store
            .put(&key, Generated::failing_after(PART + MIB).reader(), "")
            .await;
        assert!(
            matches!(result, Err(DomainError::Internal(_))),
            "{result:?}"
        );
        assert_eq!(store.head(&key).await.unwrap(), None);
        assert!(store.list(&s.prefix).await.unwrap().is_empty());
    })
    .await;
}

pub async fn failed_put_keeps_previous_object(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("kept.zip");
        store.put(&key, body(&b"old"[..]), "").await.unwrap();
        assert!(
            store
                .put(&key, Generated::failing_after(MIB).reader(), "")
                .await
                .is_err()
        );
        assert_eq!(
            read_all(store.get(&key).await.unwrap().stream).await,
            b"old"
        );
    })
    .await;
}

pub async fn delete_reports_whether_it_existed(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("doomed");
        store.put(&key, body(&b"x"[..]), "").await.unwrap();
        assert!(store.delete(&key).await.unwrap());
        assert!(!store.delete(&key).await.unwrap());
        assert_eq!(store.head(&key).await.unwrap(), None);
        assert!(matches!(
            store.get(&key).await,
            Err(DomainError::NotFound(_))
        ));
    })
    .await;
}

/// A name once used by an object can later hold objects below it (and the reverse).
pub async fn deleted_object_name_can_become_a_folder(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        store
            .put(&s.key("x/y/z"), body(&b"deep"[..]), "")
            .await
            .unwrap();
        assert!(store.delete(&s.key("x/y/z")).await.unwrap());
        store
            .put(&s.key("x/y"), body(&b"file"[..]), "")
            .await
            .unwrap();
        assert!(store.delete(&s.key("x/y")).await.unwrap());
        store
            .put(&s.key("x/y/z"), body(&b"deep again"[..]), "")
            .await
            .unwrap();
        assert_eq!(
            read_all(store.get(&s.key("x/y/z")).await.unwrap().stream).await,
            b"deep again"
        );
    })
    .await;
}
