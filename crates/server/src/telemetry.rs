//! Logging: human-readable in development, JSON lines in production.
//!
//! actix-http logs every connection it refuses (a malformed request line or header, a client
//! that vanished mid-request) at ERROR, so anyone could flood the error log with a few bytes.
//! Those events are kept out of the log and counted instead; [`ConnectionErrorReport`]
//! summarises them at WARN at most once per [`REPORT_PERIOD`]. (A subscriber cannot log from
//! inside its own event handling, hence the count and the periodic report.)

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogConfig, LogFormat};

/// How often refused connections are summarised, at most.
pub const REPORT_PERIOD: Duration = Duration::from_secs(60);

/// Refused connections since the last report, and the last reason.
static REFUSED: AtomicU64 = AtomicU64::new(0);
static LAST_REASON: Mutex<String> = Mutex::new(String::new());

/// The framework's per-connection errors: caused by clients, not by triage.
fn is_connection_error(meta: &Metadata<'_>) -> bool {
    *meta.level() == tracing::Level::ERROR
        && matches!(
            meta.target(),
            "actix_http::h1::dispatcher" | "actix_http::h1::decoder" | "actix_http::h2::dispatcher"
        )
}

/// Counts [`is_connection_error`] events (the formatting layer does not see them).
struct CountConnectionErrors;

impl<S: Subscriber> Layer<S> for CountConnectionErrors {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !is_connection_error(event.metadata()) {
            return;
        }
        REFUSED.fetch_add(1, Ordering::Relaxed);
        let mut reason = Message(String::new());
        event.record(&mut reason);
        if let Ok(mut last) = LAST_REASON.lock() {
            *last = reason.0;
        }
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

/// Logs (at WARN) how many connections were refused since the last call, if any, and returns
/// that number. The periodic report calls it; so can tests.
pub fn report_connection_errors() -> u64 {
    let count = REFUSED.swap(0, Ordering::Relaxed);
    if count > 0 {
        let last = LAST_REASON.lock().map(|r| r.clone()).unwrap_or_default();
        tracing::warn!(
            count,
            last,
            "refused malformed or broken HTTP connections (summarised)"
        );
    }
    count
}

/// The periodic report, as a task that ends when this value is dropped.
pub struct ConnectionErrorReport(tokio::task::JoinHandle<()>);

impl ConnectionErrorReport {
    pub fn spawn() -> Self {
        Self(tokio::spawn(async {
            let mut tick = tokio::time::interval(REPORT_PERIOD);
            loop {
                tick.tick().await;
                report_connection_errors();
            }
        }))
    }
}

impl Drop for ConnectionErrorReport {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(config: &LogConfig) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.filter));
    let quiet = filter_fn(|meta| !is_connection_error(meta));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(CountConnectionErrors);
    let _ = match config.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_filter(quiet),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().with_filter(quiet))
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn connection_errors_are_counted_and_summarised_not_logged() {
        let subscriber = tracing_subscriber::registry().with(CountConnectionErrors);
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..3 {
                tracing::error!(target: "actix_http::h1::dispatcher", "stream error: bad header");
            }
            tracing::error!(target: "triage_api", "a real error");
            tracing::warn!(target: "actix_http::h1::dispatcher", "not an error");
        });
        assert_eq!(report_connection_errors(), 3);
        assert_eq!(report_connection_errors(), 0);
        assert!(LAST_REASON.lock().unwrap().contains("bad header"));
    }
}
