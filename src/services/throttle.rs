//! Sign-in throttling: after a few failures per key (an account's email, a client address) each
//! further attempt must wait twice as long as the one before, up to a ceiling. In memory, per
//! process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Above this many keys, forgotten entries are swept on the next failure.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// What is throttled: an account (by normalised email) or a client address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// Attempts on one account.
    Account(String),
    /// Attempts from one client address.
    Client(String),
}

/// Failure counts with growing back-off.
pub struct LoginThrottle {
    free_per_account: u32,
    free_per_client: u32,
    failures: Mutex<HashMap<ThrottleKey, Failures>>,
}

impl LoginThrottle {
    /// Allows `free_attempts` failures per account (four times as many per client address)
    /// before back-off starts.
    pub fn new(free_attempts: u32) -> Self {
        Self {
            free_per_account: free_attempts,
            free_per_client: free_attempts.saturating_mul(4),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn free_attempts(&self, key: &ThrottleKey) -> u32 {
        match key {
            ThrottleKey::Account(_) => self.free_per_account,
            ThrottleKey::Client(_) => self.free_per_client,
        }
    }

    /// `Err(wait)` when any of `keys` must wait before another attempt.
    pub fn check(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        self.wait_of(&failures, keys, now)
    }

    /// Takes an attempt for `keys`, counted as a failure until [`Self::record_success`] says
    /// otherwise, or `Err(wait)` when any of them must wait: checked and counted under one lock,
    /// so a burst of concurrent attempts cannot all pass the check before any is counted.
    pub fn reserve(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        self.wait_of(&failures, keys, now)?;
        count_failure(&mut failures, keys, now);
        Ok(())
    }

    fn wait_of(
        &self,
        failures: &HashMap<ThrottleKey, Failures>,
        keys: &[ThrottleKey],
        now: Instant,
    ) -> Result<(), Duration> {
        let wait = keys
            .iter()
            .filter_map(|key| {
                let entry = failures.get(key)?;
                let required = required_wait(entry.count, self.free_attempts(key))?;
                required.checked_sub(now.saturating_duration_since(entry.last))
            })
            .filter(|wait| !wait.is_zero())
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed attempt against every key.
    pub fn record_failure(&self, keys: &[ThrottleKey], now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        count_failure(&mut failures, keys, now);
    }

    /// A reserved attempt succeeded: the account's failures are forgotten, and the attempt no
    /// longer counts against the other keys (the client address).
    pub fn record_success(&self, account: &ThrottleKey, others: &[ThrottleKey]) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.remove(account);
        for key in others.iter().filter(|key| *key != account) {
            if let Some(entry) = failures.get_mut(key) {
                entry.count = entry.count.saturating_sub(1);
            }
        }
    }
}

fn count_failure(
    failures: &mut HashMap<ThrottleKey, Failures>,
    keys: &[ThrottleKey],
    now: Instant,
) {
    if failures.len() > SWEEP_ABOVE {
        failures.retain(|_, entry| now.saturating_duration_since(entry.last) < FORGET_AFTER);
    }
    for key in keys {
        let entry = failures.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.saturating_duration_since(entry.last) >= FORGET_AFTER {
            entry.count = 0;
        }
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }
}

/// The wait after `count` failures when `free` are allowed: none, then 1 s, 2 s, 4 s … capped.
fn required_wait(count: u32, free: u32) -> Option<Duration> {
    let over = count.checked_sub(free)?;
    let seconds = 1_u64.checked_shl(over.min(20)).unwrap_or(u64::MAX);
    Some(Duration::from_secs(seconds).min(MAX_WAIT))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Vec<ThrottleKey> {
        vec![ThrottleKey::Account("ada@example.com".into())]
    }

    #[test]
    fn back_off_grows_after_the_free_attempts() {
        let throttle = LoginThrottle::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check(&account(), start).is_ok());
            throttle.record_failure(&account(), start);
        }
        assert_eq!(
            throttle.check(&account(), start),
            Err(Duration::from_secs(1))
        );
        let later = start + Duration::from_secs(1);
        assert!(throttle.check(&account(), later).is_ok());
        throttle.record_failure(&account(), later);
        assert_eq!(
            throttle.check(&account(), later),
            Err(Duration::from_secs(2))
        );
    }

    #[test]
    fn waits_are_capped_and_success_forgets() {
        assert_eq!(required_wait(2, 3), None);
        assert_eq!(required_wait(3, 3), Some(Duration::from_secs(1)));
        assert_eq!(required_wait(500, 3), Some(MAX_WAIT));
        let throttle = LoginThrottle::new(1);
        let now = Instant::now();
        throttle.record_failure(&account(), now);
        assert!(throttle.check(&account(), now).is_err());
        throttle.record_success(&account()[0], &account());
        assert!(throttle.check(&account(), now).is_ok());
    }

    #[test]
    fn a_burst_of_reservations_passes_only_the_free_attempts() {
        let throttle = LoginThrottle::new(5);
        let now = Instant::now();
        let passed = (0..200)
            .filter(|_| throttle.reserve(&account(), now).is_ok())
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn clients_get_four_times_the_free_attempts() {
        let throttle = LoginThrottle::new(2);
        let client = vec![ThrottleKey::Client("10.0.0.1".into())];
        let now = Instant::now();
        for _ in 0..7 {
            throttle.record_failure(&client, now);
        }
        assert!(throttle.check(&client, now).is_ok());
        throttle.record_failure(&client, now);
        assert!(throttle.check(&client, now).is_err());
    }
}
