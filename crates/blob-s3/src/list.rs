//! Listing: every page of ListObjectsV2 under a prefix, each page its own bounded request.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use s3::Bucket;
use triage_domain::ports::BlobMeta;
use triage_domain::{BlobKey, DomainError, DomainResult};

use crate::error::{Failure, SERVICE, call};

/// Every object whose key starts with `prefix`, in key (byte) order. Keys that are not valid
/// [`BlobKey`]s (written by something else) cannot be addressed through the port and are
/// skipped with a warning.
pub(crate) async fn list(
    bucket: &Bucket,
    prefix: &str,
    limit: Duration,
) -> DomainResult<Vec<BlobMeta>> {
    let mut metas = Vec::new();
    let mut token: Option<String> = None;
    let mut seen = HashSet::new();
    loop {
        let page = bucket.list_page(prefix.to_owned(), None, token.take(), None, None);
        let (page, _status) = call("list objects", limit, page).await?;
        for object in page.contents {
            match BlobKey::parse(object.key.as_str()) {
                Ok(key) => metas.push(BlobMeta {
                    key,
                    size: object.size,
                    last_modified: DateTime::parse_from_rfc3339(&object.last_modified)
                        .ok()
                        .map(|at| at.with_timezone(&Utc)),
                }),
                Err(_) => {
                    tracing::warn!(key = %object.key, "skipping an object whose key is not a valid blob key")
                }
            }
        }
        if !page.is_truncated {
            break;
        }
        match page.next_continuation_token {
            Some(next) if seen.insert(next.clone()) => token = Some(next),
            Some(_) => return Err(broken("the server repeated a continuation token")),
            None => return Err(broken("a truncated page has no continuation token")),
        }
    }
    metas.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    Ok(metas)
}

/// A cheap round trip that needs the bucket to exist and the credentials to be right.
pub(crate) async fn probe(bucket: &Bucket, limit: Duration) -> Result<(), Failure> {
    let page = bucket.list_page(String::new(), None, None, None, Some(1));
    call("list objects", limit, page).await.map(drop)
}

fn broken(what: &str) -> DomainError {
    DomainError::unavailable(SERVICE, format!("list objects: {what}"))
}
