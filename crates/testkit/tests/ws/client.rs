//! A WebSocket client that reads like the socket's users, and helpers that change jobs the way
//! the application does (store write, then publish) without waiting for the analysis.

use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};
use triage_app::App;
use triage_domain::{ChangeKind, Job, JobChange, JobId, JobStatus, UserId};
use triage_testkit::TestApp;

/// The failure bound of every wait: generous, never slept.
pub const WAIT: Duration = Duration::from_secs(5);

/// A server for these tests: no dispatcher, so job statuses change only when a test says so.
pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut triage_server::Config)) -> TestApp {
    TestApp::spawn_with(|config| {
        config.ml.dispatch = false;
        tweak(config);
    })
    .await
}

/// How a socket presents its token.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Anonymous,
    Query(&'a str),
    Header(&'a str),
    /// `Sec-WebSocket-Protocol: bearer, <token>`
    Protocol(&'a str),
}

/// What the socket delivered next.
#[derive(Debug)]
pub enum Event {
    Frame(Value),
    /// A close frame with this code (`None`: a close frame without one).
    Closed(Option<u16>),
    /// The connection ended without a close frame, or broke (why, for failure messages).
    Gone(#[allow(dead_code)] String),
}

pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The subprotocol the server chose in the handshake.
    pub protocol: Option<String>,
}

impl Socket {
    /// Opens `path` (e.g. `/api/ws/jobs/<id>`) on `app`.
    pub async fn open(app: &TestApp, path: &str, auth: Auth<'_>) -> Socket {
        Self::try_open(app, path, auth)
            .await
            .unwrap_or_else(|err| panic!("cannot open {path}: {err}"))
    }

    pub async fn try_open(
        app: &TestApp,
        path: &str,
        auth: Auth<'_>,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let mut url = format!("{}{path}", app.base.replacen("http://", "ws://", 1));
        if let Auth::Query(token) = auth {
            url.push_str(&format!("?token={token}"));
        }
        let mut request = url.into_client_request().unwrap();
        match auth {
            Auth::Header(token) => {
                let value = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
                request.headers_mut().insert(header::AUTHORIZATION, value);
            }
            Auth::Protocol(token) => {
                let value = HeaderValue::from_str(&format!("bearer, {token}")).unwrap();
                request
                    .headers_mut()
                    .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
            }
            Auth::Anonymous | Auth::Query(_) => {}
        }
        let (ws, response) = tokio::time::timeout(WAIT, connect_async(request))
            .await
            .expect("handshake within the wait")?;
        let protocol = response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .map(|value| value.to_str().unwrap().to_owned());
        Ok(Socket { ws, protocol })
    }

    /// The next frame, close or end, within `within`; `None` if nothing came.
    pub async fn event_within(&mut self, within: Duration) -> Option<Event> {
        tokio::time::timeout(within, self.next_event()).await.ok()
    }

    /// The next frame, close or end (pings and pongs are answered and skipped).
    pub async fn event(&mut self) -> Event {
        self.event_within(WAIT)
            .await
            .expect("the socket said something within the wait")
    }

    async fn next_event(&mut self) -> Event {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    return Event::Frame(serde_json::from_str(text.as_str()).unwrap());
                }
                Some(Ok(Message::Close(frame))) => {
                    return Event::Closed(frame.map(|frame| u16::from(frame.code)));
                }
                Some(Ok(Message::Binary(_))) => panic!("the server sends text frames only"),
                Some(Ok(_)) => continue,
                Some(Err(err)) => return Event::Gone(err.to_string()),
                None => return Event::Gone("end of stream".into()),
            }
        }
    }

    /// The next frame, which must be a JSON text frame.
    pub async fn frame(&mut self) -> Value {
        match self.event().await {
            Event::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next `job.update` frame's job.
    pub async fn update(&mut self) -> Value {
        let frame = self.frame().await;
        assert_eq!(frame["type"], "job.update", "{frame}");
        frame["job"].clone()
    }

    /// The close code of the close frame that must come next.
    pub async fn close_code(&mut self) -> u16 {
        match self.event().await {
            Event::Closed(Some(code)) => code,
            other => panic!("expected a close frame with a code, got {other:?}"),
        }
    }

    /// Nothing arrives for `quiet` (the socket stays open and silent).
    pub async fn stays_quiet(&mut self, quiet: Duration) {
        if let Some(event) = self.event_within(quiet).await {
            panic!("expected silence, got {event:?}");
        }
    }

    pub async fn send_json(&mut self, value: Value) {
        self.ws
            .send(Message::text(value.to_string()))
            .await
            .unwrap();
    }
}

/// Polls `check` until it holds; fails after [`WAIT`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn job_id(id: &str) -> JobId {
    id.parse().unwrap()
}

/// Moves a job to `to` through the state machine, as the use cases do: store write, then
/// publish (a no-op where the store announces changes itself).
pub async fn move_job(app: &App, id: &str, to: JobStatus) -> Job {
    let ports = app.ports();
    let mut job = ports.jobs.get(job_id(id)).await.unwrap().unwrap();
    job.transition(to, Some(format!("test moved it to {to}")), Utc::now())
        .unwrap();
    let stored = ports.jobs.update(&job).await.unwrap();
    publish(app, &stored, ChangeKind::Updated).await;
    stored
}

/// Creates a job row with a chosen id (as an upload would, without the upload).
pub async fn create_job(app: &App, owner: &str, id: JobId) -> Job {
    let owner: UserId = owner.parse().unwrap();
    let mut new = triage_testkit::contract::jobs::new_job(owner, Utc::now());
    new.id = id;
    let job = app.ports().jobs.create(new).await.unwrap();
    publish(app, &job, ChangeKind::Created).await;
    job
}

async fn publish(app: &App, job: &Job, kind: ChangeKind) {
    let change = JobChange {
        job_id: job.id,
        owner_id: job.owner_id,
        kind,
        status: job.status,
        version: job.version,
    };
    app.ports().events.publish(change).await;
}

/// The fields of a status-only frame, in order.
pub const STATUS_ONLY: [&str; 5] = [
    "id",
    "status",
    "status_reason",
    "updated_at",
    "completed_at",
];

/// Asserts that `job` is a status-only job: exactly [`STATUS_ONLY`].
pub fn assert_status_only(job: &Value) {
    let keys: Vec<&str> = job
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {job}"))
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, STATUS_ONLY, "{job}");
}
