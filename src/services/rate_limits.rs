//! Rate limits on actions that are cheap to ask for and costly to grant or abuse: a guest
//! checkout (reserves stock), a password-reset request (mail bombing), a discount code (code
//! guessing), a sign-up, a payment attempt (card testing). Each is limited per target (the email,
//! the cart, the order) and per client address, with a GCRA limiter per key: in Redis when
//! limits are shared (one allowance whichever instance is asked), else (and whenever Redis does
//! not answer) in this process (governor), held in a bounded cache (moka) that forgets a key once
//! its allowance has fully recovered.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use moka::sync::Cache;

use crate::error::{AppError, AppResult};
use crate::services::shared_limits::SharedLimits;

/// Most keys one limit remembers. Past it, keys seen once make way for busy ones (TinyLFU), so a
/// spray of addresses neither grows memory nor frees the keys under attack.
const MOST_KEYS: u64 = 65_536;
/// Longest target kept as a key (longer ones are cut: they still count as one target).
const LONGEST_KEY_CHARS: usize = 256;

/// At most `burst` actions per key at once, refilled at `per_hour` an hour.
pub struct KeyedLimit {
    /// Its name among the keys in Redis.
    name: &'static str,
    quota: Quota,
    limiters: Cache<String, Arc<DefaultDirectRateLimiter>>,
}

impl KeyedLimit {
    /// A limit named `name` of `per_hour` actions an hour per key, all of which may come at once.
    pub fn per_hour(name: &'static str, per_hour: NonZeroU32) -> Self {
        Self::new(name, Quota::per_hour(per_hour), Duration::from_secs(3_600))
    }

    /// A key idle for `recovery` has its whole allowance back, so it is forgotten then.
    fn new(name: &'static str, quota: Quota, recovery: Duration) -> Self {
        Self {
            name,
            quota,
            limiters: Cache::builder()
                .max_capacity(MOST_KEYS)
                .time_to_idle(recovery)
                .build(),
        }
    }

    /// Counts one action for `key`, in Redis when `shared` is given and answers, else here;
    /// when over the limit, how long until the next one is allowed.
    pub async fn check(&self, key: &str, shared: Option<&SharedLimits>) -> Result<(), Duration> {
        let key: String = key.chars().take(LONGEST_KEY_CHARS).collect();
        if let Some(shared) = shared
            && let Some(outcome) = shared
                .admit(
                    self.name,
                    &key,
                    self.quota.replenish_interval(),
                    self.quota.burst_size().get(),
                )
                .await
        {
            return outcome;
        }
        self.check_here(key)
    }

    /// Counts one action for `key` in this process.
    fn check_here(&self, key: String) -> Result<(), Duration> {
        let limiter = self
            .limiters
            .get_with(key, || Arc::new(RateLimiter::direct(self.quota)));
        limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// An action limited per target and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// A checkout without an account (per address only).
    GuestCheckout,
    /// `passwordResetRequest`: per email, per address.
    PasswordResetRequest,
    /// `cartDiscountCodeApply`: per cart, per address.
    DiscountCodeApply,
    /// `accountRegister`: per address.
    Register,
    /// `orderPay`: per order, per address.
    Pay,
}

/// Every rate limit, per target and per client address.
pub struct RateLimits {
    enabled: bool,
    shared: Option<Arc<SharedLimits>>,
    guest_checkout: KeyedLimit,
    reset_per_email: KeyedLimit,
    reset_per_address: KeyedLimit,
    discount_per_cart: KeyedLimit,
    discount_per_address: KeyedLimit,
    register_per_address: KeyedLimit,
    pay_per_order: KeyedLimit,
    pay_per_address: KeyedLimit,
}

fn hourly(name: &'static str, n: u32) -> KeyedLimit {
    KeyedLimit::per_hour(name, NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    /// The limits: `guest_checkouts_per_hour` per address for guest checkouts, and fixed hourly
    /// allowances for the rest (see README "Abuse"). `enabled: false` lifts them all (tests).
    pub fn new(enabled: bool, guest_checkouts_per_hour: u32) -> Self {
        Self {
            enabled,
            shared: None,
            guest_checkout: hourly("guest-checkout:address", guest_checkouts_per_hour),
            reset_per_email: hourly("password-reset:email", 3),
            reset_per_address: hourly("password-reset:address", 20),
            discount_per_cart: hourly("discount-code:cart", 10),
            discount_per_address: hourly("discount-code:address", 30),
            register_per_address: hourly("sign-up:address", 10),
            pay_per_order: hourly("payment:order", 10),
            pay_per_address: hourly("payment:address", 30),
        }
    }

    /// The same allowances kept in Redis, shared by every instance (this process's own while
    /// Redis does not answer).
    pub fn shared_through(mut self, shared: Option<Arc<SharedLimits>>) -> Self {
        self.shared = shared;
        self
    }

    /// Counts one `action` on `target` from `address`; `RATE_LIMITED` (with the wait) when
    /// either allowance is spent. Targets are normalised (trimmed, lower-case) and capped, so
    /// variants of one email count as one.
    pub async fn admit(
        &self,
        action: Limited,
        target: Option<&str>,
        address: Option<&str>,
    ) -> AppResult<()> {
        if !self.enabled {
            return Ok(());
        }
        let (per_target, per_address) = match action {
            Limited::GuestCheckout => (None, &self.guest_checkout),
            Limited::PasswordResetRequest => (Some(&self.reset_per_email), &self.reset_per_address),
            Limited::DiscountCodeApply => {
                (Some(&self.discount_per_cart), &self.discount_per_address)
            }
            Limited::Register => (None, &self.register_per_address),
            Limited::Pay => (Some(&self.pay_per_order), &self.pay_per_address),
        };
        let refused = |wait: Duration| AppError::RateLimited {
            retry_after_secs: wait.as_secs().max(1),
        };
        let shared = self.shared.as_deref();
        per_address
            .check(address.unwrap_or("unknown"), shared)
            .await
            .map_err(refused)?;
        if let (Some(limit), Some(target)) = (per_target, target) {
            limit
                .check(&target.trim().to_lowercase(), shared)
                .await
                .map_err(refused)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_allowance() {
        let limit = KeyedLimit::per_hour("test", NonZeroU32::new(2).unwrap());
        assert!(limit.check_here("a".into()).is_ok());
        assert!(limit.check_here("a".into()).is_ok());
        let wait = limit.check_here("a".into()).unwrap_err();
        assert!(wait > Duration::from_secs(60) && wait <= Duration::from_secs(1_800));
        assert!(limit.check_here("b".into()).is_ok());
    }

    #[test]
    fn a_spray_of_keys_stays_bounded() {
        let limit = KeyedLimit::per_hour("test", NonZeroU32::new(1).unwrap());
        assert!(limit.check_here("target".into()).is_ok());
        for n in 0..(2 * MOST_KEYS) {
            let _ = limit.check_here(format!("10.0.{}.{}", n >> 8, n & 255));
            if n % 1_000 == 0 {
                assert!(
                    limit.check_here("target".into()).is_err(),
                    "the busy key keeps its count"
                );
            }
        }
        limit.limiters.run_pending_tasks();
        assert!(limit.limiters.entry_count() <= MOST_KEYS);
    }
}
