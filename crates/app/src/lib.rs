//! The use cases of triage: accounts, users and jobs (upload, list, edit, cancel, retry,
//! delete, downloads, inventory, results), and the jobs' way through the analysis (dispatch,
//! completion). Every use case takes the [`Caller`] and checks what
//! they may do; someone else's job answers "not found", never "forbidden".
//!
//! It depends on the domain and its ports (never on an adapter crate), on the pure `archive`
//! and `report` crates, on tokio for blocking work and temp files, and on argon2 and
//! jsonwebtoken for credentials.

mod accounts;
pub mod auth;
mod client_slots;
mod error;
mod evaluations;
mod files;
mod jobs;
mod metrics;
mod ml;
mod range;
mod readiness;
mod settings;
mod studies;
mod watch;
mod ws_settings;

use std::sync::Arc;

use triage_domain::Clock;
use triage_domain::ports::{
    AuditStore, BlobStore, EvaluationStore, Inference, JobEvents, JobStore, StudyStore, UserStore,
};

pub use accounts::{LoginOutcome, Registration, UserUpdate};
pub use auth::Caller;
pub use client_slots::Slot;
pub use error::{AppError, AppResult, FieldError};
pub use evaluations::{EvaluationForm, Figure, JobSelection, LabelSource, MAX_EVALUATION_JOBS};
pub use files::{FileUrl, MAX_URL_SECS, MIN_URL_SECS, StoredFile};
pub use jobs::{
    ArtefactResponse, Download, JobForm, JobPatch, JobResults, SeriesArtefact, UPLOAD_SPOOL_PREFIX,
    UploadSpool, artefact_kind,
};
pub use metrics::Metrics;
pub use ml::{CallbackToken, DispatchBatch, DispatchReport, MlSettings};
pub use range::RangeRequest;
pub use readiness::{PROBE_TIMEOUT, Probe, Readiness};
pub use settings::{
    AcceptPolicy, AuthSettings, CorsSettings, DEFAULT_JSON_LIMIT, JobDefaults, Settings,
    UploadSettings, WebSettings,
};
pub use studies::{
    AccessContext, MAX_EXPORT_STUDIES, MAX_STUDY_PAGE, ReviewForm, StudyList, StudyQuery,
    check_uid, decode_cursor, encode_cursor,
};
pub use triage_evaluation::PairedComparison;
pub use watch::{JobFrame, JobNews, JobStatusView, JobWatch, JobsWatch, WatchStep, Watcher};
pub use ws_settings::WsSettings;

use auth::{LoginThrottle, Passwords, Tokens};

/// The adapters the use cases run on.
#[derive(Clone)]
pub struct Ports {
    pub users: Arc<dyn UserStore>,
    pub jobs: Arc<dyn JobStore>,
    pub evaluations: Arc<dyn EvaluationStore>,
    /// Studies, analyses and reviews (written by `jobs` inside its transactions).
    pub studies: Arc<dyn StudyStore>,
    /// The append-only audit trail.
    pub audit: Arc<dyn AuditStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub events: Arc<dyn JobEvents>,
    pub inference: Arc<dyn Inference>,
    pub clock: Arc<dyn Clock>,
}

/// The application: every use case, as methods. Cheap to clone.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    ports: Ports,
    settings: Settings,
    passwords: Passwords,
    tokens: Tokens,
    login_throttle: LoginThrottle,
    /// Uploads in progress per client.
    upload_slots: client_slots::ClientSlots,
    /// Anonymous watcher sockets per client and in total.
    anonymous_sockets: client_slots::ClientSlots,
    hub: watch::Hub,
    metrics: Metrics,
}

impl App {
    /// # Errors
    /// `Internal` if the token signer fails its self-test.
    pub fn new(ports: Ports, settings: Settings) -> AppResult<Self> {
        let tokens = Tokens::new(settings.auth.jwt_secret.as_bytes(), settings.auth.token_ttl)?;
        let passwords = Passwords::new()?;
        let login_throttle = LoginThrottle::new(
            settings.auth.login_max_failures,
            settings.auth.login_window,
            auth::LOGIN_THROTTLE_CAPACITY,
        );
        let hub = watch::Hub::new(ports.jobs.clone(), ports.events.clone());
        let upload_slots =
            client_slots::ClientSlots::new(settings.uploads.max_concurrent_per_client, 0);
        let anonymous_sockets = client_slots::ClientSlots::new(
            settings.ws.max_anonymous_per_client,
            settings.ws.max_anonymous_total,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                ports,
                settings,
                passwords,
                tokens,
                login_throttle,
                upload_slots,
                anonymous_sockets,
                hub,
                metrics: Metrics::default(),
            }),
        })
    }

    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The adapters, only for tests that arrange or inspect state behind the use cases
    /// (feature `test-support`); everything else goes through the use cases.
    #[cfg(feature = "test-support")]
    pub fn ports(&self) -> &Ports {
        &self.inner.ports
    }

    /// Every job change from now on (this replica's and, with PostgreSQL, every other's).
    pub fn job_changes(&self) -> triage_domain::ports::EventStream {
        self.inner.ports.events.subscribe()
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.ports.clock.now()
    }
}
