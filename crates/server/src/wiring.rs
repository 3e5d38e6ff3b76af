//! The composition root: the only place that names concrete adapters. It turns a [`Config`]
//! into the ports and the application.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use triage_app::{AcceptPolicy, App, AuthSettings, JobDefaults, Ports, Settings, UploadSettings};
use triage_archive::Limits;
use triage_blob_fs::FsBlobStore;
use triage_domain::SystemClock;
use triage_domain::ports::{JobStore, UserStore};
use triage_events::BroadcastEvents;
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

async fn stores(config: &Config) -> Result<(Arc<dyn UserStore>, Arc<dyn JobStore>), ServerError> {
    let options = pool_options(config);
    match Database::from_config(config)? {
        Database::Sqlite(path) => {
            let store = SqliteStore::open(&path, &options).await?;
            Ok((Arc::new(store.clone()), Arc::new(store)))
        }
        Database::Postgres(url) => {
            if config.database.migrate_on_start {
                triage_store_diesel::migrate_postgres(&url).await?;
            }
            let store = PgStore::connect(&url, &options)?;
            Ok((Arc::new(store.clone()), Arc::new(store)))
        }
    }
}

/// The JWT secret: the configured one, or (outside production) one generated once and kept in
/// the data directory, readable by the owner only.
fn jwt_secret(config: &Config) -> Result<String, ServerError> {
    if !config.auth.jwt_secret.is_empty() {
        return Ok(config.auth.jwt_secret.clone());
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

/// What the use cases are configured with.
///
/// # Errors
/// `Config` when the JWT secret is missing or unusable.
pub fn settings(config: &Config) -> Result<Settings, ServerError> {
    let uploads = &config.uploads;
    Ok(Settings {
        auth: AuthSettings {
            jwt_secret: jwt_secret(config)?,
            token_ttl: Duration::from_secs(config.auth.token_ttl_secs),
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
            tmp_dir: config.dir_or(&uploads.tmp_dir, "tmp"),
        },
        jobs: JobDefaults {
            profile: config.ml.default_profile.clone(),
            threshold: config.ml.decision_threshold,
            ..JobDefaults::default()
        },
    })
}

/// Builds every adapter and the application.
///
/// # Errors
/// `Config`, `Storage` (database or blob store unusable), `App`.
pub async fn build_app(config: &Config) -> Result<App, ServerError> {
    let settings = settings(config)?;
    let (users, jobs) = stores(config).await?;
    let blobs = FsBlobStore::open(config.dir_or(&config.blobs.dir, "blobs")).await?;
    let ports = Ports {
        users,
        jobs,
        blobs: Arc::new(blobs),
        events: Arc::new(BroadcastEvents::default()),
        clock: Arc::new(SystemClock),
    };
    Ok(App::new(ports, settings)?)
}
