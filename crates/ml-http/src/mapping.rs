//! The one place where the outcome of an HTTP call becomes the port's answer or a
//! [`DomainError`] (the table is in the crate docs). Every error text passes through
//! [`Call::scrub`], so the token never leaves this crate inside an error.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;
use triage_domain::DomainError;
use triage_domain::ports::{HealthReport, Submission};

use crate::wire;

/// The `service` named in errors.
pub(crate) const SERVICE: &str = "ml";

/// Longest service message quoted in an error, in characters.
const MAX_MESSAGE_CHARS: usize = 300;

/// One call being mapped: what it was and the limits it ran under.
pub(crate) struct Call<'a> {
    pub what: &'static str,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub token: &'a str,
}

impl Call<'_> {
    /// No usable answer: connection refused or reset, timeout, a body that broke off.
    pub(crate) fn transport(&self, err: reqwest::Error) -> DomainError {
        let detail = if err.is_connect() && err.is_timeout() {
            format!(
                "{}: no connection within {}",
                self.what,
                secs(self.connect_timeout)
            )
        } else if err.is_timeout() {
            format!("{}: no answer within {}", self.what, secs(self.timeout))
        } else if err.is_connect() {
            format!("{}: cannot connect ({})", self.what, causes(&err))
        } else {
            format!("{}: {}", self.what, causes(&err))
        };
        self.unavailable(detail, None)
    }

    /// The answer to `/infer`.
    pub(crate) fn submission(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Submission, DomainError> {
        match status.as_u16() {
            200 => wire::submission(body).map_err(|why| {
                self.unavailable(format!("{} answered 200 with {why}", self.what), None)
            }),
            201..=299 => Ok(Submission::Accepted),
            _ => Err(self.status_error(status, headers, body)),
        }
    }

    /// The answer to `/health`: healthy or `Unavailable`.
    pub(crate) fn health(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<HealthReport, DomainError> {
        if status != StatusCode::OK {
            let err = self.status_error(status, headers, body);
            return Err(match err {
                DomainError::Rejected { message, .. } => self.unavailable(
                    format!("{} answered {message}", self.what),
                    retry_after(headers),
                ),
                other => other,
            });
        }
        wire::health(body)
            .map_err(|why| self.unavailable(format!("{} reports {why}", self.what), None))
    }

    /// A status that is not a success: transient, permanent, or unexpected.
    fn status_error(&self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> DomainError {
        let code = status.as_u16();
        let message = service_message(body);
        let described = match &message {
            Some(message) => format!("{message} (HTTP {code})"),
            None => format!("HTTP {status}"),
        };
        if code == 408 || code == 429 || status.is_server_error() {
            self.unavailable(
                format!("{} answered {described}", self.what),
                retry_after(headers),
            )
        } else if status.is_client_error() {
            DomainError::Rejected {
                service: SERVICE,
                message: self.scrub(described),
            }
        } else {
            // 1xx/3xx: redirects are not followed; most likely a wrong ML_SERVICE_URL, which
            // an operator can fix without the jobs failing meanwhile.
            self.unavailable(
                format!("{} answered an unexpected {described}", self.what),
                retry_after(headers),
            )
        }
    }

    fn unavailable(&self, detail: String, retry_after_secs: Option<u64>) -> DomainError {
        DomainError::Unavailable {
            service: SERVICE,
            detail: self.scrub(detail),
            retry_after_secs,
        }
    }

    fn scrub(&self, text: String) -> String {
        if self.token.is_empty() || !text.contains(self.token) {
            text
        } else {
            text.replace(self.token, "[redacted]")
        }
    }
}

/// `Retry-After` as seconds from now: delta-seconds, or an HTTP date (a past date is 0).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(value.parse().unwrap_or(u64::MAX));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let ahead = at.duration_since(SystemTime::now()).unwrap_or_default();
    Some(ahead.as_secs() + u64::from(ahead.subsec_nanos() > 0))
}

/// What the service said: `detail` / `message` / `error` of a JSON body (FastAPI's validation
/// list made readable), else the text of the body; whitespace collapsed, truncated.
pub(crate) fn service_message(body: &[u8]) -> Option<String> {
    let raw = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => ["detail", "message", "error"]
            .iter()
            .find_map(|key| object.get(*key).and_then(json_text))
            .unwrap_or_else(|| Value::Object(object).to_string()),
        Ok(Value::String(text)) => text,
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        return None;
    }
    Some(match collapsed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &collapsed[..at]),
        None => collapsed,
    })
}

fn json_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        // FastAPI: [{"loc": ["body", "threshold"], "msg": "...", "type": "..."}]
        Value::Array(items) if items.iter().all(|i| i.get("msg").is_some()) => Some(
            items
                .iter()
                .map(|item| {
                    let msg = item.get("msg").and_then(Value::as_str).unwrap_or_default();
                    match item.get("loc").and_then(Value::as_array) {
                        Some(loc) if !loc.is_empty() => {
                            let loc: Vec<String> = loc
                                .iter()
                                .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_owned))
                                .collect();
                            format!("{}: {msg}", loc.join("."))
                        }
                        _ => msg.to_owned(),
                    }
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => Some(other.to_string()),
    }
}

/// The error and its sources, without the URL (it may carry credentials).
fn causes(err: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    match parts.pop() {
        // The innermost cause is the useful one ("Connection refused (os error 111)").
        Some(inner) => inner,
        None => "request failed".into(),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn call(token: &str) -> Call<'_> {
        Call {
            what: "POST /infer",
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            token,
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 120 "));
        assert_eq!(retry_after(&headers), Some(120));
        let soon = SystemTime::now() + Duration::from_secs(30);
        let date = httpdate::fmt_http_date(soon);
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let secs = retry_after(&headers).unwrap();
        assert!((29..=31).contains(&secs), "{secs}");
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(0));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn messages_come_from_json_or_text_and_are_bounded() {
        assert_eq!(
            service_message(br#"{"detail":"unknown profile 'x'"}"#).as_deref(),
            Some("unknown profile 'x'")
        );
        assert_eq!(
            service_message(br#"{"error":"bad", "message": null}"#).as_deref(),
            Some("bad")
        );
        let fastapi = br#"{"detail":[{"loc":["body","threshold"],"msg":"not a float"}]}"#;
        assert_eq!(
            service_message(fastapi).as_deref(),
            Some("body.threshold: not a float")
        );
        assert_eq!(
            service_message(b"  no\n such   job ").as_deref(),
            Some("no such job")
        );
        assert_eq!(service_message(b""), None);
        let long = service_message("é".repeat(5000).as_bytes()).unwrap();
        assert_eq!(long.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn the_token_is_scrubbed_from_every_error() {
        let body = br#"{"detail":"token s3cret-token is not valid"}"#;
        let err = call("s3cret-token").status_error(StatusCode::FORBIDDEN, &HeaderMap::new(), body);
        assert!(matches!(err, DomainError::Rejected { .. }));
        assert!(!err.to_string().contains("s3cret-token"), "{err}");
        let err =
            call("s3cret-token").status_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), body);
        assert!(err.is_transient());
        assert!(!err.to_string().contains("s3cret-token"), "{err}");
    }

    #[test]
    fn statuses_map_to_transient_or_permanent() {
        let headers = HeaderMap::new();
        for code in [408, 429, 500, 502, 503, 504, 301, 307] {
            let status = StatusCode::from_u16(code).unwrap();
            let err = call("").submission(status, &headers, b"").unwrap_err();
            assert!(err.is_transient(), "{code}: {err:?}");
        }
        for code in [400, 401, 403, 404, 409, 413, 422] {
            let status = StatusCode::from_u16(code).unwrap();
            let err = call("").submission(status, &headers, b"").unwrap_err();
            assert!(
                matches!(err, DomainError::Rejected { .. }),
                "{code}: {err:?}"
            );
        }
        for code in [201, 202, 204] {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(
                call("").submission(status, &headers, b"whatever"),
                Ok(Submission::Accepted)
            );
        }
    }
}
