//! The cost buckets of every caller, in memory, per process: charge before execution, settle
//! after, report the status for `extensions.cost`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::domain::cost::{Bucket, BucketPolicy, Refused};

/// Most buckets kept. Past it, buckets used once make way for busy ones (TinyLFU): a spray of
/// client addresses neither grows memory nor refills a busy caller's bucket.
const MOST_BUCKETS: u64 = 65_536;

/// Who a bucket belongs to: an account, or the client address of an anonymous caller.
pub type BucketKey = String;

/// What `extensions.cost.throttleStatus` reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    /// Points a full bucket holds.
    pub maximum_available: f64,
    /// Points available now.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// Every caller's bucket.
pub struct CostLimiter {
    policy: BucketPolicy,
    buckets: Cache<BucketKey, Arc<Mutex<Bucket>>>,
}

impl CostLimiter {
    /// Buckets of `capacity` points refilling at `restore_rate` points per second. A bucket idle
    /// long enough to be full again is forgotten.
    pub fn new(capacity: u32, restore_rate: u32) -> Self {
        let policy = BucketPolicy {
            capacity: f64::from(capacity),
            restore_rate: f64::from(restore_rate.max(1)),
        };
        let refill = Duration::from_secs_f64(policy.capacity / policy.restore_rate);
        Self {
            policy,
            buckets: Cache::builder()
                .max_capacity(MOST_BUCKETS)
                .time_to_idle(refill + Duration::from_secs(1))
                .build(),
        }
    }

    /// Points a full bucket holds.
    pub fn capacity(&self) -> f64 {
        self.policy.capacity
    }

    fn with_bucket<T>(&self, key: &str, work: impl FnOnce(&mut Bucket, Instant) -> T) -> T {
        let now = Instant::now();
        let bucket = self.buckets.get_with_by_ref(key, || {
            Arc::new(Mutex::new(Bucket::full(&self.policy, now)))
        });
        let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
        work(&mut bucket, now)
    }

    /// Takes `cost` points from `key`'s bucket.
    pub fn charge(&self, key: &str, cost: f64) -> Result<(), Refused> {
        self.with_bucket(key, |bucket, now| bucket.charge(&self.policy, cost, now))
    }

    /// Settles a charge to what the query actually cost.
    pub fn settle(&self, key: &str, requested: f64, actual: f64) {
        self.with_bucket(key, |bucket, now| {
            bucket.settle(&self.policy, requested, actual, now);
        });
    }

    /// The bucket of `key` now.
    pub fn status(&self, key: &str) -> ThrottleStatus {
        let available = self.with_bucket(key, |bucket, now| bucket.available(&self.policy, now));
        ThrottleStatus {
            maximum_available: self.policy.capacity,
            currently_available: available,
            restore_rate: self.policy.restore_rate,
        }
    }

    /// Seconds to wait, rounded up, as `extensions.retryAfter` says it.
    pub fn retry_after_secs(wait: Duration) -> u64 {
        wait.as_secs_f64().ceil().max(1.0) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spray_of_callers_stays_bounded_and_busy_buckets_stay_drawn() {
        let costs = CostLimiter::new(100, 1);
        assert!(costs.charge("account:1", 100.0).is_ok());
        for n in 0..(2 * MOST_BUCKETS) {
            let _ = costs.charge(&format!("client:{n}"), 1.0);
            // Refilled at 1 point a second, never full again unless it was evicted (a new
            // bucket is full): slow runs of this test (a loaded machine) refill it a little.
            if n % 1_000 == 0 {
                assert!(costs.status("account:1").currently_available < 99.0);
            }
        }
        costs.buckets.run_pending_tasks();
        assert!(costs.buckets.entry_count() <= MOST_BUCKETS);
    }
}
