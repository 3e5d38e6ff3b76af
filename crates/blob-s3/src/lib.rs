//! `S3BlobStore`: the [`BlobStore`] port on any S3-compatible object store (MinIO, Garage,
//! s3s-fs, AWS S3) through rust-s3, path-style and SigV4 with explicit credentials.
//!
//! Uploads stream: one PUT below a part, otherwise a multipart upload with two parts in
//! flight, aborted on error and when the upload is dropped (see `upload.rs`). Downloads stream
//! too, pinned to the ETag their HEAD saw (see `read.rs`). Every request has a time limit, and
//! every failure of the store is `Unavailable { service: "blobs" }` (see `error.rs`, the one
//! place where errors are mapped); secrets never reach a log line or an error message.
//!
//! An adapter crate: it may depend on `triage-domain`, rust-s3 (and `http` for its header
//! type), tokio, futures-util, bytes, chrono, async-trait and tracing — never on the app, the
//! API or another triage crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use s3::command::Command;
use s3::creds::Credentials;
use s3::request::Request as _;
use s3::request::tokio_backend::ReqwestRequest;
use s3::{Bucket, BucketConfiguration, Region};
use triage_domain::ports::{BlobBody, BlobMeta, BlobReader, BlobStore};
use triage_domain::{BlobKey, DomainError, DomainResult};

mod error;
mod list;
mod options;
mod read;
mod upload;

pub use options::{
    DEFAULT_PART_SIZE, DEFAULT_REGION, DEFAULT_REQUEST_TIMEOUT, MAX_PART_SIZE, MIN_PART_SIZE,
    S3Options,
};

use error::{Failure, call};

/// Shortest and longest lifetime of a presigned URL (S3 refuses more than 7 days).
const MIN_PRESIGN: Duration = Duration::from_secs(1);
const MAX_PRESIGN: Duration = Duration::from_secs(7 * 24 * 3600);

/// Object storage in one S3 bucket. Cheap to clone.
#[derive(Clone)]
pub struct S3BlobStore {
    /// Requests bounded by `request_timeout` as a whole.
    bucket: Arc<Bucket>,
    /// The same bucket without rust-s3's whole-request timeout, for streamed GETs.
    streaming: Arc<Bucket>,
    endpoint: String,
    limit: Duration,
    part_size: usize,
}

impl S3BlobStore {
    /// A store on `opts.bucket`. Makes no request unless `opts.create_bucket` is set, in
    /// which case the bucket is created when missing; use [`BlobStore::ping`] to check that
    /// the store answers.
    ///
    /// # Errors
    /// - `Invalid` for a bad option (see [`S3Options::validate`]).
    /// - `Unavailable` when the bucket must be created and the store cannot be reached or
    ///   refuses (wrong credentials, a bucket owned by someone else).
    pub async fn connect(opts: S3Options) -> DomainResult<Self> {
        opts.validate()?;
        let endpoint = opts.endpoint_url()?;
        let region = Region::Custom {
            region: opts.region.trim().to_owned(),
            endpoint: endpoint.clone(),
        };
        let credentials = Credentials::new(
            Some(&opts.access_key),
            Some(&opts.secret_key),
            None,
            None,
            None,
        )
        .map_err(|_| DomainError::internal("cannot set up the S3 credentials"))?;
        let mut bucket = *Bucket::new(opts.bucket.trim(), region, credentials)
            .map_err(|err| Failure::from_s3("set up the S3 client", err))?
            .with_path_style();
        bucket.set_request_timeout(Some(opts.request_timeout));
        let mut streaming = bucket.clone();
        streaming.set_request_timeout(None);
        let store = Self {
            bucket: Arc::new(bucket),
            streaming: Arc::new(streaming),
            endpoint,
            limit: opts.request_timeout,
            part_size: opts.part_size,
        };
        if opts.create_bucket {
            store.ensure_bucket().await?;
        }
        Ok(store)
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket.name
    }

    /// The endpoint, with its scheme.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Creates the bucket unless it is there; losing a creation race is fine.
    async fn ensure_bucket(&self) -> DomainResult<()> {
        match list::probe(&self.bucket, self.limit).await {
            Ok(()) => return Ok(()),
            Err(failure) if failure.is_missing_bucket() => {}
            Err(failure) => return Err(failure.into()),
        }
        let mut config = BucketConfiguration::default();
        // S3 wants no location constraint for its default region (and rust-s3 only knows
        // that for its own `Region::UsEast1`, not for a custom endpoint).
        if self.bucket.region.to_string() != DEFAULT_REGION {
            config.set_location_constraint(self.bucket.region.clone());
        }
        let bucket = &self.bucket;
        let create = async move {
            let command = Command::CreateBucket { config };
            ReqwestRequest::new(bucket, "", command)
                .await?
                .response_data(false)
                .await
        };
        match call("create bucket", self.limit, create).await {
            Ok(_) => {
                tracing::info!(bucket = %self.bucket.name, "created the bucket");
                Ok(())
            }
            Err(failure) if failure.code() == Some("BucketAlreadyOwnedByYou") => Ok(()),
            // Someone else created it since the probe (s3s-fs says so even to its owner):
            // fine if it is ours, which the probe tells.
            Err(failure) if failure.code() == Some("BucketAlreadyExists") => {
                Ok(list::probe(&self.bucket, self.limit).await?)
            }
            Err(failure) => Err(failure.into()),
        }
    }
}

impl fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3BlobStore")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket.name)
            .field("request_timeout", &self.limit)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &BlobKey, body: BlobReader, content_type: &str) -> DomainResult<u64> {
        let target = upload::Target {
            bucket: &self.bucket,
            key: key.as_str(),
            part_size: self.part_size,
            limit: self.limit,
        };
        let size = upload::put(target, body, content_type).await?;
        tracing::debug!(%key, size, "stored an object");
        Ok(size)
    }

    async fn get(&self, key: &BlobKey) -> DomainResult<BlobBody> {
        read::open(&self.bucket, &self.streaming, key, None, self.limit).await
    }

    async fn get_range(&self, key: &BlobKey, start: u64, end: u64) -> DomainResult<BlobBody> {
        // An inverted range needs no request (rust-s3 would even panic on it); the end is
        // checked against the size the HEAD in `open` reports, before the ranged GET.
        if start > end {
            read::check_range(start, end, u64::MAX)?;
        }
        read::open(
            &self.bucket,
            &self.streaming,
            key,
            Some((start, end)),
            self.limit,
        )
        .await
    }

    async fn head(&self, key: &BlobKey) -> DomainResult<Option<BlobMeta>> {
        Ok(read::head(&self.bucket, key, self.limit)
            .await?
            .map(|head| head.meta))
    }

    async fn delete(&self, key: &BlobKey) -> DomainResult<bool> {
        // S3 answers a DELETE the same whether or not the object was there.
        if read::head(&self.bucket, key, self.limit).await?.is_none() {
            return Ok(false);
        }
        let delete = self.bucket.delete_object(key.as_str());
        match call("delete object", self.limit, delete).await {
            Ok(_) => Ok(true),
            Err(failure) if failure.is_missing_object() => Ok(false),
            Err(failure) => Err(failure.into()),
        }
    }

    async fn list(&self, prefix: &str) -> DomainResult<Vec<BlobMeta>> {
        list::list(&self.bucket, prefix, self.limit).await
    }

    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> DomainResult<Option<String>> {
        if !(MIN_PRESIGN..=MAX_PRESIGN).contains(&expires_in) {
            return Err(DomainError::invalid(
                "expires_in",
                "must be between 1 second and 7 days",
            ));
        }
        let secs = u32::try_from(expires_in.as_secs())
            .map_err(|_| DomainError::invalid("expires_in", "too long"))?;
        let presign = self.bucket.presign_get(key.as_str(), secs, None);
        Ok(Some(call("presign get", self.limit, presign).await?))
    }

    async fn ping(&self) -> DomainResult<()> {
        Ok(list::probe(&self.bucket, self.limit).await?)
    }
}
