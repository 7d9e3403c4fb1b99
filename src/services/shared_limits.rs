//! Limits shared by every instance through Redis (`--redis-url`): the cost buckets, the sign-in
//! throttle and the hourly abuse limits, each step one atomic Lua script (one round trip) on
//! Redis's clock, under namespaced keys that expire once they hold nothing worth keeping.
//! Every call is bounded by a short timeout; when Redis is unreachable or fails, the call answers
//! `None` and the caller uses its own in-process limiter. The loss is logged once (an error) and
//! the recovery once (info); while Redis is lost, one call a second tries it again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, Script, ScriptInvocation};

use crate::domain::cost::{BucketPolicy, Refused};

/// How long a lost Redis is left alone before one call tries it again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// A cost bucket: `HMGET` its points and when they were counted, refill them at the restore
/// rate up to the capacity, then (by `ARGV[1]`) take a charge, settle one, or only read. A
/// bucket that is not full expires when it would be full again.
///
/// `KEYS[1]`: the bucket. `ARGV`: mode (`charge`, `settle`, `status`), capacity, restore rate
/// per second, then the cost (`charge`) or the requested and actual costs (`settle`).
/// Returns `{ short, available, wait }`: `short` is 1 when a charge was refused, and `wait` the
/// seconds until the bucket holds the cost.
const COST_SCRIPT: &str = r"
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'available', 'updated')
local available = tonumber(state[1])
local updated = tonumber(state[2])
if available == nil or updated == nil then
  available = capacity
  updated = now
end
available = math.min(capacity, available + math.max(0, now - updated) * rate)
local function keep()
  local until_full = (capacity - available) / rate
  if until_full <= 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 'available', string.format('%.17g', available),
      'updated', string.format('%.17g', now))
    redis.call('PEXPIRE', KEYS[1], math.ceil(until_full * 1000) + 1000)
  end
end
local mode = ARGV[1]
if mode == 'charge' then
  local cost = tonumber(ARGV[4])
  if cost > available then
    return { 1, string.format('%.17g', available), string.format('%.17g', (cost - available) / rate) }
  end
  available = available - cost
  keep()
elseif mode == 'settle' then
  available = math.min(capacity, math.max(0, available + tonumber(ARGV[4]) - tonumber(ARGV[5])))
  keep()
end
return { 0, string.format('%.17g', available), '0' }
";

/// A sign-in attempt: refused while any key must still wait (after its free failures, 1 s,
/// 2 s, 4 s … since its last failure, up to the longest wait), else counted as a failure
/// against every key. Failures are forgotten a while after the last one.
///
/// `KEYS`: the throttled keys. `ARGV[1]`: the longest wait (s); `ARGV[2]`: forget after (s);
/// `ARGV[2 + i]`: the free failures of `KEYS[i]`. Returns the wait in seconds, `0` when the
/// attempt was counted.
const SIGN_IN_RESERVE_SCRIPT: &str = r"
local longest = tonumber(ARGV[1])
local forget_after = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local counts = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local state = redis.call('HMGET', key, 'count', 'last')
  local count = tonumber(state[1]) or 0
  local last = tonumber(state[2]) or now
  if now - last >= forget_after then
    count = 0
  end
  counts[i] = count
  local free = tonumber(ARGV[2 + i])
  if count >= free then
    local required = math.min(2 ^ math.min(count - free, 20), longest)
    wait = math.max(wait, required - (now - last))
  end
end
if wait > 0 then
  return string.format('%.17g', wait)
end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'count', counts[i] + 1, 'last', string.format('%.17g', now))
  redis.call('EXPIRE', key, forget_after)
end
return '0'
";

/// A reserved sign-in succeeded: `KEYS[1]` (the account) forgets its failures, and each other
/// key counts one failure fewer.
const SIGN_IN_SUCCESS_SCRIPT: &str = r"
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if KEYS[i] ~= KEYS[1] then
    local count = tonumber(redis.call('HGET', KEYS[i], 'count'))
    if count ~= nil then
      redis.call('HSET', KEYS[i], 'count', math.max(0, count - 1))
    end
  end
end
return 0
";

/// GCRA, as governor computes it: `KEYS[1]` holds the theoretical arrival time (s); an action
/// is allowed from `tat - interval × (burst - 1)` on and moves it to `max(tat, now) + interval`.
/// The key expires when its allowance is whole again.
///
/// `ARGV[1]`: the emission interval (s); `ARGV[2]`: the burst. Returns the wait in seconds, `0`
/// when the action was counted.
const GCRA_SCRIPT: &str = r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local allowed_at = tat - interval * (burst - 1)
if now < allowed_at then
  return string.format('%.17g', allowed_at - now)
end
local next_tat = math.max(tat, now) + interval
redis.call('SET', KEYS[1], string.format('%.17g', next_tat), 'PX', math.ceil((next_tat - now) * 1000))
return '0'
";

/// Where the shared limits live and how long a call may wait for Redis.
#[derive(Clone)]
pub struct SharedLimitsSettings {
    /// `redis://[:password@]host[:port][/db]`.
    pub url: String,
    /// Every key starts with this and a colon.
    pub prefix: String,
    /// The longest one call waits for Redis before the caller's own limiter answers.
    pub timeout: Duration,
}

/// A connection to the Redis that holds the limits every instance shares.
pub struct SharedLimits {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    health: Health,
    cost: Script,
    sign_in_reserve: Script,
    sign_in_success: Script,
    gcra: Script,
}

impl SharedLimits {
    /// A connection made on first use (and remade whenever it is lost), so that a server starts
    /// and serves whether Redis is there or not. A URL Redis cannot take is an error. Must run
    /// inside the server's runtime.
    pub fn connect(settings: &SharedLimitsSettings) -> anyhow::Result<Self> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|error| {
            anyhow::anyhow!("--redis-url {}: {error}", crate::db::redact(&settings.url))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(settings.timeout))
            .set_response_timeout(Some(settings.timeout))
            // No retries inside a call: a call that fails falls back at once, and the next
            // attempt is ours to time (`RETRY_EVERY`).
            .set_number_of_retries(0);
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| anyhow::anyhow!("Redis connection: {error}"))?;
        tracing::info!(
            url = %crate::db::redact(&settings.url),
            prefix = %settings.prefix,
            "limits are shared through Redis"
        );
        Ok(Self {
            connection,
            prefix: settings.prefix.clone(),
            timeout: settings.timeout,
            health: Health::new(),
            cost: Script::new(COST_SCRIPT),
            sign_in_reserve: Script::new(SIGN_IN_RESERVE_SCRIPT),
            sign_in_success: Script::new(SIGN_IN_SUCCESS_SCRIPT),
            gcra: Script::new(GCRA_SCRIPT),
        })
    }

    /// The Redis key of `kind` and `name`: `<prefix>:<kind>:<name>`.
    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.prefix)
    }

    /// Runs one script invocation, bounded by the timeout; `None` (and the loss noted) when
    /// Redis does not answer in time or fails.
    async fn run<T: FromRedisValue>(&self, invocation: &ScriptInvocation<'_>) -> Option<T> {
        if !self.health.may_try() {
            return None;
        }
        let mut connection = self.connection.clone();
        let outcome =
            tokio::time::timeout(self.timeout, invocation.invoke_async::<T>(&mut connection)).await;
        match outcome {
            Ok(Ok(value)) => {
                self.health.answered(&self.prefix);
                Some(value)
            }
            Ok(Err(error)) => {
                self.health.failed(&self.prefix, &error.to_string());
                None
            }
            Err(_) => {
                let reason = format!("no answer within {} ms", self.timeout.as_millis());
                self.health.failed(&self.prefix, &reason);
                None
            }
        }
    }

    async fn cost_step(
        &self,
        key: &str,
        policy: &BucketPolicy,
        mode: &str,
        amounts: &[f64],
    ) -> Option<(i64, f64, f64)> {
        let mut invocation = self.cost.key(self.key("cost", key));
        invocation
            .arg(mode)
            .arg(policy.capacity)
            .arg(policy.restore_rate);
        for amount in amounts {
            invocation.arg(*amount);
        }
        let (short, available, wait): (i64, String, String) = self.run(&invocation).await?;
        Some((short, seconds(&available), seconds(&wait)))
    }

    /// Takes `cost` points from the bucket of `key` (`cost` at most the capacity).
    pub async fn charge_cost(
        &self,
        key: &str,
        policy: &BucketPolicy,
        cost: f64,
    ) -> Option<Result<(), Refused>> {
        let (short, _, wait) = self.cost_step(key, policy, "charge", &[cost]).await?;
        Some(if short == 0 {
            Ok(())
        } else {
            Err(Refused::Throttled {
                retry_after: duration(wait),
            })
        })
    }

    /// Settles a charge of `requested` points to `actual`; the points available after.
    pub async fn settle_cost(
        &self,
        key: &str,
        policy: &BucketPolicy,
        requested: f64,
        actual: f64,
    ) -> Option<f64> {
        let (_, available, _) = self
            .cost_step(key, policy, "settle", &[requested, actual])
            .await?;
        Some(available)
    }

    /// The points the bucket of `key` holds now.
    pub async fn available_cost(&self, key: &str, policy: &BucketPolicy) -> Option<f64> {
        let (_, available, _) = self.cost_step(key, policy, "status", &[]).await?;
        Some(available)
    }

    /// Takes a sign-in attempt for each `(kind, name, free failures)`, or the wait when any must
    /// wait; see [`SIGN_IN_RESERVE_SCRIPT`].
    pub async fn reserve_sign_in(
        &self,
        keys: &[(&str, &str, u32)],
        longest_wait: Duration,
        forget_after: Duration,
    ) -> Option<Result<(), Duration>> {
        let mut invocation = self.sign_in_reserve.prepare_invoke();
        invocation
            .arg(longest_wait.as_secs_f64())
            .arg(forget_after.as_secs());
        for (kind, name, free) in keys {
            invocation.key(self.key(kind, name)).arg(*free);
        }
        let wait: String = self.run(&invocation).await?;
        Some(refusal(seconds(&wait)))
    }

    /// A reserved sign-in succeeded: the account `(kind, name)` forgets its failures; `others`
    /// count one fewer.
    pub async fn sign_in_succeeded(
        &self,
        account: (&str, &str),
        others: &[(&str, &str)],
    ) -> Option<()> {
        let mut invocation = self.sign_in_success.key(self.key(account.0, account.1));
        for (kind, name) in others {
            invocation.key(self.key(kind, name));
        }
        self.run::<i64>(&invocation).await.map(|_| ())
    }

    /// Counts one action of `limit` for `key` (at most `burst` at once, one more every
    /// `interval`), or the wait until one is allowed.
    pub async fn admit(
        &self,
        limit: &str,
        key: &str,
        interval: Duration,
        burst: u32,
    ) -> Option<Result<(), Duration>> {
        let mut invocation = self.gcra.key(self.key(&format!("rate:{limit}"), key));
        invocation.arg(interval.as_secs_f64()).arg(burst);
        let wait: String = self.run(&invocation).await?;
        Some(refusal(seconds(&wait)))
    }
}

/// A number of seconds a script returned (0 for anything that is not a finite number ≥ 0).
fn seconds(text: &str) -> f64 {
    text.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite() && *value >= 0.0)
        .unwrap_or(0.0)
}

fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
}

/// `Ok` for no wait, else the wait.
fn refusal(wait: f64) -> Result<(), Duration> {
    if wait > 0.0 {
        Err(duration(wait))
    } else {
        Ok(())
    }
}

/// Whether Redis answers: the loss and the recovery are logged once each, and a lost Redis is
/// tried by one call every [`RETRY_EVERY`].
struct Health {
    started: Instant,
    lost: AtomicBool,
    /// Milliseconds since `started` from which the next call may try a lost Redis.
    retry_at_ms: AtomicU64,
}

impl Health {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            lost: AtomicBool::new(false),
            retry_at_ms: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this call should ask Redis: always while it answers; once it is lost, one call
    /// per [`RETRY_EVERY`].
    fn may_try(&self) -> bool {
        if !self.lost.load(Ordering::Acquire) {
            return true;
        }
        let now = self.now_ms();
        let retry_at = self.retry_at_ms.load(Ordering::Acquire);
        now >= retry_at
            && self
                .retry_at_ms
                .compare_exchange(
                    retry_at,
                    now.saturating_add(retry_every_ms()),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn answered(&self, prefix: &str) {
        if self.lost.swap(false, Ordering::AcqRel) {
            tracing::info!(
                prefix,
                "Redis answers again: limits are shared by every instance again"
            );
        }
    }

    fn failed(&self, prefix: &str, reason: &str) {
        self.retry_at_ms.store(
            self.now_ms().saturating_add(retry_every_ms()),
            Ordering::Release,
        );
        if !self.lost.swap(true, Ordering::AcqRel) {
            tracing::error!(
                prefix,
                reason,
                "Redis is unreachable: each instance enforces its own limits until it answers again"
            );
        }
    }
}

fn retry_every_ms() -> u64 {
    u64::try_from(RETRY_EVERY.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_redis_is_tried_by_one_call_a_second() {
        let health = Health::new();
        assert!(health.may_try());
        health.failed("test", "refused");
        assert!(!health.may_try(), "not again at once");
        health.retry_at_ms.store(0, Ordering::Release);
        assert!(health.may_try(), "one call tries it");
        assert!(!health.may_try(), "and only one");
        health.answered("test");
        assert!(health.may_try());
    }

    #[test]
    fn script_numbers_are_read_safely() {
        assert_eq!(seconds("1.5"), 1.5);
        assert_eq!(seconds("0"), 0.0);
        assert_eq!(seconds("-3"), 0.0);
        assert_eq!(seconds("nan"), 0.0);
        assert_eq!(seconds("inf"), 0.0);
        assert_eq!(seconds("junk"), 0.0);
        assert_eq!(refusal(0.0), Ok(()));
        assert_eq!(refusal(2.0), Err(Duration::from_secs(2)));
    }
}
