//! The cost buckets of every caller, in memory, per process: charge before execution, settle
//! after, report the status for `extensions.cost`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::cost::{Bucket, BucketPolicy, Refused};

/// Buckets untouched this long are full again and can be forgotten.
const SWEEP_ABOVE: usize = 10_000;

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
    buckets: Mutex<HashMap<BucketKey, Bucket>>,
}

impl CostLimiter {
    /// Buckets of `capacity` points refilling at `restore_rate` points per second.
    pub fn new(capacity: u32, restore_rate: u32) -> Self {
        Self {
            policy: BucketPolicy {
                capacity: f64::from(capacity),
                restore_rate: f64::from(restore_rate.max(1)),
            },
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Points a full bucket holds.
    pub fn capacity(&self) -> f64 {
        self.policy.capacity
    }

    fn with_bucket<T>(&self, key: &str, work: impl FnOnce(&mut Bucket, Instant) -> T) -> T {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > SWEEP_ABOVE {
            let policy = self.policy;
            buckets.retain(|_, bucket| bucket.available(&policy, now) < policy.capacity);
        }
        let bucket = buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::full(&self.policy, now));
        work(bucket, now)
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
