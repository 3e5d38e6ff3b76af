//! Streamed uploads. A body shorter than one part is a single PUT; anything longer is a
//! multipart upload with at most [`PARTS_IN_FLIGHT`] parts uploading (as tokio tasks) while
//! the next part is read, so reading and sending overlap and memory stays bounded.
//!
//! A multipart upload is aborted on any error and also when the `put` future is dropped
//! mid-way (the [`Multipart`] drop guard spawns the abort on the current tokio runtime): S3
//! keeps the parts of an upload that is neither completed nor aborted, and bills for them.
//! The abort first cancels and awaits the part uploads still in flight, so no part lands
//! after it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::AsyncReadExt;
use s3::Bucket;
use s3::serde_types::Part;
use tokio::task::JoinSet;
use triage_domain::ports::BlobReader;
use triage_domain::{DomainError, DomainResult};

use crate::error::{Failure, call};

/// Parts uploading at once. With the part being read and rust-s3's copy of each request
/// body, an upload holds about `(2 × PARTS_IN_FLIGHT + 1) × part_size` at its peak.
pub(crate) const PARTS_IN_FLIGHT: usize = 2;

/// S3's limit on the number of parts of one upload.
const MAX_PARTS: u32 = 10_000;

/// The first read buffer; it doubles up to the part size, so small bodies stay small.
const FIRST_BUFFER: usize = 64 * 1024;

const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// What an upload needs to know about the store.
pub(crate) struct Target<'a> {
    pub bucket: &'a Arc<Bucket>,
    pub key: &'a str,
    pub part_size: usize,
    pub limit: Duration,
}

/// Streams `body` to `target.key`; returns the number of bytes stored.
pub(crate) async fn put(
    target: Target<'_>,
    mut body: BlobReader,
    content_type: &str,
) -> DomainResult<u64> {
    let content_type = match content_type.trim() {
        "" => DEFAULT_CONTENT_TYPE,
        given => given,
    };
    let first = read_part(&mut body, target.part_size).await?;
    if first.len() < target.part_size {
        let put = target
            .bucket
            .put_object_with_content_type(target.key, &first, content_type);
        call("put object", target.limit, put).await?;
        return Ok(first.len() as u64);
    }
    let initiate = target
        .bucket
        .initiate_multipart_upload(target.key, content_type);
    let started = call("start multipart upload", target.limit, initiate).await?;
    let mut upload = Multipart {
        bucket: Arc::clone(target.bucket),
        key: target.key.to_owned(),
        upload_id: started.upload_id,
        content_type: content_type.to_owned(),
        limit: target.limit,
        in_flight: JoinSet::new(),
        settled: false,
    };
    match upload.send(first, body, target.part_size).await {
        Ok(size) => Ok(size),
        Err(err) => {
            if let Some(abort) = upload.abort() {
                abort.await;
            }
            Err(err)
        }
    }
}

/// Reads up to `part_size` bytes; fewer only at the end of the body.
async fn read_part(body: &mut BlobReader, part_size: usize) -> DomainResult<Vec<u8>> {
    let mut buf = vec![0; part_size.min(FIRST_BUFFER)];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            if filled == part_size {
                break;
            }
            buf.resize((filled * 2).min(part_size), 0);
        }
        let n = body.read(&mut buf[filled..]).await.map_err(|err| {
            DomainError::internal(format!("reading the body to upload failed: {err}"))
        })?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Retrying the abort of a failed upload: first delay, largest delay, and when to give up.
const ABORT_FIRST_DELAY: std::time::Duration = std::time::Duration::from_millis(500);
const ABORT_MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(60);
const ABORT_GIVE_UP: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// A started multipart upload; aborted when dropped before it is settled.
struct Multipart {
    bucket: Arc<Bucket>,
    key: String,
    upload_id: String,
    content_type: String,
    limit: Duration,
    in_flight: JoinSet<Result<Part, Failure>>,
    /// Completed or aborted: nothing left to clean up.
    settled: bool,
}

impl Multipart {
    /// Uploads `first` and the rest of `body` as parts, then completes the upload.
    async fn send(
        &mut self,
        first: Vec<u8>,
        mut body: BlobReader,
        part_size: usize,
    ) -> DomainResult<u64> {
        let (mut sent, mut total, mut number) = (Vec::new(), 0u64, 0u32);
        let mut next = Some(first);
        while let Some(chunk) = next.take() {
            number += 1;
            if number > MAX_PARTS {
                return Err(DomainError::invalid(
                    "body",
                    format!("larger than {MAX_PARTS} parts of {part_size} bytes"),
                ));
            }
            let last = chunk.len() < part_size;
            total += chunk.len() as u64;
            self.start_part(number, chunk);
            if last {
                break;
            }
            while self.in_flight.len() >= PARTS_IN_FLIGHT {
                sent.push(self.next_sent().await?);
            }
            let chunk = read_part(&mut body, part_size).await?;
            if !chunk.is_empty() {
                next = Some(chunk);
            }
        }
        while !self.in_flight.is_empty() {
            sent.push(self.next_sent().await?);
        }
        sent.sort_by_key(|part| part.part_number);
        let complete = self
            .bucket
            .complete_multipart_upload(&self.key, &self.upload_id, sent);
        call("complete multipart upload", self.limit, complete).await?;
        self.settled = true;
        Ok(total)
    }

    fn start_part(&mut self, number: u32, chunk: Vec<u8>) {
        let bucket = Arc::clone(&self.bucket);
        let (key, upload_id) = (self.key.clone(), self.upload_id.clone());
        let (content_type, limit) = (self.content_type.clone(), self.limit);
        self.in_flight.spawn(async move {
            let put = bucket.put_multipart_chunk(chunk, &key, number, &upload_id, &content_type);
            call("upload part", limit, put).await
        });
    }

    /// Waits for one part in flight to finish.
    async fn next_sent(&mut self) -> DomainResult<Part> {
        match self.in_flight.join_next().await {
            Some(Ok(Ok(part))) => Ok(part),
            Some(Ok(Err(failure))) => Err(failure.into()),
            Some(Err(err)) => Err(DomainError::internal(format!(
                "a part upload task failed: {err}"
            ))),
            None => Err(DomainError::internal("no part upload in flight")),
        }
    }

    /// The clean-up of an unsettled upload: cancel the parts in flight, wait for them to
    /// stop, then abort the upload. `None` once settled.
    fn abort(&mut self) -> Option<impl Future<Output = ()> + Send + 'static> {
        if std::mem::replace(&mut self.settled, true) {
            return None;
        }
        let mut in_flight = std::mem::take(&mut self.in_flight);
        let bucket = Arc::clone(&self.bucket);
        let (key, upload_id, limit) = (self.key.clone(), self.upload_id.clone(), self.limit);
        Some(async move {
            in_flight.abort_all();
            while in_flight.join_next().await.is_some() {}
            // An outage that broke the upload often breaks the abort too: after one attempt
            // here, keep trying in the background, with backoff, so a failed put returns at
            // once and the parts still go away when S3 is back.
            if !abort_once(&bucket, &key, &upload_id, limit).await {
                tokio::spawn(async move {
                    let mut delay = ABORT_FIRST_DELAY;
                    let started = std::time::Instant::now();
                    while started.elapsed() < ABORT_GIVE_UP {
                        tokio::time::sleep(delay).await;
                        if abort_once(&bucket, &key, &upload_id, limit).await {
                            return;
                        }
                        delay = (delay * 2).min(ABORT_MAX_DELAY);
                    }
                    tracing::warn!(
                        %key,
                        %upload_id,
                        "cannot abort a failed multipart upload; its parts stay until a bucket \
                         lifecycle rule (AbortIncompleteMultipartUpload) removes them"
                    );
                });
            }
        })
    }
}

/// One attempt to abort; whether the upload is gone.
async fn abort_once(bucket: &Bucket, key: &str, upload_id: &str, limit: Duration) -> bool {
    match call(
        "abort multipart upload",
        limit,
        bucket.abort_upload(key, upload_id),
    )
    .await
    {
        Ok(()) => {
            tracing::debug!(%key, %upload_id, "multipart upload aborted");
            true
        }
        Err(failure) if failure.code() == Some("NoSuchUpload") => true,
        Err(failure) => {
            tracing::info!(
                %key,
                %upload_id,
                error = %DomainError::from(failure),
                "aborting a failed multipart upload failed; will retry"
            );
            false
        }
    }
}

impl Drop for Multipart {
    fn drop(&mut self) {
        let Some(abort) = self.abort() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(abort);
            }
            Err(_) => tracing::warn!(
                key = %self.key,
                upload_id = %self.upload_id,
                "a multipart upload was dropped outside a tokio runtime and cannot be aborted"
            ),
        }
    }
}
