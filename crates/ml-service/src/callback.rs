//! Completion callbacks (ml-protocol.md §2): `POST callback_url` with the bearer token,
//! retried with exponential backoff and jitter on connection errors, timeouts, 408, 429 and
//! 5xx (honouring `Retry-After` in seconds), and given up after the policy's attempts.
//!
//! Any other answer ends the delivery: 2xx (delivered), 404 (triage no longer has the job — it
//! was deleted), 409 (triage already holds another outcome, or the job was cancelled), 401/403
//! (the tokens differ: a configuration error), other 4xx, 1xx/3xx (redirects are not
//! followed). Once the service is stopping, a waiting delivery makes one last attempt at once.

use std::time::Duration;

use rand::Rng;
use reqwest::header::RETRY_AFTER;
use reqwest::{Client, StatusCode, redirect};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::config::RetryPolicy;

/// How a delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// triage answered 2xx.
    Delivered,
    /// triage answered a final refusal (4xx, 3xx).
    Refused(u16),
    /// Every attempt failed transiently.
    GaveUp,
}

/// Sends completions. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Deliverer {
    client: Client,
    token: String,
    policy: RetryPolicy,
    stopping: CancellationToken,
}

impl Deliverer {
    pub fn new(
        token: String,
        policy: RetryPolicy,
        stopping: CancellationToken,
    ) -> Result<Self, String> {
        let client = Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.request_timeout)
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|err| format!("callback HTTP client: {err}"))?;
        Ok(Self {
            client,
            token,
            policy,
            stopping,
        })
    }

    /// Posts `body` to `url` until an answer ends it (see the module docs).
    pub async fn deliver(&self, url: &str, body: &Value) -> Delivery {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.policy.attempts || self.stopping.is_cancelled();
            let sent = self
                .client
                .post(url)
                .bearer_auth(&self.token)
                .json(body)
                .send()
                .await;
            let hint = match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(
                        attempt,
                        status = response.status().as_u16(),
                        "completion delivered"
                    );
                    return Delivery::Delivered;
                }
                Ok(response) if is_transient(response.status()) => {
                    let status = response.status().as_u16();
                    let hint = retry_after(&response);
                    tracing::warn!(attempt, status, "triage could not take the completion now");
                    hint
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    refused(status, &text);
                    return Delivery::Refused(status.as_u16());
                }
                Err(err) => {
                    let error = with_causes(&err);
                    tracing::warn!(attempt, error, "the completion callback failed");
                    None
                }
            };
            if last {
                tracing::error!(
                    attempts = attempt,
                    url,
                    "giving up on the completion callback; triage will dispatch the job again \
                     after its processing timeout"
                );
                return Delivery::GaveUp;
            }
            let delay = self.delay(attempt, hint);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stopping.cancelled() => {}
            }
        }
    }

    /// The wait after failed attempt `attempt` (1-based).
    fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let policy = &self.policy;
        let doubled = policy
            .initial_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let jitter = rand::thread_rng().gen_range(0.8..1.2);
        let backoff = doubled.mul_f64(jitter).min(policy.max_delay);
        match hint {
            Some(hint) => backoff.max(hint.min(policy.max_delay)),
            None => backoff,
        }
    }
}

/// The error and its causes (reqwest's own message hides them: "error sending request").
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Logs a final refusal, with what triage said (at most 300 characters).
fn refused(status: StatusCode, text: &str) {
    let said: String = text.chars().take(300).collect();
    let code = status.as_u16();
    match code {
        404 => tracing::warn!(
            status = code,
            said,
            "triage does not know the job (deleted?); the completion is dropped"
        ),
        409 => tracing::warn!(
            status = code,
            said,
            "triage refused the completion as a conflict (another outcome already, or cancelled)"
        ),
        401 | 403 => tracing::error!(
            status = code,
            said,
            "triage refused the token: ML_SERVICE_TOKEN differs between triage and triage-ml"
        ),
        _ => tracing::error!(status = code, said, "triage refused the completion"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_honour_longer_hints() {
        let policy = RetryPolicy {
            initial_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(120),
            ..RetryPolicy::default()
        };
        let deliverer = Deliverer::new("t".into(), policy, CancellationToken::new()).unwrap();
        let secs = |attempt, hint| deliverer.delay(attempt, hint).as_secs_f64();
        assert!((1.6..=2.4).contains(&secs(1, None)));
        assert!((6.4..=9.6).contains(&secs(3, None)));
        assert!((96.0..=120.0).contains(&secs(30, None)));
        assert!(secs(1, Some(Duration::from_secs(60))) >= 60.0);
        assert!(secs(1, Some(Duration::from_secs(9999))) <= 120.0);
    }
}
