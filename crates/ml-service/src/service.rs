//! [`MlService`]: the running service (HTTP server, queue, workers), its start and its stop.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use triage_blob_fs::FsBlobStore;
use triage_blob_s3::S3BlobStore;
use triage_domain::ports::BlobStore;

use crate::auth::TokenCheck;
use crate::callback::Deliverer;
use crate::config::{Blobs, ServiceConfig};
use crate::http::{self, Shared};
use crate::job::Analyser;
use crate::queue::Registry;
use crate::wire::Rules;
use crate::worker::{self, Core};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("object store: {0}")]
    Store(#[from] triage_domain::DomainError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        #[source]
        source: std::io::Error,
    },
}

/// A snapshot of the queue and the counters since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub queued: usize,
    pub running: usize,
    /// Jobs queued, running or having their completion delivered.
    pub active: usize,
    /// `/infer` calls that queued a job.
    pub accepted: u64,
    /// `/infer` calls for a job already active (joined, not analysed again).
    pub repeats: u64,
    /// `/infer` calls refused with 503 because the queue was full.
    pub refused_full: u64,
    /// Analyses started.
    pub analyses: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub abandoned: u64,
    pub callbacks_delivered: u64,
    pub callbacks_refused: u64,
    pub callbacks_given_up: u64,
}

/// The service, running on the runtime that started it. Dropping it stops the HTTP server
/// at once; [`MlService::stop`] stops gracefully.
pub struct MlService {
    addr: SocketAddr,
    core: Arc<Core>,
    http: ServerHandle,
    serving: Option<JoinHandle<std::io::Result<()>>>,
    shutdown_timeout: Duration,
    stopped: bool,
}

impl MlService {
    /// Opens the store, binds `config.bind`, starts the workers and the HTTP server.
    ///
    /// # Errors
    /// A bad configuration, a store that cannot be opened (a local directory that cannot be
    /// created; S3 makes no request here), an address that cannot be bound.
    pub async fn start(config: ServiceConfig) -> Result<Self, StartError> {
        config.validate().map_err(StartError::Config)?;
        let bucket = match &config.blobs {
            Blobs::S3(options) => Some(options.bucket.trim().to_owned()),
            _ => None,
        };
        let blobs: Arc<dyn BlobStore> = match config.blobs.clone() {
            Blobs::Dir(dir) => Arc::new(FsBlobStore::open(dir).await?),
            Blobs::S3(options) => Arc::new(S3BlobStore::connect(options).await?),
            Blobs::Store(store) => store,
        };
        let bind_error = |source| StartError::Bind {
            bind: config.bind.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.bind).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;

        let stopping = CancellationToken::new();
        let deliverer = Deliverer::new(
            config.token.clone(),
            config.callback.clone(),
            stopping.clone(),
        )
        .map_err(StartError::Config)?;
        let core = Arc::new(Core {
            registry: Registry::new(config.queue),
            analyser: Analyser {
                blobs,
                tmp_dir: config.tmp_dir.clone(),
                threads: config.engine_threads,
            },
            deliverer,
            sync: config.sync,
            tracker: TaskTracker::new(),
            stopping,
        });
        worker::spawn(&core, config.concurrency);
        let shared = Arc::new(Shared {
            core: core.clone(),
            token: TokenCheck::new(config.token.trim()),
            rules: Rules {
                profile: config.default_profile,
                threshold: config.default_threshold,
                output_prefix: config.output_prefix.clone(),
                backend_url: config.backend_url.clone(),
                bucket,
                sync: config.sync,
            },
            retry_after_secs: config.retry_after_secs,
            queue_capacity: config.queue,
        });
        let server = http::serve(
            shared,
            listener,
            config.http_workers,
            config.shutdown_timeout,
        )
        .map_err(bind_error)?;
        let http = server.handle();
        let serving = tokio::spawn(server);
        tracing::info!(
            %addr,
            mode = if config.sync { "sync" } else { "async" },
            concurrency = config.concurrency,
            queue = config.queue,
            engine_threads = config.engine_threads,
            blobs = ?config.blobs,
            backend_url = config.backend_url.as_deref().unwrap_or("<none>"),
            "triage-ml is listening"
        );
        Ok(Self {
            addr,
            core,
            http,
            serving: Some(serving),
            shutdown_timeout: config.shutdown_timeout,
            stopped: false,
        })
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port` to reach the service (loopback when bound to a wildcard address).
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                std::net::Ipv4Addr::LOCALHOST.into()
            } else {
                std::net::Ipv6Addr::LOCALHOST.into()
            });
        }
        format!("http://{addr}")
    }

    pub fn stats(&self) -> Stats {
        let registry = &self.core.registry;
        let (queued, running, active) = registry.sizes();
        let c = &registry.counters;
        let get = |counter: &std::sync::atomic::AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            queued,
            running,
            active,
            accepted: get(&c.accepted),
            repeats: get(&c.repeats),
            refused_full: get(&c.refused_full),
            analyses: get(&c.analyses),
            succeeded: get(&c.succeeded),
            failed: get(&c.failed),
            abandoned: get(&c.abandoned),
            callbacks_delivered: get(&c.callbacks_delivered),
            callbacks_refused: get(&c.callbacks_refused),
            callbacks_given_up: get(&c.callbacks_given_up),
        }
    }

    /// Resolves when the HTTP server ends by itself (an error), which should not happen.
    pub async fn serving(&mut self) -> std::io::Result<()> {
        match self.serving.as_mut() {
            Some(task) => {
                let result = task
                    .await
                    .unwrap_or_else(|err| Err(std::io::Error::other(err)));
                self.serving = None;
                result
            }
            None => std::future::pending().await,
        }
    }

    /// Stops gracefully within the configured shutdown timeout (see [`MlService::stop_within`]).
    pub async fn stop(self) {
        let deadline = self.shutdown_timeout;
        self.stop_within(deadline).await;
    }

    /// Stops accepting (new `/infer` calls get 503, then the port closes), drops the queued
    /// jobs, lets running analyses finish and their callbacks make one more attempt, all
    /// within `deadline`; whatever is still running then is abandoned.
    pub async fn stop_within(mut self, deadline: Duration) {
        self.stopped = true;
        let dropped = self.core.registry.close();
        self.core.stopping.cancel();
        self.core.tracker.close();
        let (_, running, _) = self.core.registry.sizes();
        tracing::info!(
            running,
            dropped,
            deadline_secs = deadline.as_secs_f64(),
            "stopping: finishing running jobs"
        );
        let http = self.http.clone();
        let tracker = self.core.tracker.clone();
        let drained = async {
            tokio::join!(http.stop(true), tracker.wait());
        };
        if tokio::time::timeout(deadline, drained).await.is_err() {
            let (_, running, active) = self.core.registry.sizes();
            tracing::warn!(
                running,
                active,
                "the shutdown deadline passed; abandoning what is still running"
            );
            self.http.stop(false).await;
        }
        if let Some(task) = self.serving.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        tracing::info!("triage-ml stopped");
    }
}

impl Drop for MlService {
    fn drop(&mut self) {
        if !self.stopped {
            self.core.registry.close();
            self.core.stopping.cancel();
            // The stop command is sent right away; nobody needs to await it.
            drop(self.http.stop(false));
        }
    }
}
