//! `JobEvents` across replicas with PostgreSQL LISTEN/NOTIFY.
//!
//! The store announces every job change itself, with `pg_notify` **inside the transaction that
//! makes the change** (`triage-store-diesel`), so a rolled-back change is never announced and a
//! committed one always is. [`PgJobEvents::publish`] is therefore a no-op.
//!
//! Each process holds **one dedicated listener connection** (never a pooled one: diesel-async
//! buffers notifications without bound until they are read, and `LISTEN` would leak to the
//! next user of a pooled connection). It is named `triage-listener` in `pg_stat_activity`.
//! Its notifications feed the in-process fan-out of `triage-events` (a bounded broadcast: a
//! subscriber that falls behind gets `Resync`). When the connection dies — or stops answering
//! the health check run after a quiet minute — the listener reconnects with exponential backoff
//! (100 ms … 10 s) and, once it listens again, sends `Resync` to every subscriber: whatever
//! was announced meanwhile is lost, and watchers must re-read.
//!
//! Depends on the domain, `triage-events`, diesel-async (PostgreSQL) and tokio.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, DropGuard};
use triage_domain::ports::{EventStream, JobEvents};
use triage_domain::{JobChange, JobEvent};
use triage_events::BroadcastEvents;

/// The NOTIFY channel. The store (`triage-store-diesel`, `pg.rs`) notifies on the same name
/// with the same payload: the JSON of a [`JobChange`].
pub const CHANNEL: &str = "triage_job_changes";
/// `application_name` of the listener connection.
pub const APPLICATION_NAME: &str = "triage-listener";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// After this long without a notification, the listener checks its connection.
const HEALTH_CHECK_AFTER: Duration = Duration::from_secs(60);
const HEALTH_CHECK_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
/// Events buffered per subscriber before it is told to resync.
const FANOUT_CAPACITY: usize = 1024;

/// Job events from every replica sharing the database. Cheap to clone; the listener stops when
/// the last clone is dropped.
#[derive(Clone)]
pub struct PgJobEvents {
    fanout: BroadcastEvents,
    listening: watch::Receiver<bool>,
    _listener: Arc<DropGuard>,
}

impl PgJobEvents {
    /// Starts the listener on the database at `url` (on the current tokio runtime). It keeps
    /// trying to connect in the background; see [`PgJobEvents::wait_listening`].
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn start(url: &str) -> Self {
        let fanout = BroadcastEvents::new(FANOUT_CAPACITY);
        let (state, listening) = watch::channel(false);
        let stop = CancellationToken::new();
        let listener = Listener {
            url: url.to_owned(),
            fanout: fanout.clone(),
            state,
        };
        let cancelled = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = cancelled.cancelled() => {}
                () = listener.run() => {}
            }
        });
        Self {
            fanout,
            listening,
            _listener: Arc::new(stop.drop_guard()),
        }
    }

    /// Whether the listener is connected and listening right now.
    pub fn is_listening(&self) -> bool {
        *self.listening.borrow()
    }

    /// Waits until the listener listens, at most `within`; returns whether it does.
    pub async fn wait_listening(&self, within: Duration) -> bool {
        let mut listening = self.listening.clone();
        matches!(
            tokio::time::timeout(within, listening.wait_for(|up| *up)).await,
            Ok(Ok(_))
        )
    }
}

#[async_trait]
impl JobEvents for PgJobEvents {
    /// The store already announced the change inside its transaction.
    async fn publish(&self, _change: JobChange) {}

    fn subscribe(&self) -> EventStream {
        self.fanout.subscribe()
    }
}

struct Listener {
    url: String,
    fanout: BroadcastEvents,
    state: watch::Sender<bool>,
}

impl Listener {
    /// Runs until cancelled: connect, listen until the connection fails, back off, repeat.
    async fn run(self) {
        let mut backoff = BACKOFF_START;
        let mut first = true;
        loop {
            match self.connect().await {
                Ok(conn) => {
                    backoff = BACKOFF_START;
                    self.state.send_replace(true);
                    if first {
                        tracing::info!("listening for job changes");
                    } else {
                        tracing::info!("listening for job changes again; watchers resync");
                    }
                    first = false;
                    // Anything announced while nobody listened is lost: re-read.
                    self.fanout.send(JobEvent::Resync);
                    self.listen(conn).await;
                    self.state.send_replace(false);
                }
                Err(err) => {
                    tracing::warn!(error = %err, retry_in = ?backoff, "job change listener cannot connect");
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    async fn connect(&self) -> Result<AsyncPgConnection, String> {
        let mut conn =
            match tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(&self.url))
                .await
            {
                Ok(Ok(conn)) => conn,
                Ok(Err(err)) => return Err(err.to_string()),
                Err(_) => return Err(format!("no connection within {CONNECT_TIMEOUT:?}")),
            };
        for sql in [
            format!("SET application_name = '{APPLICATION_NAME}'"),
            format!("LISTEN {CHANNEL}"),
        ] {
            diesel::sql_query(sql)
                .execute(&mut conn)
                .await
                .map_err(|err| err.to_string())?;
        }
        Ok(conn)
    }

    /// Forwards notifications until the connection fails.
    async fn listen(&self, mut conn: AsyncPgConnection) {
        loop {
            let next = {
                // Notifications wait in the connection's queue while the stream is not polled,
                // so dropping it for a health check loses nothing.
                let mut stream = std::pin::pin!(conn.notifications_stream());
                tokio::time::timeout(HEALTH_CHECK_AFTER, stream.next()).await
            };
            match next {
                Ok(Some(Ok(notification))) => self.forward(&notification.payload),
                Ok(Some(Err(err))) => {
                    tracing::warn!(error = %err, "job change listener lost its connection");
                    return;
                }
                Ok(None) => {
                    tracing::warn!("job change listener connection closed");
                    return;
                }
                Err(_quiet) => {
                    let check = diesel::sql_query("SELECT 1").execute(&mut conn);
                    if !matches!(
                        tokio::time::timeout(HEALTH_CHECK_TIMEOUT, check).await,
                        Ok(Ok(_))
                    ) {
                        tracing::warn!("job change listener connection does not answer");
                        return;
                    }
                }
            }
        }
    }

    fn forward(&self, payload: &str) {
        match serde_json::from_str::<JobChange>(payload) {
            Ok(change) => self.fanout.send(JobEvent::Changed(change)),
            Err(err) => {
                // Not ours, or a newer format: whatever it announced, watchers re-read.
                tracing::warn!(error = %err, "unreadable job change notification");
                self.fanout.send(JobEvent::Resync);
            }
        }
    }
}
