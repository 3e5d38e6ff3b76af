//! A contract case's private key space: a random prefix, emptied when the case ends.

use std::future::Future;
use std::panic::{AssertUnwindSafe, resume_unwind};

use futures_util::FutureExt;
use triage_domain::BlobKey;
use triage_domain::ports::BlobStore;
use uuid::Uuid;

/// One case's private key space, emptied when the case ends, pass or fail.
pub(super) struct Scope<'a> {
    store: &'a dyn BlobStore,
    pub(super) prefix: String,
}

impl<'a> Scope<'a> {
    pub(super) fn new(store: &'a dyn BlobStore) -> Self {
        Self {
            store,
            prefix: format!("contract/{}/", Uuid::new_v4()),
        }
    }

    pub(super) fn key(&self, name: &str) -> BlobKey {
        BlobKey::parse(format!("{}{name}", self.prefix)).unwrap()
    }

    /// `(name under the prefix, size)` of the objects listed for `self.prefix + under`.
    pub(super) async fn list(&self, under: &str) -> Vec<(String, u64)> {
        let metas = self
            .store
            .list(&format!("{}{under}", self.prefix))
            .await
            .unwrap();
        metas
            .into_iter()
            .map(|m| (m.key.as_str()[self.prefix.len()..].to_owned(), m.size))
            .collect()
    }

    pub(super) async fn run(&self, case: impl Future<Output = ()>) {
        let outcome = AssertUnwindSafe(case).catch_unwind().await;
        let leftovers = self.store.list(&self.prefix).await;
        for meta in leftovers.iter().flatten() {
            let _ = self.store.delete(&meta.key).await;
        }
        if let Err(panic) = outcome {
            resume_unwind(panic);
        }
        let left = self.store.list(&self.prefix).await.unwrap();
        assert!(
            left.is_empty(),
            "objects left after deleting them: {left:?}"
        );
    }
}
