use std::pin::Pin;

use async_trait::async_trait;
use futures_core::Stream;

use crate::events::{JobChange, JobEvent};

/// A subscriber's endless stream of job events.
pub type EventStream = Pin<Box<dyn Stream<Item = JobEvent> + Send>>;

/// Fan-out of job changes to every watcher, on every replica.
#[async_trait]
pub trait JobEvents: Send + Sync + 'static {
    /// Announces a change that has been committed. Never fails and never blocks on slow
    /// subscribers; an adapter whose store announces changes itself (PostgreSQL NOTIFY in the
    /// writing transaction) may ignore it.
    async fn publish(&self, change: JobChange);

    /// Every change published from now on, on any replica. A subscriber that falls behind
    /// receives [`JobEvent::Resync`] instead of the changes it missed.
    fn subscribe(&self) -> EventStream;
}
