//! The composition root: the only place that names concrete adapters. It turns a [`Config`]
//! into the ports and the application.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use triage_app::{
    AcceptPolicy, App, AuthSettings, CorsSettings, JobDefaults, MlSettings, Ports, Settings,
    UploadSettings, WebSettings, WsSettings,
};
use triage_archive::Limits;
use triage_blob_fs::FsBlobStore;
use triage_blob_s3::{S3BlobStore, S3Options};
use triage_domain::ports::{BlobStore, EvaluationStore, Inference, JobStore, UserStore};
use triage_domain::{Clock, SystemClock};
use triage_events::BroadcastEvents;
use triage_events_pg::PgJobEvents;
use triage_ml_http::{HttpInference, HttpInferenceOptions};
use triage_store_diesel::{PgStore, PoolOptions, SqliteStore};

use crate::config::{Accept, Config};
use crate::error::ServerError;

/// Which database a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Database {
    /// # Errors
    /// `Config` for an unsupported scheme.
    pub fn from_config(config: &Config) -> Result<Self, ServerError> {
        let url = config.database.url.trim();
        if url.is_empty() {
            return Ok(Self::Sqlite(config.data_dir.join("triage.db")));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Self::Sqlite(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        Err(ServerError::Config(
            "database.url must be empty, sqlite://… or postgres://…".into(),
        ))
    }
}

fn pool_options(config: &Config) -> PoolOptions {
    let timeout = Duration::from_secs(config.database.timeout_secs);
    PoolOptions {
        max_size: config.database.max_connections,
        wait_timeout: timeout,
        create_timeout: timeout,
        recycle_timeout: timeout,
    }
}

/// Applies pending migrations (the `migrate` subcommand).
///
/// # Errors
/// `Storage` when the database cannot be reached or a migration fails.
pub async fn migrate(config: &Config) -> Result<(), ServerError> {
    match Database::from_config(config)? {
        // Opening a SQLite store migrates it.
        Database::Sqlite(path) => SqliteStore::open(&path, &pool_options(config))
            .await
            .map(drop)?,
        Database::Postgres(url) => triage_store_diesel::migrate_postgres(&url).await?,
    }
    Ok(())
}

/// The five store ports, all on the one database.
struct Stores {
    users: Arc<dyn UserStore>,
    jobs: Arc<dyn JobStore>,
    studies: Arc<dyn triage_domain::ports::StudyStore>,
    audit: Arc<dyn triage_domain::ports::AuditStore>,
    evaluations: Arc<dyn EvaluationStore>,
}

impl Stores {
    fn of<S>(store: S) -> Self
    where
        S: UserStore
            + JobStore
            + triage_domain::ports::StudyStore
            + triage_domain::ports::AuditStore
            + EvaluationStore
            + Clone,
    {
        Self {
            users: Arc::new(store.clone()),
            jobs: Arc::new(store.clone()),
            studies: Arc::new(store.clone()),
            audit: Arc::new(store.clone()),
            evaluations: Arc::new(store),
        }
    }
}

async fn stores(config: &Config) -> Result<Stores, ServerError> {
    let options = pool_options(config);
    match Database::from_config(config)? {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(&path, &options).await?;
            Ok(Stores::of(store))
        }
        Database::Postgres(url) => {
            if config.database.migrate_on_start {
                triage_store_diesel::migrate_postgres(&url).await?;
            }
            let store = PgStore::connect(&url, &options)?;
            Ok(Stores::of(store))
        }
    }
}

/// The JWT secret: the configured one, or (outside production) one generated once and kept in
/// the data directory, readable by the owner only.
fn jwt_secret(config: &Config) -> Result<String, ServerError> {
    if !config.auth.jwt_secret.expose_secret().is_empty() {
        return Ok(config.auth.jwt_secret.expose_secret().to_owned());
    }
    if config.is_production() {
        return Err(ServerError::Config(
            "production needs auth.jwt_secret".into(),
        ));
    }
    let path = config.data_dir.join("jwt-secret");
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(secret.trim().to_owned()),
        Ok(_) => {
            return Err(ServerError::Config(format!(
                "{} holds a secret shorter than 32 bytes",
                path.display()
            )));
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err.into()),
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, &secret)?;
    tracing::info!(path = %path.display(), "generated a JWT secret");
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// What the use cases are configured with. `addr` is where this server listens, for the
/// default callback URL.
///
/// # Errors
/// `Config` when the JWT secret is missing or unusable.
pub fn settings(config: &Config, addr: Option<SocketAddr>) -> Result<Settings, ServerError> {
    let uploads = &config.uploads;
    Ok(Settings {
        auth: AuthSettings {
            jwt_secret: jwt_secret(config)?,
            token_ttl: Duration::from_secs(config.auth.token_ttl_secs),
            login_max_failures: config.auth.login_max_failures,
            login_window: Duration::from_secs(config.auth.login_window_secs),
        },
        uploads: UploadSettings {
            max_size: uploads.max_size,
            accept: match uploads.accept {
                Accept::Dicom => AcceptPolicy::Dicom,
                Accept::Any => AcceptPolicy::Any,
            },
            limits: Limits {
                max_entries: uploads.max_entries,
                max_uncompressed: uploads.max_uncompressed,
                max_ratio: uploads.max_ratio,
            },
            tmp_dir: spool_dir(config),
            idle_timeout: Duration::from_secs(uploads.idle_timeout_secs),
            max_concurrent_per_client: uploads.max_concurrent_per_client,
        },
        jobs: JobDefaults {
            profile: config.ml.default_profile.clone(),
            threshold: config.ml.decision_threshold,
            ..JobDefaults::default()
        },
        ml: ml_settings(config, addr),
        ws: WsSettings {
            ping_interval: Duration::from_secs(config.ws.ping_interval_secs),
            idle_timeout: Duration::from_secs(config.ws.idle_timeout_secs),
            anonymous_status_frames: config.ws.anonymous_status_frames,
            max_anonymous_per_client: config.ws.max_anonymous_per_client,
            max_anonymous_total: config.ws.max_anonymous_total,
        },
        web: web_settings(config)?,
    })
}

fn web_settings(config: &Config) -> Result<WebSettings, ServerError> {
    let dir = config.web.static_dir.trim();
    let static_dir = if dir.is_empty() {
        None
    } else {
        let dir = std::path::PathBuf::from(dir);
        if !dir.join("index.html").is_file() {
            return Err(ServerError::Config(format!(
                "web.static_dir: {} is not a directory with an index.html",
                dir.display()
            )));
        }
        Some(dir)
    };
    Ok(WebSettings {
        json_limit: config.server.json_limit,
        trust_forwarded_for: config.server.trust_forwarded_for,
        static_dir,
        cors: CorsSettings {
            allowed_origins: config.cors.allowed_origins.clone(),
            allow_credentials: config.cors.allow_credentials,
        },
    })
}

fn ml_settings(config: &Config, addr: Option<SocketAddr>) -> MlSettings {
    let ml = &config.ml;
    let callback_base = if !ml.callback_url.trim().is_empty() {
        Some(ml.callback_url.trim().trim_end_matches('/').to_owned())
    } else {
        addr.map(|addr| {
            // A wildcard address is not a destination: the loopback address of its family is.
            let host = if addr.ip().is_unspecified() {
                if addr.is_ipv4() {
                    "127.0.0.1".to_owned()
                } else {
                    "[::1]".to_owned()
                }
            } else if addr.is_ipv6() {
                format!("[{}]", addr.ip())
            } else {
                addr.ip().to_string()
            };
            format!("http://{host}:{}", addr.port())
        })
    };
    let request_timeout = Duration::from_secs(ml.request_timeout_secs);
    MlSettings {
        token: ml.token.expose_secret().to_owned(),
        max_in_flight: ml.max_in_flight,
        // Longer than the longest /infer call, so a live dispatcher never loses its job.
        lease: request_timeout + Duration::from_secs(30),
        processing_timeout: Duration::from_secs(ml.processing_timeout_secs),
        dispatch_deadline: Duration::from_secs(ml.dispatch_deadline_secs),
        max_attempts: ml.max_attempts,
        max_report_bytes: ml.max_report_bytes,
        max_report_rows: ml.max_report_rows,
        bucket: config.blobs.bucket.clone(),
        callback_base,
        ..MlSettings::default()
    }
}

async fn blob_store(config: &Config) -> Result<Arc<dyn BlobStore>, ServerError> {
    let blobs = &config.blobs;
    if !blobs.uses_s3() {
        let store = FsBlobStore::open(config.dir_or(&blobs.dir, "blobs")).await?;
        return Ok(Arc::new(store));
    }
    let mut options = S3Options::new(
        blobs.endpoint.trim(),
        &blobs.bucket,
        &blobs.access_key,
        blobs.secret_key.expose_secret(),
    );
    options.region = blobs.region.clone();
    options.create_bucket = blobs.create_bucket;
    options.request_timeout = Duration::from_secs(blobs.timeout_secs);
    options.part_size = blobs.part_size;
    Ok(Arc::new(S3BlobStore::connect(options).await?))
}

fn inference(
    config: &Config,
    blobs: &Arc<dyn BlobStore>,
) -> Result<Arc<dyn Inference>, ServerError> {
    let ml = &config.ml;
    if ml.url.trim().is_empty() {
        let threads = if ml.engine_threads == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            ml.engine_threads
        };
        let mut local =
            triage_ml_local::LocalInference::new(blobs.clone(), spool_dir(config), threads);
        if ml.engine_key_images {
            local = local.with_key_images(triage_ml_local::KeyImages {
                key_slices: ml.engine_key_slices,
                image_size: ml.engine_image_size,
            });
        }
        return Ok(Arc::new(local));
    }
    let mut options = HttpInferenceOptions::new(ml.url.trim());
    options.token = ml.token.expose_secret().to_owned();
    options.bucket = config.blobs.bucket.clone();
    options.request_timeout = Duration::from_secs(ml.request_timeout_secs);
    options.connect_timeout = Duration::from_secs(ml.connect_timeout_secs);
    Ok(Arc::new(HttpInference::new(options)?))
}

/// Job change fan-out: across replicas with PostgreSQL LISTEN/NOTIFY (the store notifies
/// inside its transactions; one listener connection per process), in-process with SQLite.
async fn job_events(
    config: &Config,
) -> Result<Arc<dyn triage_domain::ports::JobEvents>, ServerError> {
    match Database::from_config(config)? {
        Database::Sqlite(_) => Ok(Arc::new(BroadcastEvents::default())),
        Database::Postgres(url) => {
            let events = PgJobEvents::start(&url);
            // Watchers of a replica that just started should not miss changes: wait a moment
            // for the listener, which otherwise keeps trying in the background.
            let wait = Duration::from_secs(config.database.timeout_secs);
            if !events.wait_listening(wait).await {
                tracing::warn!("not listening for job changes yet; retrying in the background");
            }
            Ok(Arc::new(events))
        }
    }
}

/// Where uploads and the in-process engine spool their files.
pub fn spool_dir(config: &Config) -> std::path::PathBuf {
    config.dir_or(&config.uploads.tmp_dir, "tmp")
}

/// The janitor of [`spool_dir`] (see [`crate::janitor`]).
pub fn spool_janitor(config: &Config) -> crate::janitor::Janitor {
    crate::janitor::Janitor::spawn(
        spool_dir(config),
        Duration::from_secs(config.uploads.spool_max_age_secs),
    )
}

/// Builds every adapter and the application.
///
/// # Errors
/// `Config`, `Storage` (database or blob store unusable), `App`.
pub async fn build_app(config: &Config, addr: Option<SocketAddr>) -> Result<App, ServerError> {
    build_app_with_clock(config, addr, Arc::new(SystemClock)).await
}

/// [`build_app`] on another clock (tests move time forward instead of sleeping).
///
/// # Errors
/// As [`build_app`].
pub async fn build_app_with_clock(
    config: &Config,
    addr: Option<SocketAddr>,
    clock: Arc<dyn Clock>,
) -> Result<App, ServerError> {
    let settings = settings(config, addr)?;
    // Before anything spools again: what a killed earlier run left behind.
    let spool = spool_dir(config);
    let _ = tokio::task::spawn_blocking(move || crate::janitor::sweep_spool(&spool, None)).await;
    let Stores {
        users,
        jobs,
        studies,
        audit,
        evaluations,
    } = stores(config).await?;
    let blobs = blob_store(config).await?;
    let inference = inference(config, &blobs)?;
    let ports = Ports {
        users,
        jobs,
        evaluations,
        studies,
        audit,
        blobs,
        inference,
        events: job_events(config).await?,
        clock,
    };
    Ok(App::new(ports, settings)?)
}
