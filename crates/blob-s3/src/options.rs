//! [`S3Options`]: where the store is and how to talk to it, checked before any request.

use std::fmt;
use std::time::Duration;

use triage_domain::{DomainError, DomainResult};

/// S3's smallest part size (every part but the last must be at least this big).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// S3's largest part size.
pub const MAX_PART_SIZE: usize = 5 * 1024 * 1024 * 1024;
/// The default part size of streamed uploads.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// The default time limit of one S3 request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// The default signing region.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How to reach the bucket. `Debug` never shows the secret key.
#[derive(Clone)]
pub struct S3Options {
    /// `http://host:port`, `https://host`, or a bare `host:port` (which means `http://`).
    pub endpoint: String,
    pub bucket: String,
    /// The SigV4 signing region; must match the server's (MinIO and s3s-fs accept any,
    /// Garage wants its `s3_region`).
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Create the bucket in [`S3BlobStore::connect`](crate::S3BlobStore::connect) when it is
    /// missing.
    pub create_bucket: bool,
    /// Time limit of each S3 request. For streamed downloads it bounds the wait for the
    /// response and then every gap between two chunks, not the whole transfer.
    pub request_timeout: Duration,
    /// Part size of multipart uploads (5 MiB – 5 GiB); smaller bodies are one PUT.
    pub part_size: usize,
}

impl S3Options {
    /// Options with the defaults for everything but the address and the credentials.
    pub fn new(
        endpoint: impl Into<String>,
        bucket: impl Into<String>,
        access_key: impl Into<String>,
        secret_key: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            ..Self::default()
        }
    }

    /// The endpoint with its scheme (`http://` when none was given) and without a trailing
    /// slash.
    ///
    /// # Errors
    /// `Invalid` when it is empty, has another scheme, a path or user info.
    pub fn endpoint_url(&self) -> DomainResult<String> {
        let raw = self.endpoint.trim();
        let bad = |reason: &str| Err(DomainError::invalid("s3.endpoint", reason));
        let (scheme, authority) = match raw.split_once("://") {
            Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
            None => ("http".to_owned(), raw),
        };
        let authority = authority.trim_end_matches('/');
        if scheme != "http" && scheme != "https" {
            return bad("the scheme must be http or https");
        }
        if authority.is_empty() {
            return bad("must name a host");
        }
        if authority.contains(['/', '?', '#', '@']) || authority.contains(char::is_whitespace) {
            return bad("must be scheme://host[:port], without a path or user info");
        }
        Ok(format!("{scheme}://{authority}"))
    }

    /// Checks every field.
    ///
    /// # Errors
    /// `Invalid` naming the first field that is wrong.
    pub fn validate(&self) -> DomainResult<()> {
        self.endpoint_url()?;
        let bad = |field, reason: &str| Err(DomainError::invalid(field, reason));
        if self.bucket.trim().is_empty() {
            return bad("s3.bucket", "must not be empty");
        }
        if self.region.trim().is_empty() {
            return bad("s3.region", "must not be empty");
        }
        if self.access_key.is_empty() || self.secret_key.is_empty() {
            return bad("s3.credentials", "access key and secret key are required");
        }
        if self.request_timeout.is_zero() {
            return bad("s3.request_timeout", "must be positive");
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return bad("s3.part_size", "must be between 5 MiB and 5 GiB");
        }
        Ok(())
    }
}

impl Default for S3Options {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            bucket: String::new(),
            region: DEFAULT_REGION.to_owned(),
            access_key: String::new(),
            secret_key: String::new(),
            create_bucket: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            part_size: DEFAULT_PART_SIZE,
        }
    }
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .field("create_bucket", &self.create_bucket)
            .field("request_timeout", &self.request_timeout)
            .field("part_size", &self.part_size)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_endpoint(endpoint: &str) -> S3Options {
        S3Options::new(endpoint, "b", "ak", "sk")
    }

    #[test]
    fn endpoints_get_a_scheme_and_lose_trailing_slashes() {
        for (given, url) in [
            ("127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("http://minio:9000/", "http://minio:9000"),
            ("HTTPS://s3.example.org", "https://s3.example.org"),
            (" localhost ", "http://localhost"),
        ] {
            assert_eq!(with_endpoint(given).endpoint_url().unwrap(), url);
        }
        for bad in [
            "",
            "ftp://host",
            "http://",
            "http://host/path",
            "http://u:p@host",
        ] {
            assert!(with_endpoint(bad).endpoint_url().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn fields_are_validated() {
        assert!(with_endpoint("h:1").validate().is_ok());
        let part_size = S3Options {
            part_size: MIN_PART_SIZE - 1,
            ..with_endpoint("h:1")
        };
        assert!(part_size.validate().is_err());
        let no_secret = S3Options::new("h:1", "b", "ak", "");
        assert!(no_secret.validate().is_err());
        let no_timeout = S3Options {
            request_timeout: Duration::ZERO,
            ..with_endpoint("h:1")
        };
        assert!(no_timeout.validate().is_err());
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", S3Options::new("h:1", "b", "AKID", "s3cr3t-value"));
        assert!(shown.contains("AKID"), "{shown}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
    }
}
