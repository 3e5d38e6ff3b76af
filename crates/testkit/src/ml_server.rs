//! `ScriptedMl`: a real HTTP ML service on a free 127.0.0.1 port, speaking the service side of
//! ml-protocol.md and doing, per `/infer` call, whatever the test scripted: accept and call back
//! (later, twice, before answering, with a bad token, after writing garbage), answer
//! synchronously, fail with 503/429/4xx (with `Retry-After`), hang, or refuse connections
//! altogether ([`ScriptedMl::stop`] / [`ScriptedMl::restart`] on the same port).
//!
//! Reports go through the `BlobStore` the test gives it (the one triage uses), at the
//! `output_object` the request named. Everything is recorded: every `/infer` request, per job
//! the number of calls, of successful (2xx) ones and the most that were in flight at once, and
//! every callback with triage's answer.
//!
//! Which [`Behaviour`] a call gets: the job's queue ([`ScriptedMl::script_job`]), else the
//! global queue ([`ScriptedMl::push`]), else the script ([`ScriptedMl::script_with`]), else the
//! default ([`ScriptedMl::set_default`]; initially `Behaviour::default()`: 202, then a valid
//! completion 50 ms later).
//!
//! Works from `#[tokio::test]` (current-thread or not): actix's workers run on their own
//! threads; reports and callbacks run on the runtime that called [`ScriptedMl::start`].

mod behaviour;
mod delivery;
mod service;

use std::fmt::Display;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use serde_json::Value;
use tokio::net::TcpSocket;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use triage_domain::ports::BlobStore;

pub use behaviour::{
    Behaviour, CallbackAt, CallbackAuth, GARBAGE_REPORT, Outcome, Reply, sample_rows,
};
pub use delivery::CallbackRecord;
pub use service::InferCall;

use service::{Inner, State};

struct Running {
    handle: ServerHandle,
    task: JoinHandle<io::Result<()>>,
}

/// A scripted ML service; see the module docs. Stops when dropped.
pub struct ScriptedMl {
    inner: Arc<Inner>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
    /// While stopped: the port, bound but not listening, so connecting is refused and nobody
    /// else takes it.
    reserved: Mutex<Option<TcpSocket>>,
}

impl ScriptedMl {
    /// Starts serving on a free port. `token` is what it sends on callbacks (and, with
    /// [`ScriptedMl::set_require_token`], expects on `/infer`).
    ///
    /// # Panics
    /// If no port can be bound.
    pub async fn start(store: Arc<dyn BlobStore>, token: impl Into<String>) -> Self {
        let ml = Self::start_stopped(store, token).await;
        ml.restart().await;
        ml
    }

    /// Like [`ScriptedMl::start`], but refusing connections until [`ScriptedMl::restart`]:
    /// the port is known (for triage's config) before anything listens on it.
    ///
    /// # Panics
    /// If no port can be bound.
    pub async fn start_stopped(store: Arc<dyn BlobStore>, token: impl Into<String>) -> Self {
        let socket = bound(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).expect("bind a port");
        let addr = socket.local_addr().expect("bound address");
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let inner = Arc::new(Inner {
            state: Mutex::new(State::default()),
            store,
            token: token.into(),
            client,
            runtime: Handle::current(),
        });
        Self {
            inner,
            addr,
            running: Mutex::new(None),
            reserved: Mutex::new(Some(socket)),
        }
    }

    /// `http://127.0.0.1:{port}`: triage's `ML_SERVICE_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn token(&self) -> &str {
        &self.inner.token
    }

    pub fn store(&self) -> &Arc<dyn BlobStore> {
        &self.inner.store
    }

    pub fn is_running(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// Stops at once (calls in progress are cut off); from now on connecting is refused.
    pub async fn stop(&self) {
        let running = lock(&self.running).take();
        if let Some(running) = running {
            running.handle.stop(false).await;
            let _ = tokio::time::timeout(Duration::from_secs(10), running.task).await;
        }
        if lock(&self.reserved).is_none() {
            let socket = bound_soon(self.addr).await;
            *lock(&self.reserved) = socket;
        }
    }

    /// Serves again on the same port (after [`ScriptedMl::stop`] or
    /// [`ScriptedMl::start_stopped`]); does nothing if running. Scripts and records are kept.
    ///
    /// # Panics
    /// If the port cannot be listened on again.
    pub async fn restart(&self) {
        if self.is_running() {
            return;
        }
        let reserved = lock(&self.reserved).take();
        let socket = match reserved {
            Some(socket) => socket,
            None => bound_soon(self.addr).await.expect("the port is free again"),
        };
        let listener = socket.listen(1024).expect("listen");
        let listener = listener.into_std().expect("std listener");
        let running = serve(self.inner.clone(), listener).expect("serve");
        *lock(&self.running) = Some(running);
    }

    // ------------------------------------------------------------------ scripting

    /// The behaviour of calls nothing else was scripted for.
    pub fn set_default(&self, behaviour: Behaviour) {
        self.inner.state().default = behaviour;
    }

    /// The next call (of any job) without a job-specific script behaves so.
    pub fn push(&self, behaviour: Behaviour) {
        self.inner.state().global.push_back(behaviour);
    }

    /// The next `n` calls behave so.
    pub fn push_n(&self, n: usize, behaviour: Behaviour) {
        let mut state = self.inner.state();
        state.global.extend(std::iter::repeat_n(behaviour, n));
    }

    /// The next calls for `job` behave so, in order.
    pub fn script_job(&self, job: impl Display, behaviours: impl IntoIterator<Item = Behaviour>) {
        let mut state = self.inner.state();
        let entry = state.jobs.entry(job.to_string()).or_default();
        entry.queue.extend(behaviours);
    }

    /// Decides for calls no queue scripted; `None` falls back to the default. Runs on the
    /// server's threads, without the state lock: it may not block.
    pub fn script_with(
        &self,
        script: impl Fn(&InferCall) -> Option<Behaviour> + Send + Sync + 'static,
    ) {
        self.inner.state().script = Some(Arc::new(script));
    }

    /// `GET /health`: 200 healthy (default) or 503.
    pub fn set_healthy(&self, healthy: bool) {
        self.inner.state().healthy = healthy;
    }

    /// `GET /health` answers only after `delay`.
    pub fn set_health_delay(&self, delay: Duration) {
        self.inner.state().health_delay = delay;
    }

    /// `/infer` answers 401 unless it gets `Authorization: Bearer {token}` (default: off; the
    /// old service ignored the header).
    pub fn set_require_token(&self, require: bool) {
        self.inner.state().require_token = require;
    }

    /// Where callbacks go when a request names no `callback_url` (like the old service, which
    /// had triage's URL configured): `{base}/internal/jobs/{job}/completion`.
    pub fn set_callback_base(&self, base: Option<String>) {
        self.inner.state().callback_base = base;
    }

    // ------------------------------------------------------------------ completions on demand

    /// Writes a valid report for `job` and calls back `succeeded` (to the callback URL and
    /// `output_object` of the job's last `/infer`, else the callback base and
    /// `results/{job}.xlsx`).
    pub async fn complete(&self, job: impl Display) -> CallbackRecord {
        self.complete_with(job, Outcome::succeeded()).await
    }

    pub async fn complete_with(&self, job: impl Display, outcome: Outcome) -> CallbackRecord {
        self.complete_with_auth(job, outcome, CallbackAuth::Service)
            .await
    }

    pub async fn complete_with_auth(
        &self,
        job: impl Display,
        outcome: Outcome,
        auth: CallbackAuth,
    ) -> CallbackRecord {
        let target = self.inner.target(&job.to_string());
        delivery::deliver(self.inner.clone(), target, outcome, auth).await
    }

    /// Posts `body` as `job`'s completion as is; nothing is written.
    pub async fn send_callback(
        &self,
        job: impl Display,
        body: Value,
        auth: CallbackAuth,
    ) -> CallbackRecord {
        let target = self.inner.target(&job.to_string());
        delivery::send(&self.inner, &target, body, &auth).await
    }

    // ------------------------------------------------------------------ records

    /// Every `/infer` request, in arrival order.
    pub fn infer_calls(&self) -> Vec<InferCall> {
        self.inner.state().calls.clone()
    }

    pub fn infer_calls_for(&self, job: impl Display) -> Vec<InferCall> {
        let job = job.to_string();
        let state = self.inner.state();
        state
            .calls
            .iter()
            .filter(|c| c.job_uuid == job)
            .cloned()
            .collect()
    }

    /// `/infer` calls for `job`.
    pub fn infer_count(&self, job: impl Display) -> u32 {
        self.job(job, |j| j.calls)
    }

    /// `/infer` calls for `job` answered 2xx.
    pub fn accepted_count(&self, job: impl Display) -> u32 {
        self.job(job, |j| j.accepted)
    }

    /// The most `/infer` calls for `job` that were in progress at the same time.
    pub fn max_concurrent(&self, job: impl Display) -> u32 {
        self.job(job, |j| j.max_in_flight)
    }

    /// The most `/infer` calls that were in progress at the same time.
    pub fn max_concurrent_overall(&self) -> u32 {
        self.inner.state().max_in_flight
    }

    /// `/infer` calls in progress now.
    pub fn in_flight(&self) -> u32 {
        self.inner.state().in_flight
    }

    /// Every callback sent, in order of triage's answers.
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.inner.state().callbacks.clone()
    }

    pub fn callbacks_for(&self, job: impl Display) -> Vec<CallbackRecord> {
        let job = job.to_string();
        let state = self.inner.state();
        state
            .callbacks
            .iter()
            .filter(|c| c.job_uuid == job)
            .cloned()
            .collect()
    }

    pub fn health_calls(&self) -> u32 {
        self.inner.state().health_calls
    }

    /// Polls `condition` every 10 ms until it holds (`true`) or `timeout` passes (`false`).
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Self) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if condition(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until at least `n` `/infer` calls arrived.
    pub async fn wait_for_infer_calls(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |ml| ml.inner.state().calls.len() >= n)
            .await
    }

    /// Waits until at least `n` callbacks were answered (or failed).
    pub async fn wait_for_callbacks(&self, n: usize, timeout: Duration) -> bool {
        self.wait_for(timeout, |ml| ml.inner.state().callbacks.len() >= n)
            .await
    }

    fn job(&self, job: impl Display, field: impl Fn(&service::JobState) -> u32) -> u32 {
        let state = self.inner.state();
        state.jobs.get(&job.to_string()).map_or(0, field)
    }
}

impl Drop for ScriptedMl {
    fn drop(&mut self) {
        if let Some(running) = lock(&self.running).take() {
            // The stop command is sent right away; nobody needs to await its completion.
            drop(running.handle.stop(false));
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A socket bound to `addr` (reusable, so a port just left can be taken again), not listening.
fn bound(addr: SocketAddr) -> io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// [`bound`], retried for a while: the stopped server's listener may take a moment to close.
async fn bound_soon(addr: SocketAddr) -> Option<TcpSocket> {
    for _ in 0..200 {
        if let Ok(socket) = bound(addr) {
            return Some(socket);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn serve(inner: Arc<Inner>, listener: std::net::TcpListener) -> io::Result<Running> {
    let data = web::Data::from(inner);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/infer", web::post().to(service::infer))
            .route("/health", web::get().to(service::health))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    // A client that gives up (timeout) closes its side: end the call then, so a hanging
    // handler does not count as in flight any more.
    .h1_allow_half_closed(false)
    .listen(listener)?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(Running { handle, task })
}
