//! The [`BlobStore`] contract. Every case works under its own random prefix
//! (`contract/<uuid>/`), only ever lists under it, and deletes what it made even when it
//! fails, so it can run against a shared S3 bucket holding other objects.
//!
//! ```ignore
//! async fn fs() -> Option<(Arc<dyn BlobStore>, TempDir)> { /* None skips the adapter */ }
//! triage_testkit::blob_store_contract!(fs());
//! ```

pub mod bodies;
mod reads;
mod scope;
mod writes;

use std::io::Write;
use std::sync::Arc;

use triage_domain::DomainError;
use triage_domain::ports::BlobStore;

use bodies::MIB;
pub use reads::*;
pub use writes::*;

/// What an adapter factory returns: the store, plus whatever must live as long as the test
/// (a temp dir, a bucket handle).
pub trait BlobFixture {
    fn store(&self) -> Arc<dyn BlobStore>;
}

impl BlobFixture for Arc<dyn BlobStore> {
    fn store(&self) -> Arc<dyn BlobStore> {
        self.clone()
    }
}

impl<G> BlobFixture for (Arc<dyn BlobStore>, G) {
    fn store(&self) -> Arc<dyn BlobStore> {
        self.0.clone()
    }
}

/// Stamps one `#[tokio::test]` per contract case. `$factory` is an async expression
/// evaluated once per test, returning `Option<impl BlobFixture>`; `None` skips the case
/// (it fails instead under `CI=true`). The calling crate needs `tokio` for `#[tokio::test]`.
#[macro_export]
macro_rules! blob_store_contract {
    ($factory:expr) => {
        $crate::blob_store_contract!(@cases $factory;
            put_then_get_small, put_then_get_empty, put_then_get_large_streamed,
            put_replaces_existing, failed_put_leaves_nothing, failed_put_keeps_previous_object,
            missing_object_is_not_found, get_range_slices_large_object, get_range_refuses_bad_ranges,
            head_reports_size, delete_reports_whether_it_existed, list_by_prefix_in_key_order,
            non_ascii_keys, deleted_object_name_can_become_a_folder, presign_get_bounds, ping_ok,
        );
    };
    (@cases $factory:expr; $($case:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            match $factory.await {
                Some(fixture) => {
                    let store = $crate::contract::blobs::BlobFixture::store(&fixture);
                    $crate::contract::blobs::$case(&*store).await;
                }
                None => $crate::contract::blobs::skip(stringify!($case)),
            }
        }
    )+};
}

/// Called when the adapter's service is not there: a `skipping:` line, or a failure in CI.
pub fn skip(case: &str) {
    if std::env::var_os("CI").is_some_and(|ci| ci == "true") {
        panic!("{case}: the blob store is not reachable, and CI=true requires it");
    }
    // Straight to stderr: the harness captures `eprintln!`, and this line must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "skipping: {case}: the blob store is not reachable"
    );
}

const LARGE: u64 = 20 * MIB;
/// rust-s3's multipart part size: the first part boundary of a streamed upload.
const PART: u64 = 8 * MIB;

fn is_invalid<T>(result: Result<T, DomainError>) -> bool {
    matches!(result, Err(DomainError::Invalid { .. }))
}
