//! Login rate limiting. Failed logins are counted, within `window`, on three keys:
//!
//! - **username and client address** together: locked after `max_failures` — one client
//!   guessing one account;
//! - **username** alone: locked after [`USERNAME_FACTOR`] × `max_failures` — guesses at one
//!   account spread over several addresses;
//! - **client address** alone: locked after [`CLIENT_FACTOR`] × `max_failures` — one client
//!   spraying many usernames. It sits far above the others because many people may share an
//!   address (a clinic behind one proxy): one attacker there must not lock the office out.
//!
//! A locked key refuses further attempts for `window` (429 with `Retry-After`) without checking
//! the password. So an attacker at one address locks only their own (username, address) pair:
//! the same user elsewhere, and other users at that address, still log in.
//!
//! - Unknown usernames are counted exactly like existing ones, so the limit is no oracle.
//! - A successful login clears its username's counts (alone and with that address). It does
//!   not clear the client's: one valid account must not buy unlimited guesses at others.
//! - Every attempt reserves a failure before the password is checked and gives it back when
//!   the login succeeds (or ends in an infrastructure error), so a burst of parallel attempts
//!   cannot get more than the limit of guesses through.
//! - IPv6 clients are counted per /64 (one host usually owns the whole prefix); IPv4-mapped
//!   IPv6 addresses count as their IPv4 address.
//! - The counts live in this process's memory, bounded to `capacity` entries (expired ones
//!   are dropped first, then the oldest unlocked ones). With several replicas the limit is
//!   per replica, and a restart forgets it.
//! - Time comes from the app's clock, so tests move it instead of sleeping.
//!
//! Anyone at several addresses can lock a username out for a window by failing on purpose;
//! that is the price of a per-username limit, and the lock ends by itself.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{AppError, AppResult};

/// The default bound on the number of tracked usernames and clients.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// The per-username limit is this many times `max_failures`.
pub const USERNAME_FACTOR: u32 = 3;
/// The per-client-address limit is this many times `max_failures`.
pub const CLIENT_FACTOR: u32 = 10;

/// Longest username kept as a key (valid usernames are shorter); longer ones are cut.
const MAX_KEY_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    /// A username tried from one client (`None`: the address is unknown).
    Pair(String, Option<IpAddr>),
    User(String),
    Client(IpAddr),
}

#[derive(Debug, Clone)]
struct Entry {
    /// Failures in this window, including attempts still in flight.
    failures: u32,
    window_start: DateTime<Utc>,
    /// Set when `failures` reached the maximum; nothing gets through before it.
    locked_until: Option<DateTime<Utc>>,
}

impl Entry {
    fn fresh(now: DateTime<Utc>) -> Self {
        Self {
            failures: 0,
            window_start: now,
            locked_until: None,
        }
    }

    /// True once the lock or the window has passed: the entry counts for nothing anymore.
    fn is_settled(&self, now: DateTime<Utc>, window: TimeDelta) -> bool {
        match self.locked_until {
            Some(until) => until <= now,
            None => self.failures == 0 || now >= after(self.window_start, window),
        }
    }
}

/// `start + window`, saturating.
fn after(start: DateTime<Utc>, window: TimeDelta) -> DateTime<Utc> {
    start
        .checked_add_signed(window)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The per-process login limiter. See the module documentation.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: TimeDelta,
    capacity: usize,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl LoginThrottle {
    /// `max_failures == 0` (or a zero window) turns the limit off.
    pub fn new(max_failures: u32, window: Duration, capacity: usize) -> Self {
        Self {
            max_failures,
            window: TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX),
            capacity: capacity.max(2),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Failures that lock `key`.
    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::Pair(..) => self.max_failures,
            Key::User(_) => self.max_failures.saturating_mul(USERNAME_FACTOR),
            Key::Client(_) => self.max_failures.saturating_mul(CLIENT_FACTOR),
        }
    }

    fn enabled(&self) -> bool {
        self.max_failures > 0 && self.window > TimeDelta::zero()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a login attempt: refuses it while any of its keys (see the module
    /// documentation) is locked, else reserves one failure on each. Finish with [`Attempt::failed`] or
    /// [`Attempt::succeeded`]; dropping the attempt gives the reservation back.
    ///
    /// # Errors
    /// `RateLimited` with the seconds until the attempt may be repeated.
    pub fn begin(
        &self,
        now: DateTime<Utc>,
        client: Option<IpAddr>,
        username: &str,
    ) -> AppResult<Attempt<'_>> {
        if !self.enabled() {
            return Ok(Attempt {
                throttle: self,
                keys: Vec::new(),
            });
        }
        let user = username_key(username);
        let client = client.map(client_key);
        let mut keys = vec![Key::Pair(user.clone(), client), Key::User(user)];
        keys.extend(client.map(Key::Client));
        let mut entries = self.lock();
        let mut blocked_until: Option<DateTime<Utc>> = None;
        for key in &keys {
            let Some(entry) = entries.get_mut(key) else {
                continue;
            };
            if entry.is_settled(now, self.window) {
                *entry = Entry::fresh(now);
            }
            let until = match entry.locked_until {
                Some(until) if until > now => Some(until),
                // Every remaining guess of this window is in flight right now.
                _ if entry.failures >= self.limit(key) => {
                    Some(after(entry.window_start, self.window))
                }
                _ => None,
            };
            if let Some(until) = until {
                blocked_until = Some(blocked_until.map_or(until, |b| b.max(until)));
            }
        }
        if let Some(until) = blocked_until {
            return Err(AppError::RateLimited {
                retry_after_secs: ceil_secs(until - now),
            });
        }
        for key in &keys {
            self.slot(&mut entries, key, now).failures += 1;
        }
        drop(entries);
        Ok(Attempt {
            throttle: self,
            keys,
        })
    }

    /// The entry of `key`, created (after making room) when missing.
    fn slot<'m>(
        &self,
        entries: &'m mut HashMap<Key, Entry>,
        key: &Key,
        now: DateTime<Utc>,
    ) -> &'m mut Entry {
        if !entries.contains_key(key) && entries.len() >= self.capacity {
            self.make_room(entries, now);
        }
        entries
            .entry(key.clone())
            .or_insert_with(|| Entry::fresh(now))
    }

    /// Drops expired entries; if that is not enough, the oldest unlocked ones (then the
    /// locks that end soonest) until a tenth of the capacity is free, so that a flood of new
    /// names pays for this scan rarely.
    fn make_room(&self, entries: &mut HashMap<Key, Entry>, now: DateTime<Utc>) {
        entries.retain(|_, entry| !entry.is_settled(now, self.window));
        let target = self.capacity - self.capacity.div_ceil(10);
        if entries.len() <= target {
            return;
        }
        let mut order: Vec<(bool, DateTime<Utc>, Key)> = entries
            .iter()
            .map(|(key, entry)| match entry.locked_until {
                Some(until) => (true, until, key.clone()),
                None => (false, entry.window_start, key.clone()),
            })
            .collect();
        order.sort_unstable_by_key(|(locked, at, _)| (*locked, *at));
        let excess = entries.len() - target;
        for (_, _, key) in order.into_iter().take(excess) {
            entries.remove(&key);
        }
        tracing::warn!(
            capacity = self.capacity,
            "login throttle full: forgot the oldest failed-login counts"
        );
    }

    fn finish(&self, keys: &[Key], now: DateTime<Utc>, outcome: Outcome) {
        if keys.is_empty() {
            return;
        }
        let mut entries = self.lock();
        for key in keys {
            match (outcome, key) {
                (Outcome::Failed, _) => {
                    let present = entries.contains_key(key);
                    let entry = self.slot(&mut entries, key, now);
                    if !present {
                        // Made room for others meanwhile: count this failure again.
                        entry.failures = 1;
                    }
                    if entry.failures >= self.limit(key) && entry.locked_until.is_none() {
                        entry.locked_until = Some(after(now, self.window));
                        match key {
                            Key::Client(ip) => tracing::warn!(
                                client = %ip,
                                "too many failed logins from this client: locked"
                            ),
                            Key::Pair(_, ip) => tracing::warn!(
                                client = ?ip,
                                "too many failed logins for one username from this client: locked"
                            ),
                            Key::User(_) => {
                                tracing::warn!("too many failed logins for one username: locked")
                            }
                        }
                    }
                }
                (Outcome::Succeeded, Key::User(_) | Key::Pair(..)) => {
                    entries.remove(key);
                }
                (Outcome::Succeeded | Outcome::Abandoned, _) => {
                    if let Some(entry) = entries.get_mut(key) {
                        entry.failures = entry.failures.saturating_sub(1);
                        if entry.failures == 0 && entry.locked_until.is_none() {
                            entries.remove(key);
                        }
                    }
                }
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Failed,
    Succeeded,
    Abandoned,
}

/// One login attempt in flight; see [`LoginThrottle::begin`].
#[derive(Debug)]
#[must_use = "an attempt is finished with `failed` or `succeeded`"]
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    keys: Vec<Key>,
}

impl Attempt<'_> {
    /// Wrong password or unknown user: the reserved failure stays, and each key whose limit
    /// it reached gets locked.
    pub fn failed(mut self, now: DateTime<Utc>) {
        let keys = std::mem::take(&mut self.keys);
        self.throttle.finish(&keys, now, Outcome::Failed);
    }

    /// The username's counts start over; the client's reservation is given back.
    pub fn succeeded(mut self, now: DateTime<Utc>) {
        let keys = std::mem::take(&mut self.keys);
        self.throttle.finish(&keys, now, Outcome::Succeeded);
    }
}

impl Drop for Attempt<'_> {
    /// Neither failed nor succeeded (the store was down): not the client's fault.
    fn drop(&mut self) {
        let keys = std::mem::take(&mut self.keys);
        // The time does not matter when giving a reservation back.
        self.throttle
            .finish(&keys, DateTime::<Utc>::MIN_UTC, Outcome::Abandoned);
    }
}

/// Usernames are compared by their unique form and trimmed, like the store does; over-long
/// ones are cut so a key stays small.
fn username_key(username: &str) -> String {
    let cut: String = username.trim().chars().take(MAX_KEY_CHARS).collect();
    triage_domain::username_key(&cut)
}

/// IPv6 clients count per /64 (one host usually owns the whole prefix); IPv4-mapped
/// addresses as their IPv4 address.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(Ipv6Addr::from(segments))
            }
        },
    }
}

/// Whole seconds until `left` has passed, at least 1 (what `Retry-After` can say).
fn ceil_secs(left: TimeDelta) -> u64 {
    let millis = u64::try_from(left.num_milliseconds()).unwrap_or(0);
    millis.div_ceil(1000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn fail(throttle: &LoginThrottle, now: DateTime<Utc>, client: &str, user: &str) {
        throttle.begin(now, ip(client), user).unwrap().failed(now);
    }

    fn retry_after(result: AppResult<Attempt<'_>>) -> u64 {
        match result {
            Err(AppError::RateLimited { retry_after_secs }) => retry_after_secs,
            other => panic!("not rate limited: {other:?}"),
        }
    }

    #[test]
    fn a_username_is_locked_for_the_window_after_its_limit_from_many_addresses() {
        let throttle = LoginThrottle::new(3, WINDOW, 100);
        let now = Utc::now();
        for i in 0..3 * USERNAME_FACTOR {
            fail(&throttle, now, &format!("10.0.0.{i}"), "Alice");
        }
        let later = now + TimeDelta::seconds(10);
        assert_eq!(
            retry_after(throttle.begin(later, ip("10.0.0.99"), " ａｌｉｃｅ ")),
            290
        );
        let after = now + TimeDelta::seconds(300);
        throttle
            .begin(after, ip("10.0.0.99"), "alice")
            .unwrap()
            .succeeded(after);
    }

    #[test]
    fn one_address_guessing_one_username_locks_only_that_pair() {
        let throttle = LoginThrottle::new(3, WINDOW, 100);
        let now = Utc::now();
        for _ in 0..3 {
            fail(&throttle, now, "192.0.2.1", "alice");
        }
        assert_eq!(
            retry_after(throttle.begin(now, ip("192.0.2.1"), "ALICE")),
            300
        );
        // Alice elsewhere, and Bob at the attacker's address, are not locked out.
        throttle
            .begin(now, ip("198.51.100.1"), "alice")
            .unwrap()
            .succeeded(now);
        throttle
            .begin(now, ip("192.0.2.1"), "bob")
            .unwrap()
            .succeeded(now);
    }

    #[test]
    fn a_client_is_locked_whatever_the_username_far_above_the_pair_limit() {
        let throttle = LoginThrottle::new(2, WINDOW, 1000);
        let now = Utc::now();
        for i in 0..2 * CLIENT_FACTOR {
            fail(&throttle, now, "192.0.2.1", &format!("user{i}"));
        }
        assert_eq!(retry_after(throttle.begin(now, ip("192.0.2.1"), "c")), 300);
        // The same /64, and the IPv4-mapped form, count as the same client.
        for i in 0..2 * CLIENT_FACTOR {
            fail(
                &throttle,
                now,
                &format!("2001:db8::{i:x}"),
                &format!("v6user{i}"),
            );
        }
        retry_after(throttle.begin(now, ip("2001:db8::ffff:3"), "f"));
        retry_after(throttle.begin(now, ip("::ffff:192.0.2.1"), "g"));
        throttle
            .begin(now, ip("192.0.2.2"), "c")
            .unwrap()
            .failed(now);
    }

    #[test]
    fn success_resets_the_username_but_not_the_client() {
        let throttle = LoginThrottle::new(2, WINDOW, 1000);
        let now = Utc::now();
        fail(&throttle, now, "10.0.0.1", "bob");
        throttle
            .begin(now, ip("10.0.0.1"), "bob")
            .unwrap()
            .succeeded(now);
        fail(&throttle, now, "10.0.0.1", "bob");
        throttle
            .begin(now, ip("10.0.0.1"), "bob")
            .unwrap()
            .failed(now);
        retry_after(throttle.begin(now, ip("10.0.0.1"), "bob"));

        for i in 0..2 * CLIENT_FACTOR - 1 {
            fail(&throttle, now, "10.0.1.1", &format!("guess{i}"));
        }
        throttle
            .begin(now, ip("10.0.1.1"), "dave")
            .unwrap()
            .succeeded(now);
        fail(&throttle, now, "10.0.1.1", "erin");
        retry_after(throttle.begin(now, ip("10.0.1.1"), "frank"));
    }

    #[test]
    fn parallel_attempts_cannot_exceed_the_limit_and_abandoned_ones_give_back() {
        let throttle = LoginThrottle::new(2, WINDOW, 100);
        let now = Utc::now();
        let first = throttle.begin(now, ip("10.0.0.1"), "x").unwrap();
        let second = throttle.begin(now, ip("10.0.0.1"), "x").unwrap();
        retry_after(throttle.begin(now, ip("10.0.0.1"), "x"));
        drop(first);
        drop(second);
        assert_eq!(throttle.len(), 0);
        throttle
            .begin(now, ip("10.0.0.1"), "x")
            .unwrap()
            .failed(now);
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let throttle = LoginThrottle::new(2, WINDOW, 100);
        let now = Utc::now();
        fail(&throttle, now, "10.0.0.1", "x");
        let later = now + TimeDelta::seconds(301);
        fail(&throttle, later, "10.0.0.1", "x");
        throttle
            .begin(later, ip("10.0.0.1"), "x")
            .unwrap()
            .failed(later);
        retry_after(throttle.begin(later, ip("10.0.0.1"), "x"));
    }

    #[test]
    fn memory_stays_bounded_and_locks_outlive_plain_counts() {
        let throttle = LoginThrottle::new(3, WINDOW, 50);
        let now = Utc::now();
        for _ in 0..3 {
            throttle.begin(now, None, "victim").unwrap().failed(now);
        }
        for i in 0..500 {
            let t = now + TimeDelta::milliseconds(i);
            throttle
                .begin(t, None, &format!("spray{i}"))
                .unwrap()
                .failed(t);
            assert!(throttle.len() <= 50);
        }
        retry_after(throttle.begin(now, None, "victim"));

        // Sprays that each end in a lock fill the map with locks; it still stays bounded.
        let strict = LoginThrottle::new(1, WINDOW, 50);
        for i in 0..500 {
            let t = now + TimeDelta::milliseconds(i);
            strict
                .begin(t, None, &format!("lock{i}"))
                .unwrap()
                .failed(t);
            assert!(strict.len() <= 50);
        }
        retry_after(strict.begin(now, None, "lock499"));
    }

    #[test]
    fn huge_windows_saturate_instead_of_overflowing() {
        let throttle = LoginThrottle::new(1, Duration::from_secs(u64::MAX / 4), 10);
        let now = Utc::now();
        throttle.begin(now, None, "x").unwrap().failed(now);
        assert!(retry_after(throttle.begin(now, None, "x")) > 1_000_000);
    }

    #[test]
    fn long_usernames_make_short_keys_and_zero_turns_it_off() {
        assert_eq!(username_key(&"Ä".repeat(1000)).chars().count(), 64);
        let off = LoginThrottle::new(0, WINDOW, 10);
        let now = Utc::now();
        for _ in 0..20 {
            fail(&off, now, "10.0.0.1", "x");
        }
        assert_eq!(off.len(), 0);
    }
}
