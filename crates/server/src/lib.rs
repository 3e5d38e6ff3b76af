//! The `triage` server as a library: configuration, the composition root that picks adapters,
//! and the HTTP server. `main.rs` is a thin CLI over it; tests start it in-process.
//!
//! This is the only crate that sees every adapter crate and the api crate at once.

pub mod config;
pub mod dispatcher;
mod error;
pub mod evaluate;
pub mod janitor;
pub mod telemetry;
pub mod wiring;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{HttpServer, web};

pub use config::Config;
pub use dispatcher::Dispatcher;
pub use error::ServerError;

/// A running HTTP server, with its dispatch loop unless config turned that off.
pub struct Server {
    addr: SocketAddr,
    app: triage_app::App,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    dispatcher: Option<Dispatcher>,
    /// Sweeps the spool while the server runs.
    _janitor: Option<janitor::Janitor>,
    /// Summarises refused connections in the log.
    _report: Option<telemetry::ConnectionErrorReport>,
}

impl Server {
    /// Builds the application from `config` and starts serving on `config.server.bind` (port 0
    /// picks a free port; see [`Server::addr`]).
    ///
    /// # Errors
    /// Whatever building the application or binding the socket reports.
    pub async fn start(config: &Config) -> Result<Self, ServerError> {
        Self::start_with_clock(config, std::sync::Arc::new(triage_domain::SystemClock)).await
    }

    /// [`Server::start`] on another clock (tests move time instead of sleeping).
    ///
    /// # Errors
    /// As [`Server::start`].
    pub async fn start_with_clock(
        config: &Config,
        clock: std::sync::Arc<dyn triage_domain::Clock>,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(&config.server.bind)?;
        let addr = listener.local_addr()?;
        let app = wiring::build_app_with_clock(config, Some(addr), clock).await?;
        let mut server = Self::serve(app, listener, config.server.workers)?;
        server._janitor = Some(wiring::spool_janitor(config));
        server._report = Some(telemetry::ConnectionErrorReport::spawn());
        if config.ml.dispatch {
            let worker = if config.ml.worker_id.is_empty() {
                dispatcher::default_worker_id(&addr.port().to_string())
            } else {
                config.ml.worker_id.clone()
            };
            let poll = Duration::from_millis(config.ml.poll_interval_ms);
            server.dispatcher = Some(Dispatcher::spawn(server.app.clone(), worker, poll));
        }
        Ok(server)
    }

    /// Serves an already built application on `listener`.
    ///
    /// # Errors
    /// `Io` if the listener cannot be used.
    pub fn serve(
        app: triage_app::App,
        listener: TcpListener,
        workers: usize,
    ) -> Result<Self, ServerError> {
        let addr = listener.local_addr()?;
        let data = web::Data::new(app.clone());
        let mut server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                // Inside `observe`, so preflight answers get a request id and a log line too.
                .wrap(actix_web::middleware::from_fn(triage_api::cors))
                .wrap(actix_web::middleware::from_fn(triage_api::observe))
                .configure(triage_api::configure_with(&data.settings().web))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(30);
        if workers > 0 {
            server = server.workers(workers);
        }
        let server = server.run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        Ok(Self {
            addr,
            app,
            handle,
            task,
            dispatcher: None,
            _janitor: None,
            _report: None,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn app(&self) -> &triage_app::App {
        &self.app
    }

    /// Stops accepting, lets requests in flight finish (up to the shutdown timeout), and
    /// waits for the server to end.
    pub async fn stop(self, graceful: bool) {
        if let Some(dispatcher) = self.dispatcher {
            dispatcher.stop().await;
        }
        // Open WebSockets would hold a graceful stop for the whole shutdown timeout.
        self.app.close_watchers();
        self.handle.stop(graceful).await;
        let _ = tokio::time::timeout(Duration::from_secs(35), self.task).await;
    }

    /// Runs until SIGTERM or Ctrl-C, then stops gracefully.
    ///
    /// # Errors
    /// `Io` if the server fails.
    pub async fn run_until_signal(self) -> Result<(), ServerError> {
        let handle = self.handle.clone();
        let dispatcher = self.dispatcher;
        let app = self.app.clone();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down");
            // Stop handing out work first; its leases go back to the queue for other replicas.
            if let Some(dispatcher) = dispatcher {
                dispatcher.stop().await;
            }
            app.close_watchers();
            handle.stop(true).await;
        });
        match self.task.await {
            Ok(result) => Ok(result?),
            Err(err) => Err(ServerError::Io(std::io::Error::other(err))),
        }
    }
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
