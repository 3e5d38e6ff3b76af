//! `triage-ml`: the reference ML service. Configuration from flags and environment (see
//! `triage_ml_service::cli`); SIGTERM or Ctrl-C stops it gracefully.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use triage_ml_service::MlService;
use triage_ml_service::cli::{Args, LogFormat};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    init_logs(args.log_format);
    let config = match args.into_config() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("triage-ml: {err}");
            return ExitCode::from(2);
        }
    };
    let mut service = match MlService::start(config).await {
        Ok(service) => service,
        Err(err) => {
            tracing::error!(error = %err, "triage-ml could not start");
            eprintln!("triage-ml: {err}");
            return ExitCode::FAILURE;
        }
    };
    tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("signal received");
            service.stop().await;
            ExitCode::SUCCESS
        }
        result = service.serving() => {
            tracing::error!(?result, "the HTTP server ended");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
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
