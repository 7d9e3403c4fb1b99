//! Per-client rate limits on actions that are cheap to ask for and costly to grant (a guest
//! checkout reserves stock): a GCRA limiter per client address (governor), whose idle entries
//! are dropped by [`KeyedLimit::forget_idle`].

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// At most `burst` actions per key at once, refilled at `per_hour` an hour.
pub struct KeyedLimit {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl KeyedLimit {
    /// A limit of `per_hour` actions an hour per key, all of which may come at once.
    pub fn per_hour(per_hour: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_hour(per_hour)),
        }
    }

    /// Counts one action for `key`; when over the limit, how long until the next one is allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Drops the keys whose limit has fully recovered (call now and then: memory stays bounded
    /// by the keys active within one period).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_allowance() {
        let limit = KeyedLimit::per_hour(NonZeroU32::new(2).unwrap());
        assert!(limit.check("a").is_ok());
        assert!(limit.check("a").is_ok());
        let wait = limit.check("a").unwrap_err();
        assert!(wait > Duration::from_secs(60) && wait <= Duration::from_secs(1_800));
        assert!(limit.check("b").is_ok());
    }
}
