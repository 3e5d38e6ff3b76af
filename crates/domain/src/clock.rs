//! Time as a port, so that backoff, leases and timeouts can be tested without sleeping.

use chrono::{DateTime, SubsecRound, Utc};

/// Where "now" comes from. Every timestamp triage stores passes through a clock.
pub trait Clock: Send + Sync + 'static {
    /// The current instant, truncated to microseconds: both database backends store
    /// microseconds, so a value read back equals the value written.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}
