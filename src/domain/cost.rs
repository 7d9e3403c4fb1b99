//! Query cost throttling as a leaky bucket, in the manner of Shopify's GraphQL Admin API: each
//! caller has a bucket of cost points that refills at a steady rate; a query is charged its
//! requested cost up front and settled to its actual cost once it has run.

use std::time::{Duration, Instant};

/// The size and refill rate of every bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketPolicy {
    /// Points a full bucket holds; also the most one query may request.
    pub capacity: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// One caller's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    available: f64,
    updated: Instant,
}

/// Why a query may not run now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refused {
    /// The query costs more than a full bucket holds: it can never run.
    TooExpensive,
    /// Not enough points now; this long until there are.
    Throttled {
        /// Time until the bucket holds the requested cost.
        retry_after: Duration,
    },
}

impl Bucket {
    /// A full bucket.
    pub fn full(policy: &BucketPolicy, now: Instant) -> Self {
        Self {
            available: policy.capacity,
            updated: now,
        }
    }

    fn refill(&mut self, policy: &BucketPolicy, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.available = (self.available + elapsed * policy.restore_rate).min(policy.capacity);
        self.updated = now;
    }

    /// Points available at `now`.
    pub fn available(&mut self, policy: &BucketPolicy, now: Instant) -> f64 {
        self.refill(policy, now);
        self.available
    }

    /// Takes `cost` points if the bucket holds them.
    pub fn charge(
        &mut self,
        policy: &BucketPolicy,
        cost: f64,
        now: Instant,
    ) -> Result<(), Refused> {
        if cost > policy.capacity {
            return Err(Refused::TooExpensive);
        }
        self.refill(policy, now);
        if cost > self.available {
            let missing = cost - self.available;
            return Err(Refused::Throttled {
                retry_after: Duration::from_secs_f64(missing / policy.restore_rate),
            });
        }
        self.available -= cost;
        Ok(())
    }

    /// Settles a charge of `requested` points to `actual`: refunds the difference, or takes the
    /// extra (never below empty).
    pub fn settle(&mut self, policy: &BucketPolicy, requested: f64, actual: f64, now: Instant) {
        self.refill(policy, now);
        self.available = (self.available + requested - actual).clamp(0.0, policy.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BucketPolicy = BucketPolicy {
        capacity: 100.0,
        restore_rate: 10.0,
    };

    #[test]
    fn drains_refills_and_says_when_to_retry() {
        let start = Instant::now();
        let mut bucket = Bucket::full(&POLICY, start);
        assert!(bucket.charge(&POLICY, 60.0, start).is_ok());
        assert_eq!(
            bucket.charge(&POLICY, 60.0, start),
            Err(Refused::Throttled {
                retry_after: Duration::from_secs(2)
            })
        );
        let later = start + Duration::from_secs(2);
        assert!(bucket.charge(&POLICY, 60.0, later).is_ok());
        assert_eq!(bucket.available(&POLICY, later), 0.0);
        // Refill stops at the capacity.
        let much_later = later + Duration::from_secs(3600);
        assert_eq!(bucket.available(&POLICY, much_later), 100.0);
    }

    #[test]
    fn refuses_what_a_full_bucket_cannot_pay() {
        let now = Instant::now();
        let mut bucket = Bucket::full(&POLICY, now);
        assert_eq!(
            bucket.charge(&POLICY, 101.0, now),
            Err(Refused::TooExpensive)
        );
        assert_eq!(bucket.available(&POLICY, now), 100.0);
    }

    #[test]
    fn settles_to_the_actual_cost() {
        let now = Instant::now();
        let mut bucket = Bucket::full(&POLICY, now);
        bucket.charge(&POLICY, 50.0, now).unwrap();
        bucket.settle(&POLICY, 50.0, 20.0, now);
        assert_eq!(bucket.available(&POLICY, now), 80.0);
        bucket.settle(&POLICY, 10.0, 500.0, now);
        assert_eq!(bucket.available(&POLICY, now), 0.0, "never below empty");
    }
}
