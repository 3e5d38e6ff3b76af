use std::io;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_core::Stream;
use futures_io::AsyncRead;

use crate::error::DomainResult;
use crate::ids::BlobKey;

/// A body read from the store, chunk by chunk.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A body written to the store, read as it goes.
pub type BlobReader = Pin<Box<dyn AsyncRead + Send>>;

/// What the store knows about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: BlobKey,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

/// An object (or a range of it) being read.
pub struct BlobBody {
    /// The whole object's metadata (`size` is the full size even for a range).
    pub meta: BlobMeta,
    /// The inclusive byte range this body holds; `None` for the whole object.
    pub range: Option<(u64, u64)>,
    pub stream: ByteStream,
}

/// Object storage for uploads, reports and users' files. Keys are validated [`BlobKey`]s; an
/// adapter never has to escape or check them again.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Streams `body` into the object at `key`, replacing any object there. Readers see
    /// either the old object or the complete new one, never a part; on error nothing is left
    /// behind (no partial object, no temp file, no pending multipart upload). Returns the
    /// number of bytes stored.
    ///
    /// # Errors
    /// - `Unavailable` if the store cannot be reached or fails mid-way.
    /// - `Internal` if reading `body` fails.
    async fn put(&self, key: &BlobKey, body: BlobReader, content_type: &str) -> DomainResult<u64>;

    /// Streams the whole object.
    ///
    /// # Errors
    /// `NotFound("object")`, `Unavailable`.
    async fn get(&self, key: &BlobKey) -> DomainResult<BlobBody>;

    /// Streams bytes `start..=end` of the object.
    ///
    /// # Errors
    /// - `Invalid` if `start > end` or `end` is past the object's last byte (checked before
    ///   any request is made).
    /// - `NotFound("object")`, `Unavailable`.
    async fn get_range(&self, key: &BlobKey, start: u64, end: u64) -> DomainResult<BlobBody>;

    /// # Errors
    /// `Unavailable`. A missing object is `Ok(None)`.
    async fn head(&self, key: &BlobKey) -> DomainResult<Option<BlobMeta>>;

    /// Deletes the object. Returns whether it existed; deleting a missing object is not an
    /// error.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn delete(&self, key: &BlobKey) -> DomainResult<bool>;

    /// Every object whose key starts with `prefix` (a plain string prefix), in key order.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list(&self, prefix: &str) -> DomainResult<Vec<BlobMeta>>;

    /// A URL that lets anyone holding it download the object with a plain GET until
    /// `expires_in` has passed. `Ok(None)` when this store cannot presign (the caller then
    /// signs a URL to triage itself).
    ///
    /// # Errors
    /// - `Invalid` if `expires_in` is outside 1 s – 7 days.
    /// - `Unavailable`.
    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> DomainResult<Option<String>>;

    /// Readiness probe: one cheap round trip.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn ping(&self) -> DomainResult<()>;
}
