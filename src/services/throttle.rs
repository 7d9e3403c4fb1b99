//! Sign-in throttling: after a few failures per key (an account's email, a client address) each
//! further attempt must wait twice as long as the one before, up to a ceiling. In Redis when
//! limits are shared (every instance counts the same failures); in memory, per process, in
//! bounded caches (moka) that forget a key an hour after its last failure, otherwise and
//! whenever Redis does not answer.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::services::shared_limits::SharedLimits;

/// Longest wait between attempts.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Most keys of each kind kept. Past it, keys seen once make way for busy ones (TinyLFU), so a
/// spray of addresses or emails neither grows memory nor wipes the failures of an account under
/// attack; accounts and addresses are kept apart so that one kind cannot crowd out the other.
const MOST_KEYS: u64 = 65_536;
/// Longest key kept: an email's longest legal length; addresses are far shorter.
const LONGEST_KEY_CHARS: usize = 254;

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

impl ThrottleKey {
    /// The key of an account named by `email` (or any other stable name), trimmed, in lower
    /// case and cut to the longest email, so that spellings of one email count as one.
    pub fn account(email: &str) -> Self {
        Self::Account(
            email
                .trim()
                .chars()
                .take(LONGEST_KEY_CHARS)
                .collect::<String>()
                .to_lowercase(),
        )
    }

    /// The key of a client address.
    pub fn client(address: &str) -> Self {
        Self::Client(address.chars().take(LONGEST_KEY_CHARS).collect())
    }

    /// Its kind and name in Redis.
    fn redis_name(&self) -> (&'static str, &str) {
        match self {
            Self::Account(name) => ("login:account", name),
            Self::Client(name) => ("login:client", name),
        }
    }
}

/// Failure counts with growing back-off.
pub struct LoginThrottle {
    free_per_account: u32,
    free_per_client: u32,
    accounts: Cache<String, Failures>,
    clients: Cache<String, Failures>,
    /// Checking and counting several keys is one step.
    step: Mutex<()>,
    shared: Option<Arc<SharedLimits>>,
}

fn failure_cache() -> Cache<String, Failures> {
    Cache::builder()
        .max_capacity(MOST_KEYS)
        .time_to_idle(FORGET_AFTER)
        .build()
}

impl LoginThrottle {
    /// Allows `free_attempts` failures per account (four times as many per client address)
    /// before back-off starts.
    pub fn new(free_attempts: u32) -> Self {
        Self {
            free_per_account: free_attempts,
            free_per_client: free_attempts.saturating_mul(4),
            accounts: failure_cache(),
            clients: failure_cache(),
            step: Mutex::new(()),
            shared: None,
        }
    }

    /// The same counts kept in Redis, shared by every instance (this process's own while
    /// Redis does not answer).
    pub fn shared_through(mut self, shared: Option<Arc<SharedLimits>>) -> Self {
        self.shared = shared;
        self
    }

    /// Takes an attempt for `keys` now, counted as a failure until
    /// [`Self::record_success`] says otherwise, or `Err(wait)` when any of them must wait: in
    /// Redis when limits are shared, else (or when it does not answer) here; see
    /// [`Self::reserve_at`].
    pub async fn reserve(&self, keys: &[ThrottleKey]) -> Result<(), Duration> {
        if let Some(shared) = &self.shared {
            let named: Vec<(&str, &str, u32)> = keys
                .iter()
                .map(|key| {
                    let (kind, name) = key.redis_name();
                    (kind, name, self.cache_of(key).2)
                })
                .collect();
            if let Some(outcome) = shared.reserve_sign_in(&named, MAX_WAIT, FORGET_AFTER).await {
                return outcome;
            }
        }
        self.reserve_at(keys, Instant::now())
    }

    /// A reserved attempt succeeded: the account's failures are forgotten, and the attempt no
    /// longer counts against the other keys (the client address). In Redis when limits are
    /// shared, else (or when it does not answer) here.
    pub async fn record_success(&self, account: &ThrottleKey, others: &[ThrottleKey]) {
        if let Some(shared) = &self.shared {
            let others: Vec<(&str, &str)> = others.iter().map(ThrottleKey::redis_name).collect();
            if shared
                .sign_in_succeeded(account.redis_name(), &others)
                .await
                .is_some()
            {
                return;
            }
        }
        self.record_success_here(account, others);
    }

    fn cache_of<'k>(&self, key: &'k ThrottleKey) -> (&Cache<String, Failures>, &'k String, u32) {
        match key {
            ThrottleKey::Account(name) => (&self.accounts, name, self.free_per_account),
            ThrottleKey::Client(name) => (&self.clients, name, self.free_per_client),
        }
    }

    fn one_step(&self) -> std::sync::MutexGuard<'_, ()> {
        self.step.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(wait)` when any of `keys` must wait before another attempt.
    pub fn check(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let _step = self.one_step();
        self.wait_of(keys, now)
    }

    /// Takes an attempt for `keys` in this process at `now`, counted as a failure until
    /// [`Self::record_success_here`] says otherwise, or `Err(wait)` when any of them must
    /// wait: checked and counted in one step, so a burst of concurrent attempts cannot all pass
    /// the check before any is counted.
    pub fn reserve_at(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let _step = self.one_step();
        self.wait_of(keys, now)?;
        self.count_failure(keys, now);
        Ok(())
    }

    fn wait_of(&self, keys: &[ThrottleKey], now: Instant) -> Result<(), Duration> {
        let wait = keys
            .iter()
            .filter_map(|key| {
                let (cache, name, free) = self.cache_of(key);
                let entry = cache.get(name)?;
                let required = required_wait(entry.count, free)?;
                required.checked_sub(now.saturating_duration_since(entry.last))
            })
            .filter(|wait| !wait.is_zero())
            .max();
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed attempt against every key.
    pub fn record_failure(&self, keys: &[ThrottleKey], now: Instant) {
        let _step = self.one_step();
        self.count_failure(keys, now);
    }

    fn count_failure(&self, keys: &[ThrottleKey], now: Instant) {
        for key in keys {
            let (cache, name, _) = self.cache_of(key);
            let count = match cache.get(name) {
                Some(entry) if now.saturating_duration_since(entry.last) < FORGET_AFTER => {
                    entry.count
                }
                _ => 0,
            };
            let failures = Failures {
                count: count.saturating_add(1),
                last: now,
            };
            cache.insert(name.clone(), failures);
        }
    }

    /// [`Self::record_success`] in this process.
    pub fn record_success_here(&self, account: &ThrottleKey, others: &[ThrottleKey]) {
        let _step = self.one_step();
        let (cache, name, _) = self.cache_of(account);
        cache.invalidate(name);
        for key in others.iter().filter(|key| *key != account) {
            let (cache, name, _) = self.cache_of(key);
            if let Some(mut entry) = cache.get(name) {
                entry.count = entry.count.saturating_sub(1);
                cache.insert(name.clone(), entry);
            }
        }
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
        vec![ThrottleKey::account(" Ada@Example.com")]
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
        throttle.record_success_here(&account()[0], &account());
        assert!(throttle.check(&account(), now).is_ok());
    }

    #[test]
    fn a_burst_of_reservations_passes_only_the_free_attempts() {
        let throttle = LoginThrottle::new(5);
        let now = Instant::now();
        let passed = (0..200)
            .filter(|_| throttle.reserve_at(&account(), now).is_ok())
            .count();
        assert_eq!(passed, 5);
    }

    #[test]
    fn clients_get_four_times_the_free_attempts() {
        let throttle = LoginThrottle::new(2);
        let client = vec![ThrottleKey::client("10.0.0.1")];
        let now = Instant::now();
        for _ in 0..7 {
            throttle.record_failure(&client, now);
        }
        assert!(throttle.check(&client, now).is_ok());
        throttle.record_failure(&client, now);
        assert!(throttle.check(&client, now).is_err());
    }

    #[test]
    fn a_spray_of_keys_stays_bounded_and_keeps_an_account_under_attack_throttled() {
        let throttle = LoginThrottle::new(2);
        let now = Instant::now();
        let target = account();
        for _ in 0..3 {
            let _ = throttle.reserve_at(&target, now);
        }
        assert!(throttle.check(&target, now).is_err());
        for n in 0..(2 * MOST_KEYS) {
            let sprayed = [ThrottleKey::client(&format!(
                "10.{}.{}.{}",
                n >> 16,
                (n >> 8) & 255,
                n & 255
            ))];
            let _ = throttle.reserve_at(&sprayed, now);
        }
        // Spraying emails to push the target out works no better while the target is still
        // being tried (each try costs a password check, so a spray is slow to begin with).
        for n in 0..(2 * MOST_KEYS) {
            let _ = throttle.reserve_at(&[ThrottleKey::account(&format!("{n}@example.com"))], now);
            if n % 1_000 == 0 {
                assert!(throttle.reserve_at(&target, now).is_err());
            }
        }
        throttle.clients.run_pending_tasks();
        throttle.accounts.run_pending_tasks();
        assert!(throttle.clients.entry_count() <= MOST_KEYS);
        assert!(throttle.accounts.entry_count() <= MOST_KEYS);
        assert!(
            throttle.check(&target, now).is_err(),
            "the account is still throttled"
        );
    }

    #[test]
    fn keys_are_normalised_and_capped() {
        assert_eq!(
            ThrottleKey::account(" Ada@Example.COM "),
            ThrottleKey::account("ada@example.com")
        );
        let ThrottleKey::Account(long) = ThrottleKey::account(&"a".repeat(100_000)) else {
            unreachable!()
        };
        assert_eq!(long.len(), LONGEST_KEY_CHARS);
    }
}
