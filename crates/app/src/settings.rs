//! What the use cases need from configuration. The server fills these from its layered
//! config; tests build them directly.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

pub use triage_archive::Limits;

pub use crate::ml::MlSettings;

/// Token settings.
#[derive(Clone)]
pub struct AuthSettings {
    /// HS256 secret; at least 32 bytes in production (the server enforces it).
    pub jwt_secret: String,
    pub token_ttl: Duration,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("jwt_secret", &"<redacted>")
            .field("token_ttl", &self.token_ttl)
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
}
