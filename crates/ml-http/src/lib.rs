//! `HttpInference`: the [`Inference`] port over HTTP, i.e. triage's side of ml-protocol.md §1.
//! It hands a job to a separate ML service with `POST {base}/infer` and asks it
//! `GET {base}/health`; results come back by callback (handled elsewhere) or, for synchronous
//! services, as the `/infer` answer itself.
//!
//! It may depend on `triage-domain` (the port and its error), `reqwest` (plain HTTP: the
//! workspace builds reqwest without TLS, so an `https` base URL is refused up front rather than
//! failing every call), `serde`/`serde_json` (the wire bodies), `async-trait`, and `httpdate`
//! (dates in `Retry-After`). Nothing above the port ever sees a reqwest type.
//!
//! Every way a call can end becomes the port's answer in one place, `mapping.rs`:
//!
//! | `/infer` outcome | answer |
//! |---|---|
//! | 202 (any 2xx but 200) | `Submission::Accepted` |
//! | 200, empty body or `status` accepted/queued/pending/processing… | `Submission::Accepted` |
//! | 200, `status` succeeded/completed/done/failed/error… | `Submission::Completed` from the body |
//! | 200 with a body that is not such JSON | `Unavailable` (see below) |
//! | 408, 429, 5xx, connect errors, timeouts, broken bodies | `Unavailable { retry_after_secs }` from `Retry-After` (seconds or HTTP date) |
//! | other 4xx | `Rejected { message }`: the service's `detail`/`message`/`error` or text, truncated |
//! | 1xx, 3xx (redirects are not followed) | `Unavailable`: a misconfigured URL must not fail jobs |
//!
//! A 200 whose body cannot be understood is `Unavailable`, not `Rejected`: the service did not
//! refuse the job, the answer is more likely mangled on the way (a proxy, a truncated body) than a
//! verdict, and dispatching again is safe because completions are idempotent. The job waits and is
//! retried until the dispatch deadline instead of failing on a garbled answer.
//!
//! The bearer token is sent only in the `Authorization` header (none when the token is empty). It
//! is redacted in `Debug`, never logged, and scrubbed from every error text, since a service may
//! echo it back in its messages.

mod mapping;
mod wire;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Client, RequestBuilder, Response, Url, redirect};
use triage_domain::ports::{HealthReport, Inference, InferenceRequest, Submission};
use triage_domain::{DomainError, DomainResult};

use crate::mapping::Call;

/// Largest answer body read; completions and error messages are small.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where the service is and how long to wait for it.
#[derive(Clone, PartialEq)]
pub struct HttpInferenceOptions {
    /// `ML_SERVICE_URL`, e.g. `http://ml:8001`. A path is kept: `http://gw/ml` →
    /// `http://gw/ml/infer`.
    pub base_url: String,
    /// `ML_SERVICE_TOKEN`, sent as `Authorization: Bearer …`; empty: no header at all.
    pub token: String,
    /// The bucket named in `/infer` bodies.
    pub bucket: String,
    /// Whole `/infer` call, answer included: synchronous services may take minutes.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Whole `/health` call.
    pub health_timeout: Duration,
}

impl HttpInferenceOptions {
    /// No token, bucket `uploads`, timeouts 600 s (request), 5 s (connect), 2 s (health).
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            token: String::new(),
            bucket: "uploads".into(),
            request_timeout: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(5),
            health_timeout: Duration::from_secs(2),
        }
    }
}

impl fmt::Debug for HttpInferenceOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.is_empty() {
            "<unset>"
        } else {
            "<redacted>"
        };
        f.debug_struct("HttpInferenceOptions")
            .field("base_url", &self.base_url)
            .field("token", &token)
            .field("bucket", &self.bucket)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("health_timeout", &self.health_timeout)
            .finish()
    }
}

/// The [`Inference`] port spoken over HTTP to a remote ML service.
#[derive(Debug, Clone)]
pub struct HttpInference {
    client: Client,
    infer_url: Url,
    health_url: Url,
    options: HttpInferenceOptions,
}

impl HttpInference {
    /// Checks the options and builds the HTTP client (no request is made).
    ///
    /// # Errors
    /// - `Invalid` for a base URL that is not an absolute `http://` URL (https needs a TLS
    ///   stack this build leaves out), or a zero timeout.
    /// - `Internal` if the HTTP client cannot be built.
    pub fn new(options: HttpInferenceOptions) -> DomainResult<Self> {
        let base = Url::parse(options.base_url.trim())
            .map_err(|err| DomainError::invalid("ml base_url", err.to_string()))?;
        if base.scheme() != "http" {
            return Err(DomainError::invalid(
                "ml base_url",
                "must be an http:// URL (https is not built in: terminate TLS in front of the \
                 service or reach it inside the cluster)",
            ));
        }
        if base.query().is_some() || base.fragment().is_some() {
            return Err(DomainError::invalid(
                "ml base_url",
                "must not have a query or a fragment",
            ));
        }
        for (name, value) in [
            ("ml request_timeout", options.request_timeout),
            ("ml connect_timeout", options.connect_timeout),
            ("ml health_timeout", options.health_timeout),
        ] {
            if value.is_zero() {
                return Err(DomainError::invalid(name, "must be more than 0"));
            }
        }
        let join = |path: &str| {
            let joined = format!("{}/{path}", base.as_str().trim_end_matches('/'));
            Url::parse(&joined).map_err(|err| DomainError::invalid("ml base_url", err.to_string()))
        };
        let infer_url = join("infer")?;
        let health_url = join("health")?;
        let client = Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|err| DomainError::internal(format!("ml http client: {err}")))?;
        Ok(Self {
            client,
            infer_url,
            health_url,
            options,
        })
    }

    pub fn options(&self) -> &HttpInferenceOptions {
        &self.options
    }

    fn authorized(&self, builder: RequestBuilder) -> RequestBuilder {
        if self.options.token.is_empty() {
            builder
        } else {
            builder.bearer_auth(&self.options.token)
        }
    }

    fn call(&self, what: &'static str, timeout: Duration) -> Call<'_> {
        Call {
            what,
            timeout,
            connect_timeout: self.options.connect_timeout,
            token: &self.options.token,
        }
    }
}

#[async_trait]
impl Inference for HttpInference {
    async fn submit(&self, request: &InferenceRequest) -> DomainResult<Submission> {
        let call = self.call("POST /infer", self.options.request_timeout);
        let body = wire::InferBody::new(request, &self.options.bucket);
        let sent = self
            .authorized(self.client.post(self.infer_url.clone()))
            .json(&body)
            .send()
            .await;
        let response = sent.map_err(|err| call.transport(err))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_answer(response, status.is_success(), &call).await?;
        call.submission(status, &headers, &body)
    }

    async fn health(&self) -> DomainResult<HealthReport> {
        let call = self.call("GET /health", self.options.health_timeout);
        let sent = self
            .authorized(self.client.get(self.health_url.clone()))
            .timeout(self.options.health_timeout)
            .send()
            .await;
        let response = sent.map_err(|err| call.transport(err))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = read_answer(response, status.is_success(), &call).await?;
        call.health(status, &headers, &body)
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`] of the answer. A body that breaks off matters only for a
/// success (its content is the answer); for an error status the status alone decides.
async fn read_answer(
    mut response: Response,
    needed: bool,
    call: &Call<'_>,
) -> DomainResult<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_ANSWER_BYTES - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_ANSWER_BYTES {
                    return Ok(body);
                }
            }
            Ok(None) => return Ok(body),
            Err(err) if needed => return Err(call.transport(err)),
            Err(_) => return Ok(body),
        }
    }
}
