//! Settings of the live job updates (WebSocket watchers).

use std::time::Duration;

/// How watcher sockets are kept alive and what anonymous watchers may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsSettings {
    /// The server pings every socket this often.
    pub ping_interval: Duration,
    /// A socket whose client sent nothing (not even a pong) for this long is dropped.
    pub idle_timeout: Duration,
    /// Sockets without a token may watch a job by id and receive status-only frames (the old
    /// frontend sends no token). Off: such sockets are refused.
    pub anonymous_status_frames: bool,
    /// Anonymous sockets one client address may hold open at once (0: no cap).
    pub max_anonymous_per_client: usize,
    /// Anonymous sockets open at once in this process (0: no cap).
    pub max_anonymous_total: usize,
}

impl Default for WsSettings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            anonymous_status_frames: true,
            max_anonymous_per_client: 64,
            max_anonymous_total: 4096,
        }
    }
}
