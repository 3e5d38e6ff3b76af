//! The one place where rust-s3 failures (and our own time limits) become [`DomainError`]s.
//!
//! Every S3 request goes through [`call`], which bounds it in time and turns its error into a
//! [`Failure`]. A caller that expects a particular answer (404 for a missing object, "already
//! owned by you" for a bucket) asks the `Failure`; anything else becomes
//! `Unavailable { service: "blobs" }` through `From<Failure> for DomainError`. Messages carry
//! the operation, the HTTP status and S3's error code, never a URL, header or credential.

use std::future::Future;
use std::time::Duration;

use s3::error::S3Error;
use triage_domain::DomainError;

/// The `service` of every `Unavailable` this adapter returns.
pub(crate) const SERVICE: &str = "blobs";

/// One S3 request that did not succeed.
#[derive(Debug)]
pub(crate) struct Failure {
    op: &'static str,
    status: Option<u16>,
    code: Option<String>,
    detail: String,
    /// A fault on our side (bad local input to rust-s3), not the store's.
    internal: bool,
}

impl Failure {
    fn new(op: &'static str, detail: impl Into<String>) -> Self {
        Self {
            op,
            status: None,
            code: None,
            detail: detail.into(),
            internal: false,
        }
    }

    fn timed_out(op: &'static str, limit: Duration) -> Self {
        Self::new(op, format!("no answer within {limit:?}"))
    }

    /// S3's error code (`NoSuchKey`, `BucketAlreadyOwnedByYou`, ...) when the server sent one.
    pub(crate) fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The server answered 404 for the object itself (not for a missing bucket). HEAD answers
    /// have no body, so a 404 without a code counts as a missing object too.
    pub(crate) fn is_missing_object(&self) -> bool {
        self.status == Some(404) && self.code() != Some("NoSuchBucket")
    }

    pub(crate) fn is_missing_bucket(&self) -> bool {
        self.status == Some(404) && self.code() == Some("NoSuchBucket")
    }

    /// The object changed under a conditional read (`If-Match` failed).
    pub(crate) fn is_precondition_failed(&self) -> bool {
        self.status == Some(412)
    }

    pub(crate) fn from_s3(op: &'static str, err: S3Error) -> Self {
        match err {
            S3Error::HttpFailWithBody(status, body) => {
                let code = xml_element(&body, "Code");
                let detail = match &code {
                    Some(code) => format!("HTTP {status} {code}"),
                    // 2xx here means a body rust-s3 refused (e.g. a wrong XML root).
                    None if (200..300).contains(&status) => {
                        format!("HTTP {status} with an unexpected body")
                    }
                    None => format!("HTTP {status}"),
                };
                Self {
                    status: Some(status),
                    code,
                    ..Self::new(op, detail)
                }
            }
            S3Error::HttpFail => Self::new(op, "the server answered with an error status"),
            S3Error::Reqwest(err) => {
                let err = err.without_url();
                let what = if err.is_timeout() {
                    "timed out"
                } else if err.is_connect() {
                    "cannot connect"
                } else if err.is_body() || err.is_decode() {
                    "the response body broke off"
                } else {
                    "request failed"
                };
                Self::new(op, with_cause(what, &err))
            }
            S3Error::Io(err) => Self::new(op, format!("I/O error: {err}")),
            S3Error::Utf8(_)
            | S3Error::FromUtf8(_)
            | S3Error::SerdeXml(_)
            | S3Error::ReqwestHeaderToStr(_)
            | S3Error::InvalidMultipartUploadsPagination(_) => {
                Self::new(op, format!("unexpected response: {err}"))
            }
            // Everything else is rust-s3 refusing what we handed it (a header, a URL, the
            // credentials): a bug or a misconfiguration on our side. The credential errors of
            // aws-creds name sources and variables, never values.
            other => Self {
                internal: true,
                ..Self::new(op, other.to_string())
            },
        }
    }
}

impl From<Failure> for DomainError {
    fn from(failure: Failure) -> Self {
        let detail = format!("{}: {}", failure.op, failure.detail);
        if failure.internal {
            DomainError::internal(format!("object store {detail}"))
        } else {
            DomainError::unavailable(SERVICE, detail)
        }
    }
}

/// Runs one S3 request with a time limit; `op` names it in errors ("head object", ...).
pub(crate) async fn call<T>(
    op: &'static str,
    limit: Duration,
    request: impl Future<Output = Result<T, S3Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(limit, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(Failure::from_s3(op, err)),
        Err(_) => Err(Failure::timed_out(op, limit)),
    }
}

/// `what`, followed by the innermost cause of `err` (e.g. "Connection refused (os error
/// 111)"); `err` must already be stripped of its URL.
fn with_cause(what: &str, err: &dyn std::error::Error) -> String {
    let mut cause = err.source();
    let mut innermost = None;
    while let Some(current) = cause {
        innermost = Some(current.to_string());
        cause = current.source();
    }
    match innermost {
        Some(innermost) => format!("{what}: {innermost}"),
        None => what.to_owned(),
    }
}

/// The text of the first `<name>…</name>` in an S3 error body.
fn xml_element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&format!("</{name}>"))?;
    let text = body[start..start + len].trim();
    // Codes are short identifiers; anything else is not worth repeating.
    let plausible = !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    plausible.then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_failures_keep_status_and_code_only() {
        let body = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code>\
                    <Message>The key does not exist</Message><Key>a/b</Key></Error>";
        let failure = Failure::from_s3("get object", S3Error::HttpFailWithBody(404, body.into()));
        assert!(failure.is_missing_object());
        assert_eq!(
            DomainError::from(failure),
            DomainError::unavailable(SERVICE, "get object: HTTP 404 NoSuchKey")
        );
        let bucket = "<Error><Code>NoSuchBucket</Code></Error>";
        let failure = Failure::from_s3("head", S3Error::HttpFailWithBody(404, bucket.into()));
        assert!(failure.is_missing_bucket() && !failure.is_missing_object());
        let empty = Failure::from_s3("head", S3Error::HttpFailWithBody(404, String::new()));
        assert!(empty.is_missing_object());
        let busy = Failure::from_s3("put", S3Error::HttpFailWithBody(503, "<html>".into()));
        assert!(matches!(
            DomainError::from(busy),
            DomainError::Unavailable { service: SERVICE, detail, .. } if detail == "put: HTTP 503"
        ));
    }

    #[test]
    fn local_faults_are_internal() {
        let failure = Failure::from_s3("presign", S3Error::MaxExpiry(1 << 30));
        assert!(matches!(
            DomainError::from(failure),
            DomainError::Internal(_)
        ));
    }

    #[tokio::test]
    async fn slow_calls_time_out() {
        let never = std::future::pending::<Result<(), S3Error>>();
        let failure = call("ping", Duration::from_millis(10), never)
            .await
            .unwrap_err();
        assert!(DomainError::from(failure).is_transient());
    }
}
