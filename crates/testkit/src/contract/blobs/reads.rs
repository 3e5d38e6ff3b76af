//! Contract cases that read objects back: ranges, metadata, listings, URLs.

use std::time::Duration;

use triage_domain::DomainError;
use triage_domain::ports::BlobStore;

use super::bodies::{Generated, body, generated, generated_sha256, read_all, sha256};
use super::scope::Scope;
use super::{LARGE, PART, is_invalid};

pub async fn missing_object_is_not_found(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("missing");
        assert!(matches!(
            store.get(&key).await,
            Err(DomainError::NotFound("object"))
        ));
        assert!(matches!(
            store.get_range(&key, 0, 0).await,
            Err(DomainError::NotFound("object"))
        ));
        assert_eq!(store.head(&key).await.unwrap(), None);
        assert!(!store.delete(&key).await.unwrap());
    })
    .await;
}

pub async fn get_range_slices_large_object(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("ranged.zip");
        store
            .put(&key, Generated::new(LARGE).reader(), "")
            .await
            .unwrap();
        for (start, end) in [
            (0, 0),
            (LARGE - 1, LARGE - 1),
            (PART - 1000, PART + 999),
            (1, 2),
        ] {
            let got = store.get_range(&key, start, end).await.unwrap();
            assert_eq!((got.meta.size, got.range), (LARGE, Some((start, end))));
            assert_eq!(
                read_all(got.stream).await,
                generated(start, end - start + 1),
                "{start}..={end}"
            );
        }
        let whole = store.get_range(&key, 0, LARGE - 1).await.unwrap();
        assert_eq!(
            sha256(whole.stream).await,
            (generated_sha256(0, LARGE), LARGE)
        );
    })
    .await;
}

pub async fn get_range_refuses_bad_ranges(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("ten.bin");
        store.put(&key, body(generated(0, 10)), "").await.unwrap();
        assert!(is_invalid(store.get_range(&key, 5, 4).await));
        assert!(is_invalid(store.get_range(&key, 0, 10).await));
        assert!(is_invalid(store.get_range(&key, 10, 10).await));
        assert!(is_invalid(store.get_range(&key, 3, u64::MAX).await));
        let empty = s.key("empty.bin");
        store.put(&empty, body(Vec::new()), "").await.unwrap();
        assert!(is_invalid(store.get_range(&empty, 0, 0).await));
        // A refused range leaves the object readable.
        assert_eq!(
            read_all(store.get_range(&key, 9, 9).await.unwrap().stream).await,
            generated(9, 1)
        );
    })
    .await;
}

pub async fn head_reports_size(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("headed.dcm");
        store
            .put(&key, Generated::new(12_345).reader(), "application/dicom")
            .await
            .unwrap();
        let meta = store
            .head(&key)
            .await
            .unwrap()
            .expect("head of a stored object");
        assert_eq!((meta.key, meta.size), (key, 12_345));
        // Optional in the port, but when present it must be "now" (allowing for clock skew).
        if let Some(at) = meta.last_modified {
            let skew = (chrono::Utc::now() - at).num_seconds().abs();
            assert!(skew < 3600, "last_modified {at} is {skew} s away from now");
        }
    })
    .await;
}

pub async fn list_by_prefix_in_key_order(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        // '-' < '/' < 'b' in byte order: the walk order of a tree is not the key order.
        let names = ["b", "a/2", "ab", "a/1", "a-", "c/d/e"];
        for (size, name) in (1u64..).zip(names) {
            store
                .put(&s.key(name), Generated::new(size).reader(), "")
                .await
                .unwrap();
        }
        let all = [
            ("a-", 5),
            ("a/1", 4),
            ("a/2", 2),
            ("ab", 3),
            ("b", 1),
            ("c/d/e", 6),
        ]
        .map(|(k, n)| (k.to_owned(), n));
        assert_eq!(s.list("").await, all);
        assert_eq!(s.list("a").await, all[..4]);
        assert_eq!(s.list("a/").await, all[1..3]);
        assert_eq!(s.list("c/d").await, all[5..]);
        assert!(s.list("zz").await.is_empty());
    })
    .await;
}

pub async fn non_ascii_keys(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("исследование 1.zip");
        store
            .put(&key, body("данные".as_bytes()), "application/zip")
            .await
            .unwrap();
        assert_eq!(
            read_all(store.get(&key).await.unwrap().stream).await,
            "данные".as_bytes()
        );
        assert_eq!(store.head(&key).await.unwrap().unwrap().size, 12);
        let listed = store.list(&format!("{}иссл", s.prefix)).await.unwrap();
        assert_eq!(listed.iter().map(|m| &m.key).collect::<Vec<_>>(), [&key]);
        assert!(store.delete(&key).await.unwrap());
    })
    .await;
}

pub async fn presign_get_bounds(store: &dyn BlobStore) {
    let s = Scope::new(store);
    s.run(async {
        let key = s.key("shared.xlsx");
        store.put(&key, body(&b"x"[..]), "").await.unwrap();
        assert!(is_invalid(store.presign_get(&key, Duration::ZERO).await));
        assert!(is_invalid(
            store.presign_get(&key, Duration::from_millis(999)).await
        ));
        assert!(is_invalid(
            store
                .presign_get(&key, Duration::from_secs(8 * 24 * 3600))
                .await
        ));
        for ok in [Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600)] {
            if let Some(url) = store.presign_get(&key, ok).await.unwrap() {
                assert!(url.starts_with("http"), "{url}");
            }
        }
    })
    .await;
}

pub async fn ping_ok(store: &dyn BlobStore) {
    store.ping().await.unwrap();
}
