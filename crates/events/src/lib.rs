//! `JobEvents` for a single process: every published change goes to every subscriber through a
//! bounded tokio broadcast channel. A subscriber that falls behind by more than the channel's
//! capacity gets `JobEvent::Resync` instead of the changes it missed, so a slow WebSocket can
//! never hold up a writer or grow memory. It is the embedded default; replicas share changes
//! through PostgreSQL instead, and feed this same fan-out from their listener.
//!
//! Depends on the domain and tokio only.

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use triage_domain::ports::{EventStream, JobEvents};
use triage_domain::{JobChange, JobEvent};

/// In-process fan-out of job events.
#[derive(Clone)]
pub struct BroadcastEvents {
    sender: broadcast::Sender<JobEvent>,
}

impl BroadcastEvents {
    /// `capacity` events may be buffered per subscriber before it is told to resync.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self { sender }
    }

    /// Sends any event, including `Resync` (used by listeners that lost their connection).
    pub fn send(&self, event: JobEvent) {
        // No subscribers is not an error: nobody is watching.
        let _ = self.sender.send(event);
    }

    pub fn subscriber_count(&self) -> usize {
        self.sender.receiver_count()
    }
}

impl Default for BroadcastEvents {
    fn default() -> Self {
        Self::new(1024)
    }
}

#[async_trait]
impl JobEvents for BroadcastEvents {
    async fn publish(&self, change: JobChange) {
        self.send(JobEvent::Changed(change));
    }

    fn subscribe(&self) -> EventStream {
        let stream = BroadcastStream::new(self.sender.subscribe()).map(|item| match item {
            Ok(event) => event,
            Err(BroadcastStreamRecvError::Lagged(_)) => JobEvent::Resync,
        });
        Box::pin(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_domain::{ChangeKind, JobId, JobStatus, UserId};

    fn change(version: i64) -> JobChange {
        JobChange {
            job_id: JobId::random(),
            owner_id: UserId::random(),
            kind: ChangeKind::Updated,
            status: JobStatus::Queued,
            version,
        }
    }

    #[tokio::test]
    async fn every_subscriber_sees_every_change_in_order() {
        let events = BroadcastEvents::new(8);
        let mut a = events.subscribe();
        let mut b = events.subscribe();
        for v in 1..=3 {
            events.publish(change(v)).await;
        }
        for stream in [&mut a, &mut b] {
            for v in 1..=3 {
                match stream.next().await {
                    Some(JobEvent::Changed(c)) => assert_eq!(c.version, v),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told_to_resync() {
        let events = BroadcastEvents::new(2);
        let mut slow = events.subscribe();
        for v in 1..=5 {
            events.publish(change(v)).await;
        }
        assert_eq!(slow.next().await, Some(JobEvent::Resync));
        // After the resync it continues with what is still buffered.
        assert!(matches!(slow.next().await, Some(JobEvent::Changed(c)) if c.version == 4));
    }

    #[tokio::test]
    async fn publishing_without_subscribers_is_fine() {
        let events = BroadcastEvents::default();
        events.publish(change(1)).await;
        assert_eq!(events.subscriber_count(), 0);
    }
}
