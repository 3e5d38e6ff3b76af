//! The Files section of api.md: a per-user object area (`files/<user id>/<name>`) on the blob
//! store, streamed both ways, with shareable download URLs. A store that presigns (S3) makes
//! them; otherwise triage signs a URL to itself with HMAC-SHA256 over the key and the expiry,
//! checked in constant time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::compat::TokioAsyncReadCompatExt;
use triage_domain::{BlobKey, UserId};

use crate::accounts::user_files_prefix;
use crate::error::{AppError, AppResult};
use crate::jobs::{Download, UploadSpool};
use crate::range::RangeRequest;
use crate::{App, Caller};

/// Shortest and longest lifetime of a download URL (the S3 presigning bounds).
pub const MIN_URL_SECS: u64 = 1;
pub const MAX_URL_SECS: u64 = 7 * 24 * 3600;

/// One of a user's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub size: u64,
    pub last_modified: Option<DateTime<Utc>>,
}

/// A download URL for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileUrl {
    /// Absolute, straight to the object store.
    Presigned(String),
    /// A path and query on this server (`/signed/files/...`); the caller makes it absolute.
    Signed(String),
}

impl App {
    /// The bucket a Files request names, checked against the configured one.
    ///
    /// # Errors
    /// `BadRequest` (`unknown_bucket`) for any other bucket.
    pub fn files_bucket(&self, asked: Option<&str>) -> AppResult<String> {
        let bucket = &self.inner.settings.ml.bucket;
        match asked.map(str::trim).filter(|b| !b.is_empty()) {
            None => Ok(bucket.clone()),
            Some(asked) if asked == bucket => Ok(bucket.clone()),
            Some(asked) => Err(AppError::bad_request(
                "unknown_bucket",
                format!("bucket {asked:?} is not served here; use {bucket:?}"),
            )),
        }
    }

    /// Refuses early (before the body is read) a name that is invalid or, without
    /// `overwrite`, taken.
    ///
    /// # Errors
    /// `Validation`, `Conflict` (`file_exists`), `Unavailable`.
    pub async fn check_file_slot(
        &self,
        caller: &Caller,
        name: &str,
        overwrite: bool,
    ) -> AppResult<()> {
        let key = file_key(caller.id, name)?;
        if !overwrite && self.inner.ports.blobs.head(&key).await?.is_some() {
            return Err(file_exists(name));
        }
        Ok(())
    }

    /// Stores a received upload as the caller's file `name`.
    ///
    /// # Errors
    /// `Validation`, `Conflict` (`file_exists`), `Unavailable`, `Internal`.
    pub async fn store_file(
        &self,
        caller: &Caller,
        name: &str,
        spool: UploadSpool,
        overwrite: bool,
    ) -> AppResult<StoredFile> {
        self.check_file_slot(caller, name, overwrite).await?;
        let key = file_key(caller.id, name)?;
        let (path, expected) = spool.finish().await?;
        let reader = tokio::fs::File::open(&path)
            .await
            .map_err(|err| AppError::internal(format!("spool reopen: {err}")))?;
        let size = self
            .inner
            .ports
            .blobs
            .put(&key, Box::pin(reader.compat()), "application/octet-stream")
            .await?;
        if size != expected {
            let _ = self.inner.ports.blobs.delete(&key).await;
            return Err(AppError::internal(format!(
                "stored {size} bytes of {expected}"
            )));
        }
        Ok(StoredFile {
            name: name.to_owned(),
            size,
            last_modified: Some(self.now()),
        })
    }

    /// The caller's files whose names start with `prefix`, in name order.
    ///
    /// # Errors
    /// `Unavailable`.
    pub async fn list_files(
        &self,
        caller: &Caller,
        prefix: Option<&str>,
    ) -> AppResult<Vec<StoredFile>> {
        let area = user_files_prefix(caller.id);
        let listed = self
            .inner
            .ports
            .blobs
            .list(&format!("{area}{}", prefix.unwrap_or_default()))
            .await?;
        Ok(listed
            .into_iter()
            .filter_map(|meta| {
                let name = meta.key.as_str().strip_prefix(&area)?.to_owned();
                Some(StoredFile {
                    name,
                    size: meta.size,
                    last_modified: meta.last_modified,
                })
            })
            .collect())
    }

    /// Streams one of the caller's files.
    ///
    /// # Errors
    /// `Validation`, `NotFound`, `RangeNotSatisfiable`, `Unavailable`.
    pub async fn download_file(
        &self,
        caller: &Caller,
        name: &str,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let key = file_key(caller.id, name)?;
        self.open_file(&key, name, range).await
    }

    /// Deletes one of the caller's files.
    ///
    /// # Errors
    /// `Validation`, `NotFound`, `Unavailable`.
    pub async fn delete_file(&self, caller: &Caller, name: &str) -> AppResult<()> {
        let key = file_key(caller.id, name)?;
        if self.inner.ports.blobs.delete(&key).await? {
            Ok(())
        } else {
            Err(AppError::NotFound("file"))
        }
    }

    /// A URL that downloads the caller's file without a token until it expires.
    ///
    /// # Errors
    /// `Validation` (name, expiry outside 1 s – 7 days), `NotFound`, `Unavailable`.
    pub async fn file_url(
        &self,
        caller: &Caller,
        name: &str,
        expires_in: u64,
    ) -> AppResult<FileUrl> {
        if !(MIN_URL_SECS..=MAX_URL_SECS).contains(&expires_in) {
            return Err(AppError::field(
                "expires",
                format!("must be {MIN_URL_SECS} to {MAX_URL_SECS} seconds"),
            ));
        }
        let key = file_key(caller.id, name)?;
        let blobs = &self.inner.ports.blobs;
        if blobs.head(&key).await?.is_none() {
            return Err(AppError::NotFound("file"));
        }
        let lifetime = std::time::Duration::from_secs(expires_in);
        if let Some(url) = blobs.presign_get(&key, lifetime).await? {
            return Ok(FileUrl::Presigned(url));
        }
        let expires = self.now().timestamp() + i64::try_from(expires_in).unwrap_or(i64::MAX);
        let signature = hex::encode(self.url_signature(&key, expires));
        let encoded = percent_encode(name);
        Ok(FileUrl::Signed(format!(
            "/signed/files/{}/{encoded}?expires={expires}&signature={signature}",
            caller.id
        )))
    }

    /// Streams a file through a URL from [`App::file_url`]: no token, but the signature
    /// must match the key and the expiry, and the expiry must not have passed.
    ///
    /// # Errors
    /// `Forbidden` (bad signature or expired), `Validation`, `NotFound`, `Unavailable`.
    pub async fn download_signed_file(
        &self,
        owner: UserId,
        name: &str,
        expires: i64,
        signature: &str,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let key = file_key(owner, name)?;
        let presented = hex::decode(signature).unwrap_or_default();
        let mut mac = self.url_mac();
        mac.update(signed_message(&key, expires).as_bytes());
        // Constant-time comparison of the whole tag.
        if mac.verify_slice(&presented).is_err() {
            return Err(AppError::Forbidden("the signature does not match"));
        }
        if self.now().timestamp() > expires {
            return Err(AppError::Forbidden("the link has expired"));
        }
        self.open_file(&key, name, range).await
    }

    async fn open_file(
        &self,
        key: &BlobKey,
        name: &str,
        range: Option<RangeRequest>,
    ) -> AppResult<Download> {
        let download = self
            .open_blob(
                key,
                name.to_owned(),
                "application/octet-stream".into(),
                None,
                range,
            )
            .await;
        match download {
            Err(AppError::NotFound(_)) => Err(AppError::NotFound("file")),
            other => other,
        }
    }

    fn url_signature(&self, key: &BlobKey, expires: i64) -> Vec<u8> {
        let mut mac = self.url_mac();
        mac.update(signed_message(key, expires).as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A key of its own for URL signatures, derived from the token secret, so a URL
    /// signature can never be replayed as anything else.
    fn url_mac(&self) -> Hmac<Sha256> {
        let mut derive =
            Hmac::<Sha256>::new_from_slice(self.inner.settings.auth.jwt_secret.as_bytes())
                .unwrap_or_else(|_| unreachable_mac());
        derive.update(b"triage file download urls v1");
        let key = derive.finalize().into_bytes();
        Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|_| unreachable_mac())
    }
}

/// HMAC accepts keys of any length; this is never reached.
fn unreachable_mac() -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    Hmac::<Sha256>::new_from_slice(b"x").expect("HMAC takes any key length")
}

fn signed_message(key: &BlobKey, expires: i64) -> String {
    format!("{}\n{expires}", key.as_str())
}

fn file_exists(name: &str) -> AppError {
    AppError::Conflict {
        code: "file_exists",
        message: format!("a file named {name:?} exists; send overwrite=true to replace it"),
    }
}

/// The key of a user's file, after the api.md name rules: 1–255 bytes, no `/`, `\`, NUL or
/// `..`.
fn file_key(owner: UserId, name: &str) -> AppResult<BlobKey> {
    let refuse = |message: &str| Err(AppError::field("filename", message));
    if name.is_empty() || name.len() > 255 {
        return refuse("must be 1 to 255 bytes");
    }
    if name.contains(['/', '\\', '\0']) || name.contains("..") {
        return refuse("must not contain '/', '\\', NUL or '..'");
    }
    if name.chars().any(char::is_control) || name.trim() != name || name == "." {
        return refuse("must not contain control characters or surrounding spaces");
    }
    BlobKey::parse(format!("{}{name}", user_files_prefix(owner)))
        .or_else(|err| refuse(&err.to_string()))
}

/// Percent-encodes a file name for a URL path segment (RFC 3986 unreserved stay as is).
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_rules() {
        let owner = UserId::random();
        for bad in [
            "",
            "a/b",
            "a\\b",
            "a\0b",
            "..",
            "x..y",
            " lead",
            "tab\t",
            &"a".repeat(256),
        ] {
            assert!(file_key(owner, bad).is_err(), "{bad:?}");
        }
        for good in [
            "report.xlsx",
            "исследование 1.zip",
            "a.b-c_d",
            &"я".repeat(127),
        ] {
            let key = file_key(owner, good).unwrap();
            assert_eq!(key.as_str(), format!("files/{owner}/{good}"));
        }
    }

    #[test]
    fn names_are_encoded_for_a_path_segment() {
        assert_eq!(percent_encode("a b+c.zip"), "a%20b%2Bc.zip");
        assert_eq!(percent_encode("я"), "%D1%8F");
    }
}
