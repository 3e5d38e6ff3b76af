//! A clock tests can move forward: the wall clock plus an offset, so tokens and timestamps
//! stay realistic while backoff, leases and timeouts pass without sleeping.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use triage_domain::Clock;

#[derive(Debug, Default)]
pub struct TestClock {
    offset: Mutex<chrono::Duration>,
}

impl TestClock {
    /// Moves "now" forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).expect("a sane duration");
        *self.offset.lock().expect("clock lock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        (Utc::now() + *self.offset.lock().expect("clock lock")).trunc_subsecs(6)
    }
}
