//! Shared by the test binaries: the service started in-process on a temp directory, a tiny
//! completion receiver (triage's callback endpoint, scripted to fail), and a store whose
//! reads wait at a gate (to hold a job "running" as long as a test needs).

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use async_trait::async_trait;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::Semaphore;
use triage_blob_fs::FsBlobStore;
use triage_domain::ports::{BlobBody, BlobMeta, BlobReader, BlobStore};
use triage_domain::{BlobKey, DomainResult};
use triage_ml_service::{Blobs, MlService, RetryPolicy, ServiceConfig};

pub const TOKEN: &str = "ml-service-test-token-0123456789";

/// A plain HTTP client (no proxy from the environment).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap()
}

/// A test configuration: loopback on a free port, retries in milliseconds.
pub fn config(blobs: Blobs, tmp: &TempDir) -> ServiceConfig {
    let mut config = ServiceConfig::new(TOKEN, blobs);
    config.bind = "127.0.0.1:0".into();
    config.tmp_dir = tmp.path().join("spool");
    config.engine_threads = 2;
    config.http_workers = 1;
    config.shutdown_timeout = Duration::from_secs(30);
    config.callback = RetryPolicy {
        attempts: 5,
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        request_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
    };
    config
}

/// Polls `condition` every 10 ms; panics with `what` after `timeout`.
pub async fn eventually(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn post_infer(url: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = client().post(format!("{url}/infer")).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// Status and JSON body.
pub async fn answer(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

pub async fn start(config: ServiceConfig) -> MlService {
    MlService::start(config).await.expect("triage-ml starts")
}

// ---------------------------------------------------------------------- completion receiver

/// One callback as received.
#[derive(Debug, Clone)]
pub struct Callback {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
    pub answered: u16,
}

#[derive(Default)]
struct Script {
    calls: Vec<Callback>,
    /// Answered in order to the first calls; then 200.
    answers: Vec<u16>,
}

/// triage's completion endpoint, scripted: answers the listed statuses first, then 200.
pub struct Receiver {
    addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    handle: ServerHandle,
}

impl Receiver {
    pub async fn start(answers: Vec<u16>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            calls: Vec::new(),
            answers,
        }));
        let data = web::Data::new(script.clone());
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            addr,
            script,
            handle,
        }
    }

    /// What to give triage-ml as `BACKEND_URL`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn calls(&self) -> Vec<Callback> {
        self.script.lock().unwrap().calls.clone()
    }

    /// Waits until `n` callbacks arrived; returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<Callback> {
        eventually(&format!("{n} callbacks"), Duration::from_secs(60), || {
            self.calls().len() >= n
        })
        .await;
        self.calls()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    script: web::Data<Arc<Mutex<Script>>>,
) -> HttpResponse {
    let mut script = script.lock().unwrap();
    let answered = if script.answers.is_empty() {
        200
    } else {
        script.answers.remove(0)
    };
    script.calls.push(Callback {
        path: request.path().to_owned(),
        authorization: request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        answered,
    });
    let status = actix_web::http::StatusCode::from_u16(answered).unwrap();
    HttpResponse::build(status).json(serde_json::json!({"detail": "scripted"}))
}

// ---------------------------------------------------------------------- gated store

/// A local-directory store whose `get` waits until the test opens the gate (one permit per
/// read), so a job stays running meanwhile.
pub struct GatedStore {
    inner: FsBlobStore,
    gate: Semaphore,
    entered: AtomicUsize,
}

impl GatedStore {
    pub async fn open(dir: &std::path::Path) -> Arc<Self> {
        Arc::new(Self {
            inner: FsBlobStore::open(dir).await.unwrap(),
            gate: Semaphore::new(0),
            entered: AtomicUsize::new(0),
        })
    }

    /// Lets `n` reads through.
    pub fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }

    /// Reads that reached the gate.
    pub fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl BlobStore for GatedStore {
    async fn put(&self, key: &BlobKey, body: BlobReader, content_type: &str) -> DomainResult<u64> {
        self.inner.put(key, body, content_type).await
    }

    async fn get(&self, key: &BlobKey) -> DomainResult<BlobBody> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        self.gate.acquire().await.unwrap().forget();
        self.inner.get(key).await
    }

    async fn get_range(&self, key: &BlobKey, start: u64, end: u64) -> DomainResult<BlobBody> {
        self.inner.get_range(key, start, end).await
    }

    async fn head(&self, key: &BlobKey) -> DomainResult<Option<BlobMeta>> {
        self.inner.head(key).await
    }

    async fn delete(&self, key: &BlobKey) -> DomainResult<bool> {
        self.inner.delete(key).await
    }

    async fn list(&self, prefix: &str) -> DomainResult<Vec<BlobMeta>> {
        self.inner.list(prefix).await
    }

    async fn presign_get(
        &self,
        key: &BlobKey,
        expires_in: Duration,
    ) -> DomainResult<Option<String>> {
        self.inner.presign_get(key, expires_in).await
    }

    async fn ping(&self) -> DomainResult<()> {
        self.inner.ping().await
    }
}
