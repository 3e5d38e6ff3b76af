//! What the use cases need from configuration. The server fills these from its layered
//! config; tests build them directly.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use triage_archive::Limits;

pub use crate::ml::MlSettings;

/// Token and login settings.
#[derive(Clone)]
pub struct AuthSettings {
    /// HS256 secret; at least 32 bytes in production (the server enforces it).
    pub jwt_secret: String,
    pub token_ttl: Duration,
    /// Failed logins per username and per client within `login_window` before further
    /// attempts are refused (429) until the window has passed; 0 turns the limit off.
    pub login_max_failures: u32,
    pub login_window: Duration,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("token_ttl", &self.token_ttl)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_window", &self.login_window)
            .finish()
    }
}

/// Which uploads are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptPolicy {
    /// ZIPs holding at least one DICOM file, and single DICOM files.
    Dicom,
    /// Anything (ZIPs are still validated).
    Any,
}

/// Upload handling.
#[derive(Debug, Clone)]
pub struct UploadSettings {
    /// Bytes; the upload is refused as soon as it passes this.
    pub max_size: u64,
    pub accept: AcceptPolicy,
    pub limits: Limits,
    /// Where uploads are spooled while they are checked; on the same disk as nothing in
    /// particular, but never in memory.
    pub tmp_dir: PathBuf,
    /// An upload body that sends no byte for this long is abandoned (the connection closes,
    /// the spool is removed).
    pub idle_timeout: std::time::Duration,
    /// Uploads one client address may have in progress at once (0: no cap).
    pub max_concurrent_per_client: usize,
}

/// Per-job defaults for the analysis.
#[derive(Debug, Clone)]
pub struct JobDefaults {
    pub profile: String,
    pub threshold: f64,
    /// Profiles a job may ask for.
    pub profiles: Vec<String>,
}

impl Default for JobDefaults {
    fn default() -> Self {
        Self {
            profile: "fast_debug".into(),
            threshold: 0.25,
            profiles: vec!["fast_debug".into(), "production".into(), "research".into()],
        }
    }
}

/// Everything the use cases are configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub auth: AuthSettings,
    pub uploads: UploadSettings,
    pub jobs: JobDefaults,
    pub ml: MlSettings,
    /// Live job updates (WebSocket watchers).
    pub ws: crate::WsSettings,
    /// The HTTP edge: body limit, client addresses, CORS, the single-page frontend.
    pub web: WebSettings,
}

/// The default largest JSON request body: 64 KiB.
pub const DEFAULT_JSON_LIMIT: usize = 64 * 1024;

/// How the HTTP layer meets the outside world. The use cases do not read these; they live
/// here so the server configures every adapter from one [`Settings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSettings {
    /// Largest JSON request body in bytes (uploads have their own limit).
    pub json_limit: usize,
    /// Take the client address from `Forwarded`/`X-Forwarded-For` (only behind a proxy that
    /// sets them) instead of the peer address.
    pub trust_forwarded_for: bool,
    /// Serve a built single-page frontend from this directory, with `index.html` for client
    /// routes. `None`: unknown paths answer a JSON 404.
    pub static_dir: Option<PathBuf>,
    pub cors: CorsSettings,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            json_limit: DEFAULT_JSON_LIMIT,
            trust_forwarded_for: false,
            static_dir: None,
            cors: CorsSettings::default(),
        }
    }
}

/// Cross-origin requests from browsers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSettings {
    /// Origins such as `https://triage.example.org`; `*` allows any origin (never with
    /// credentials). Empty: no cross-origin access.
    pub allowed_origins: Vec<String>,
    /// Send `Access-Control-Allow-Credentials: true` (needs explicit origins).
    pub allow_credentials: bool,
}
