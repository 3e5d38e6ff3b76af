//! Reading objects: HEAD for metadata, and streamed GETs (whole or ranged) whose bodies are
//! bounded by an idle timeout between chunks rather than by one limit on the whole transfer.
//!
//! A GET is pinned with `If-Match` to the ETag its HEAD saw, so the metadata returned with a
//! body always describes that body; if the object is replaced in between, the read starts
//! over.

use std::io;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream;
use http::header::{HeaderMap, HeaderValue, IF_MATCH, RANGE};
use s3::Bucket;
use s3::request::DataStream;
use triage_domain::ports::{BlobBody, BlobMeta, ByteStream};
use triage_domain::{BlobKey, DomainError, DomainResult};

use crate::error::{Failure, SERVICE, call};

/// How often a read starts over when the object keeps changing between HEAD and GET.
const OPEN_ATTEMPTS: usize = 3;

/// What a HEAD tells about an object.
pub(crate) struct Head {
    pub meta: BlobMeta,
    pub etag: Option<String>,
}

/// HEAD of `key`; `None` when there is no such object.
pub(crate) async fn head(
    bucket: &Bucket,
    key: &BlobKey,
    limit: Duration,
) -> DomainResult<Option<Head>> {
    let (head, _status) = match call("head object", limit, bucket.head_object(key.as_str())).await {
        Ok(found) => found,
        Err(failure) if failure.is_missing_object() => return Ok(None),
        Err(failure) => return Err(failure.into()),
    };
    let size = head
        .content_length
        .and_then(|len| u64::try_from(len).ok())
        .ok_or_else(|| {
            DomainError::unavailable(SERVICE, "head object: the answer has no Content-Length")
        })?;
    let last_modified = head.last_modified.as_deref().and_then(|at| {
        DateTime::parse_from_rfc2822(at)
            .ok()
            .map(|at| at.with_timezone(&Utc))
    });
    Ok(Some(Head {
        meta: BlobMeta {
            key: key.clone(),
            size,
            last_modified,
        },
        etag: head.e_tag.filter(|etag| !etag.is_empty()),
    }))
}

/// Opens the whole object (`range: None`) or bytes `start..=end` of it.
///
/// `streaming` must have no request timeout of its own (it would cap the whole transfer);
/// `limit` bounds the wait for the answer and then every gap between two chunks.
pub(crate) async fn open(
    bucket: &Bucket,
    streaming: &Bucket,
    key: &BlobKey,
    range: Option<(u64, u64)>,
    limit: Duration,
) -> DomainResult<BlobBody> {
    for _ in 0..OPEN_ATTEMPTS {
        let Some(head) = head(bucket, key, limit).await? else {
            return Err(DomainError::NotFound("object"));
        };
        let size = head.meta.size;
        let expected = match range {
            None => size,
            Some((start, end)) => {
                check_range(start, end, size)?;
                end - start + 1
            }
        };
        let mut headers = HeaderMap::new();
        if let Some(etag) = head
            .etag
            .as_deref()
            .and_then(|e| HeaderValue::from_str(e).ok())
        {
            headers.insert(IF_MATCH, etag);
        }
        if let Some((start, end)) = range {
            let value = HeaderValue::from_str(&format!("bytes={start}-{end}"))
                .map_err(|err| DomainError::internal(format!("range header: {err}")))?;
            headers.insert(RANGE, value);
        }
        let get = streaming
            .with_extra_headers(headers)
            .map_err(|err| Failure::from_s3("get object", err))?;
        let response = match call("get object", limit, get.get_object_stream(key.as_str())).await {
            Ok(response) => response,
            Err(failure) if failure.is_precondition_failed() => continue,
            Err(failure) if failure.is_missing_object() => {
                return Err(DomainError::NotFound("object"));
            }
            Err(failure) => return Err(failure.into()),
        };
        let wanted = if range.is_some() { 206 } else { 200 };
        if response.status_code != wanted {
            return Err(DomainError::unavailable(
                SERVICE,
                format!(
                    "get object: HTTP {} where {wanted} was expected",
                    response.status_code
                ),
            ));
        }
        return Ok(BlobBody {
            meta: head.meta,
            range,
            stream: body_stream(response.bytes, expected, limit),
        });
    }
    Err(DomainError::unavailable(
        SERVICE,
        "get object: the object kept changing while it was being opened",
    ))
}

/// `start..=end` must lie within an object of `size` bytes.
pub(crate) fn check_range(start: u64, end: u64, size: u64) -> DomainResult<()> {
    if start > end {
        return Err(DomainError::invalid(
            "range",
            format!("{start} is after {end}"),
        ));
    }
    if end >= size {
        return Err(DomainError::invalid(
            "range",
            format!("byte {end} is past the end of a {size}-byte object"),
        ));
    }
    Ok(())
}

/// The response body, failing (instead of ending early or waiting forever) when the server
/// stalls for `idle`, sends fewer than `expected` bytes, or more.
fn body_stream(inner: DataStream, expected: u64, idle: Duration) -> ByteStream {
    struct Body {
        inner: DataStream,
        remaining: u64,
    }
    let body = Body {
        inner,
        remaining: expected,
    };
    Box::pin(stream::unfold(Some(body), move |state| async move {
        let mut body = state?;
        let failure = match tokio::time::timeout(idle, body.inner.next()).await {
            Ok(Some(Ok(chunk))) if chunk.len() as u64 <= body.remaining => {
                body.remaining -= chunk.len() as u64;
                return Some((Ok(chunk), Some(body)));
            }
            Ok(None) if body.remaining == 0 => return None,
            Ok(Some(Ok(_))) => io::Error::new(
                io::ErrorKind::InvalidData,
                "blobs: the object body is longer than announced",
            ),
            Ok(None) => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "blobs: the object body ended {} bytes short",
                    body.remaining
                ),
            ),
            Ok(Some(Err(err))) => io::Error::other(
                DomainError::from(Failure::from_s3("read object", err)).to_string(),
            ),
            Err(_) => io::Error::new(
                io::ErrorKind::TimedOut,
                format!("blobs: no data from the object store for {idle:?}"),
            ),
        };
        Some((Err(failure), None))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_must_lie_within_the_object() {
        assert!(check_range(0, 0, 1).is_ok());
        assert!(check_range(3, 9, 10).is_ok());
        for (start, end, size) in [
            (5, 4, 10),
            (0, 10, 10),
            (10, 10, 10),
            (0, 0, 0),
            (3, u64::MAX, 10),
        ] {
            assert!(
                check_range(start, end, size).is_err(),
                "{start}..={end} of {size}"
            );
        }
    }

    #[tokio::test]
    async fn bodies_must_have_the_announced_length() {
        let chunks = |parts: &[&'static [u8]]| -> DataStream {
            let items: Vec<_> = parts
                .iter()
                .map(|p| Ok(bytes::Bytes::from_static(p)))
                .collect();
            Box::pin(stream::iter(items))
        };
        let limit = Duration::from_secs(1);
        let whole: Vec<_> = body_stream(chunks(&[b"ab", b"c"]), 3, limit)
            .collect()
            .await;
        assert!(whole.iter().all(Result::is_ok) && whole.len() == 2);
        let short: Vec<_> = body_stream(chunks(&[b"ab"]), 3, limit).collect().await;
        assert_eq!(
            short.last().unwrap().as_ref().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let long: Vec<_> = body_stream(chunks(&[b"abcd"]), 3, limit).collect().await;
        assert_eq!(
            long[0].as_ref().unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let stalled: DataStream = Box::pin(stream::pending());
        let mut stalled = body_stream(stalled, 1, Duration::from_millis(10));
        let err = stalled.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(stalled.next().await.is_none());
    }
}
