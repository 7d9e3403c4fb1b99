//! The cost buckets of every caller: charge before execution, settle after, report the status
//! for `extensions.cost`. In Redis when limits are shared (one budget per caller whichever
//! instance it calls); in memory, per process, otherwise and whenever Redis does not answer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::domain::cost::{Bucket, BucketPolicy, Refused};
use crate::services::shared_limits::SharedLimits;

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
    /// This process's buckets: the only ones without Redis, the fallback with it.
    buckets: Cache<BucketKey, Arc<Mutex<Bucket>>>,
    shared: Option<Arc<SharedLimits>>,
    /// Charges refused since start: over a full bucket, and throttled (for the metrics).
    refused: [AtomicU64; 2],
}

/// Charges a [`CostLimiter`] refused since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    /// The query costs more than a full bucket (`QUERY_TOO_COMPLEX`).
    pub too_expensive: u64,
    /// The bucket holds too little now (`THROTTLED`).
    pub throttled: u64,
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
            shared: None,
            refused: Default::default(),
        }
    }

    /// Charges refused since start.
    pub fn refusals(&self) -> Refusals {
        Refusals {
            too_expensive: self.refused[0].load(Ordering::Relaxed),
            throttled: self.refused[1].load(Ordering::Relaxed),
        }
    }

    /// The same buckets kept in Redis, shared by every instance (this process's own while
    /// Redis does not answer).
    pub fn shared_through(mut self, shared: Option<Arc<SharedLimits>>) -> Self {
        self.shared = shared;
        self
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
    pub async fn charge(&self, key: &str, cost: f64) -> Result<(), Refused> {
        let outcome = self.charge_anywhere(key, cost).await;
        if let Err(refused) = &outcome {
            let index = match refused {
                Refused::TooExpensive => 0,
                Refused::Throttled { .. } => 1,
            };
            self.refused[index].fetch_add(1, Ordering::Relaxed);
        }
        outcome
    }

    async fn charge_anywhere(&self, key: &str, cost: f64) -> Result<(), Refused> {
        if cost > self.policy.capacity {
            return Err(Refused::TooExpensive);
        }
        if let Some(shared) = &self.shared
            && let Some(outcome) = shared.charge_cost(key, &self.policy, cost).await
        {
            return outcome;
        }
        self.charge_here(key, cost)
    }

    /// Settles a charge to what the query actually cost; the bucket after.
    pub async fn settle(&self, key: &str, requested: f64, actual: f64) -> ThrottleStatus {
        if let Some(shared) = &self.shared
            && let Some(available) = shared
                .settle_cost(key, &self.policy, requested, actual)
                .await
        {
            return self.status_of(available);
        }
        self.settle_here(key, requested, actual)
    }

    /// The bucket of `key` now.
    pub async fn status(&self, key: &str) -> ThrottleStatus {
        if let Some(shared) = &self.shared
            && let Some(available) = shared.available_cost(key, &self.policy).await
        {
            return self.status_of(available);
        }
        self.status_here(key)
    }

    /// Takes `cost` points from this process's bucket of `key`.
    fn charge_here(&self, key: &str, cost: f64) -> Result<(), Refused> {
        self.with_bucket(key, |bucket, now| bucket.charge(&self.policy, cost, now))
    }

    /// Settles a charge in this process's bucket of `key`; the bucket after.
    fn settle_here(&self, key: &str, requested: f64, actual: f64) -> ThrottleStatus {
        let available = self.with_bucket(key, |bucket, now| {
            bucket.settle(&self.policy, requested, actual, now);
            bucket.available(&self.policy, now)
        });
        self.status_of(available)
    }

    /// This process's bucket of `key` now. A caller without a bucket has a full one, and
    /// asking does not make one: a refused request (a flood from sprayed addresses) leaves
    /// nothing behind.
    fn status_here(&self, key: &str) -> ThrottleStatus {
        let available = match self.buckets.get(key) {
            Some(bucket) => {
                let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
                bucket.available(&self.policy, Instant::now())
            }
            None => self.policy.capacity,
        };
        self.status_of(available)
    }

    fn status_of(&self, available: f64) -> ThrottleStatus {
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
        assert!(costs.charge_here("account:1", 100.0).is_ok());
        for n in 0..(2 * MOST_BUCKETS) {
            let _ = costs.charge_here(&format!("client:{n}"), 1.0);
            // Refilled at 1 point a second, never full again unless it was evicted (a new
            // bucket is full): slow runs of this test (a loaded machine) refill it a little.
            if n % 1_000 == 0 {
                assert!(costs.status_here("account:1").currently_available < 99.0);
            }
        }
        costs.buckets.run_pending_tasks();
        assert!(costs.buckets.entry_count() <= MOST_BUCKETS);
    }

    #[actix_web::test]
    async fn asking_for_a_status_or_being_refused_leaves_no_bucket_behind() {
        let costs = CostLimiter::new(100, 1);
        assert_eq!(costs.status("client:new").await.currently_available, 100.0);
        assert_eq!(
            costs.charge("client:new", 101.0).await,
            Err(Refused::TooExpensive)
        );
        costs.buckets.run_pending_tasks();
        assert_eq!(costs.buckets.entry_count(), 0);
    }
}
