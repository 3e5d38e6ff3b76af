//! Caps on what one client may hold open at once (uploads in progress, anonymous WebSockets),
//! counted per client address and optionally in total. A slot is given back when its
//! [`Slot`] is dropped, so a slot lives exactly as long as what it guards.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::auth::client_key;

/// Counts of slots held per client address.
#[derive(Debug)]
pub(crate) struct ClientSlots {
    per_client: usize,
    total: usize,
    held: Arc<Mutex<Held>>,
}

#[derive(Debug, Default)]
struct Held {
    per_client: HashMap<Option<IpAddr>, usize>,
    total: usize,
}

/// Why a slot was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Client,
    Total,
}

/// One slot held; given back on drop.
#[derive(Debug)]
pub struct Slot {
    held: Arc<Mutex<Held>>,
    client: Option<IpAddr>,
}

fn lock(held: &Mutex<Held>) -> MutexGuard<'_, Held> {
    // Plain counters: still usable after a panic elsewhere.
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ClientSlots {
    /// `per_client` slots per address (IPv6 per /64), `total` overall; 0 means no cap.
    pub(crate) fn new(per_client: usize, total: usize) -> Self {
        Self {
            per_client,
            total,
            held: Arc::default(),
        }
    }

    /// Takes a slot for `client` (`None`: the address is unknown, counted as one client).
    pub(crate) fn acquire(&self, client: Option<IpAddr>) -> Result<Slot, Refusal> {
        let client = client.map(client_key);
        let mut held = lock(&self.held);
        if self.total > 0 && held.total >= self.total {
            return Err(Refusal::Total);
        }
        let mine = held.per_client.entry(client).or_default();
        if self.per_client > 0 && *mine >= self.per_client {
            return Err(Refusal::Client);
        }
        *mine += 1;
        held.total += 1;
        Ok(Slot {
            held: self.held.clone(),
            client,
        })
    }

    #[cfg(test)]
    fn clients(&self) -> usize {
        lock(&self.held).per_client.len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = lock(&self.held);
        held.total = held.total.saturating_sub(1);
        if let Some(mine) = held.per_client.get_mut(&self.client) {
            *mine = mine.saturating_sub(1);
            if *mine == 0 {
                held.per_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn slots_are_capped_per_client_and_in_total_and_given_back_on_drop() {
        let slots = ClientSlots::new(2, 3);
        let a1 = slots.acquire(ip("192.0.2.1")).unwrap();
        let _a2 = slots.acquire(ip("192.0.2.1")).unwrap();
        assert_eq!(slots.acquire(ip("192.0.2.1")).unwrap_err(), Refusal::Client);
        let _b1 = slots.acquire(ip("2001:db8::1")).unwrap();
        // The same /64 is the same client; the total is reached first here.
        assert_eq!(
            slots.acquire(ip("2001:db8::2")).unwrap_err(),
            Refusal::Total
        );
        drop(a1);
        let _b2 = slots.acquire(ip("2001:db8::2")).unwrap();
        assert_eq!(
            slots.acquire(ip("2001:db8::ffff:1")).unwrap_err(),
            Refusal::Total
        );
        drop(_b2);
        drop(_b1);
        assert_eq!(slots.clients(), 1);

        let unlimited = ClientSlots::new(0, 0);
        let many: Vec<_> = (0..100).map(|_| unlimited.acquire(None).unwrap()).collect();
        drop(many);
        assert_eq!(unlimited.clients(), 0);
    }
}
