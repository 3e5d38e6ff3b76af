//! One watcher socket after the upgrade: the snapshot, then one frame per change, pings,
//! the idle timeout, client resync requests, and the close.
//!
//! Each socket is one task on its HTTP worker. Its queues are bounded: changes wait in the
//! hub's per-topic broadcast (a socket that falls behind is resynced instead of buffering),
//! outgoing frames in actix-ws's 32-message channel, and a send that cannot complete within
//! [`SEND_TIMEOUT`] (a client that stopped reading) drops the socket. A slow client therefore
//! only ever delays itself.

use std::convert::Infallible;
use std::time::Duration;

use actix_ws::{CloseCode, CloseReason, Message, MessageStream, Session};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep_until, timeout};
use triage_app::{AppResult, JobWatch, JobsWatch, WatchStep, WsSettings};

use super::frames::{RESYNC, is_resync_request, render};

/// A frame the client does not take within this long ends the socket.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the closing handshake may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// Client resync requests are answered at most this often (later ones are merged).
const RESYNC_GAP: Duration = Duration::from_millis(500);
/// After a snapshot failed (database unavailable), the next attempt.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// Clients only ever send `{"type": "resync"}`.
const MAX_CLIENT_FRAME: usize = 4096;

/// Close codes of api.md.
pub(crate) const CLOSE_UNAUTHENTICATED: u16 = 4401;
pub(crate) const CLOSE_FORBIDDEN: u16 = 4403;

/// What a socket watches: one job, or every job of a caller.
pub(super) trait Source {
    /// A terminal status (or a deletion) ends the socket.
    const ENDS_ON_TERMINAL: bool;
    async fn snapshot(&mut self) -> AppResult<Vec<WatchStep>>;
    async fn next(&mut self) -> WatchStep;
}

impl Source for JobWatch {
    const ENDS_ON_TERMINAL: bool = true;

    async fn snapshot(&mut self) -> AppResult<Vec<WatchStep>> {
        Ok(vec![JobWatch::snapshot(self).await?])
    }

    async fn next(&mut self) -> WatchStep {
        JobWatch::next(self).await
    }
}

impl Source for JobsWatch {
    const ENDS_ON_TERMINAL: bool = false;

    async fn snapshot(&mut self) -> AppResult<Vec<WatchStep>> {
        let frames = JobsWatch::snapshot(self).await?;
        Ok(frames.into_iter().map(WatchStep::Frame).collect())
    }

    async fn next(&mut self) -> WatchStep {
        JobsWatch::next(self).await
    }
}

/// Why a socket ends.
#[derive(Debug)]
enum End {
    /// The job reached a terminal status or was deleted: 1000.
    Done,
    /// Someone else's job: 4403.
    Forbidden,
    /// Nothing heard from the client for the idle timeout: 1001.
    Idle,
    /// The server is shutting down: 1001.
    Shutdown,
    /// The client sent a close frame (echoed back) or vanished.
    ClientLeft(Option<CloseReason>),
    /// The client does not read its frames: dropped without a goodbye.
    Stuck,
    /// A malformed or oversized client frame: 1002 / 1009.
    Protocol(CloseCode),
}

impl End {
    fn close_reason(self) -> Option<Option<CloseReason>> {
        let reason = |code, text: &str| {
            Some(Some(CloseReason {
                code,
                description: Some(text.to_owned()),
            }))
        };
        match self {
            Self::Done => reason(CloseCode::Normal, "done"),
            Self::Forbidden => reason(
                CloseCode::Other(CLOSE_FORBIDDEN),
                "this job belongs to another user",
            ),
            Self::Idle => reason(CloseCode::Away, "idle timeout"),
            Self::Shutdown => reason(CloseCode::Away, "server shutting down"),
            Self::ClientLeft(echo) => Some(echo),
            Self::Stuck => None,
            Self::Protocol(code) => reason(code, "bad frame"),
        }
    }
}

/// Serves one upgraded socket until it ends.
pub(super) async fn run<S: Source>(
    session: Session,
    stream: MessageStream,
    mut source: S,
    settings: WsSettings,
) {
    let mut stream = stream.max_frame_size(MAX_CLIENT_FRAME);
    let mut socket = Socket {
        session,
        settings,
        last_heard: Instant::now(),
        last_snapshot: None,
        resync_at: None,
    };
    let Err(end) = socket.drive(&mut stream, &mut source).await;
    drop(source);
    tracing::debug!(?end, "watcher socket ends");
    if let Some(reason) = end.close_reason() {
        close(socket.session, &mut stream, reason).await;
    }
}

/// Refuses an upgraded socket with a close code (a bad token: 4401).
pub(super) async fn refuse(session: Session, mut stream: MessageStream, code: u16, why: &str) {
    let reason = CloseReason {
        code: CloseCode::Other(code),
        description: Some(why.to_owned()),
    };
    close(session, &mut stream, Some(reason)).await;
}

/// Sends the close frame and waits (briefly) for the client's, so it sees a clean close.
async fn close(session: Session, stream: &mut MessageStream, reason: Option<CloseReason>) {
    let _ = timeout(CLOSE_TIMEOUT, async {
        if session.close(reason).await.is_ok() {
            while let Some(Ok(message)) = stream.recv().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
        }
    })
    .await;
}

struct Socket {
    session: Session,
    settings: WsSettings,
    /// Any frame from the client (pongs included) keeps the socket alive.
    last_heard: Instant,
    last_snapshot: Option<Instant>,
    /// A snapshot to take then: a client's request, or a retry after a failure.
    resync_at: Option<Instant>,
}

impl Socket {
    async fn drive<S: Source>(
        &mut self,
        stream: &mut MessageStream,
        source: &mut S,
    ) -> Result<Infallible, End> {
        self.snapshot(source).await?;
        let period = self.settings.ping_interval.max(Duration::from_millis(100));
        let mut ping = interval_at(Instant::now() + period, period);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let idle_at = self.last_heard + self.settings.idle_timeout;
            let resync_at = self.resync_at;
            tokio::select! {
                message = stream.recv() => self.client_said(message).await?,
                step = source.next() => match step {
                    WatchStep::Resync => {
                        self.send(RESYNC.to_owned()).await?;
                        self.snapshot(source).await?;
                    }
                    step => self.step::<S>(step).await?,
                },
                _ = ping.tick() => self.ping().await?,
                () = sleep_until(idle_at) => return Err(End::Idle),
                () = sleep_until(resync_at.unwrap_or(idle_at)), if resync_at.is_some() => {
                    self.resync_at = None;
                    self.snapshot(source).await?;
                }
            }
        }
    }

    async fn client_said(
        &mut self,
        message: Option<Result<Message, actix_ws::ProtocolError>>,
    ) -> Result<(), End> {
        let message = match message {
            None => return Err(End::ClientLeft(None)),
            Some(Err(actix_ws::ProtocolError::Overflow)) => {
                return Err(End::Protocol(CloseCode::Size));
            }
            Some(Err(_)) => return Err(End::Protocol(CloseCode::Protocol)),
            Some(Ok(message)) => message,
        };
        self.last_heard = Instant::now();
        match message {
            Message::Close(reason) => Err(End::ClientLeft(reason)),
            Message::Ping(payload) => {
                let pong = self.session.pong(&payload);
                outcome(timeout(SEND_TIMEOUT, pong).await)
            }
            Message::Text(text) if is_resync_request(&text) => {
                let now = Instant::now();
                let earliest = self.last_snapshot.map_or(now, |at| at + RESYNC_GAP);
                let at = earliest.max(now);
                self.resync_at = Some(self.resync_at.map_or(at, |due| due.min(at)));
                Ok(())
            }
            // Everything else is ignored.
            _ => Ok(()),
        }
    }

    /// Sends a fresh snapshot. A failure to read it is retried later rather than ending the
    /// socket (the database may come back).
    async fn snapshot<S: Source>(&mut self, source: &mut S) -> Result<(), End> {
        self.last_snapshot = Some(Instant::now());
        match source.snapshot().await {
            Ok(steps) => {
                for step in steps {
                    self.step::<S>(step).await?;
                }
                Ok(())
            }
            Err(err) => {
                tracing::warn!(error = %err, "watcher snapshot failed; retrying");
                self.resync_at = Some(Instant::now() + RETRY_AFTER);
                Ok(())
            }
        }
    }

    async fn step<S: Source>(&mut self, step: WatchStep) -> Result<(), End> {
        match step {
            WatchStep::Frame(frame) => {
                self.send(render(&frame).into_owned()).await?;
                if S::ENDS_ON_TERMINAL && frame.ends_watch() {
                    return Err(End::Done);
                }
                Ok(())
            }
            WatchStep::Forbidden => Err(End::Forbidden),
            // Only `next` yields these; handled by the caller.
            WatchStep::Resync => Ok(()),
            WatchStep::Closed => Err(End::Shutdown),
        }
    }

    async fn send(&mut self, text: String) -> Result<(), End> {
        outcome(timeout(SEND_TIMEOUT, self.session.text(text)).await)
    }

    async fn ping(&mut self) -> Result<(), End> {
        outcome(timeout(SEND_TIMEOUT, self.session.ping(b"")).await)
    }
}

fn outcome(
    sent: Result<Result<(), actix_ws::Closed>, tokio::time::error::Elapsed>,
) -> Result<(), End> {
    match sent {
        Ok(Ok(())) => Ok(()),
        Ok(Err(actix_ws::Closed)) => Err(End::ClientLeft(None)),
        Err(_) => Err(End::Stuck),
    }
}
