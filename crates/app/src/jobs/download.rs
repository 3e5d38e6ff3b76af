//! Streaming an object to a client, whole or as one byte range.

use chrono::{DateTime, Utc};
use triage_domain::BlobKey;
use triage_domain::ports::ByteStream;

use crate::App;
use crate::error::{AppError, AppResult};
use crate::range::RangeRequest;

/// An object on its way to a client.
pub struct Download {
    /// The name to offer in `Content-Disposition`.
    pub file_name: String,
    pub content_type: String,
    /// The whole object's size.
    pub total_size: u64,
    /// The inclusive range being sent, or `None` for the whole object.
    pub range: Option<(u64, u64)>,
    pub last_modified: Option<DateTime<Utc>>,
    pub stream: ByteStream,
}

impl App {
    /// Opens `key` for streaming, resolving `range` against the object's size first.
    pub(crate) async fn open_blob(
        &self,
        key: &BlobKey,
        file_name: String,
        content_type: String,
        known_size: Option<u64>,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let blobs = &self.inner.ports.blobs;
        let body = match range {
            None => blobs.get(key).await?,
            Some(range) => {
                let size = match known_size {
                    Some(size) => size,
                    None => {
                        blobs
                            .head(key)
                            .await?
                            .ok_or(AppError::NotFound("object"))?
                            .size
                    }
                };
                let (start, end) = range
                    .resolve(size)
                    .ok_or(AppError::RangeNotSatisfiable { size })?;
                blobs.get_range(key, start, end).await?
            }
        };
        Ok(Download {
            file_name,
            content_type,
            total_size: body.meta.size,
            range: body.range,
            last_modified: body.meta.last_modified,
            stream: body.stream,
        })
    }
}
