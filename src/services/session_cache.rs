//! Sessions recently found live, kept for a few seconds so that a signed-in caller's next
//! requests skip the session lookup. Ending a session or changing an account's role or password
//! drops the entries on every instance at once (through the bus), and no entry answers while the
//! bus may be missing changes; the lifetime bounds what a change behind the bus's back (a
//! database restored under a running server) could leave.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::domain::accounts::AccountPrincipal;
use crate::domain::ids::AccountId;

/// Most sessions remembered; the least recently used go first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(10_000).unwrap();

/// Live sessions by token hash, each until a deadline.
pub struct SessionCache {
    lifetime: Duration,
    state: Mutex<State>,
}

struct State {
    entries: LruCache<String, Entry>,
    /// Bumped whenever entries are dropped, so that a lookup that started before the drop
    /// cannot put back what was dropped.
    generation: u64,
}

struct Entry {
    caller: AccountPrincipal,
    until: Instant,
}

/// Taken before a database lookup and handed back to [`SessionCache::remember`].
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl SessionCache {
    /// A cache that keeps each session for `lifetime`; zero keeps nothing.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            state: Mutex::new(State {
                entries: LruCache::new(CAPACITY),
                generation: 0,
            }),
        }
    }

    /// The caller behind this token hash, if it was found live less than the lifetime ago.
    pub fn get(&self, token_hash: &str, now: Instant) -> Option<AccountPrincipal> {
        if self.lifetime.is_zero() {
            return None;
        }
        let mut state = self.lock();
        match state.entries.get(token_hash) {
            Some(entry) if entry.until > now => Some(entry.caller),
            Some(_) => {
                state.entries.pop(token_hash);
                None
            }
            None => None,
        }
    }

    /// Where the cache stands before a lookup.
    pub fn generation(&self) -> Generation {
        Generation(self.lock().generation)
    }

    /// Remembers a session found live, for the lifetime or `live_for`, whichever is shorter,
    /// unless entries were dropped since `before` was taken.
    pub fn remember(
        &self,
        before: Generation,
        token_hash: String,
        caller: AccountPrincipal,
        live_for: Duration,
        now: Instant,
    ) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut state = self.lock();
        if state.generation == before.0 {
            let until = now + self.lifetime.min(live_for);
            state.entries.put(token_hash, Entry { caller, until });
        }
    }

    /// Drops one session.
    pub fn forget_session(&self, session_id: i64) {
        self.forget(|caller| caller.session_id == session_id);
    }

    /// Drops every session of an account.
    pub fn forget_account(&self, account: AccountId) {
        self.forget(|caller| caller.account_id == account);
    }

    /// Drops everything (the bus reconnected and may have missed a change).
    pub fn forget_all(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.entries.clear();
    }

    fn forget(&self, matches: impl Fn(&AccountPrincipal) -> bool) {
        let mut state = self.lock();
        state.generation += 1;
        let gone: Vec<String> = state
            .entries
            .iter()
            .filter(|(_, entry)| matches(&entry.caller))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            state.entries.pop(&key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding the lock.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::accounts::Role;

    fn caller(account: i64, session_id: i64) -> AccountPrincipal {
        AccountPrincipal {
            account_id: AccountId(account),
            role: Role::Customer,
            session_id,
        }
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn keeps_a_session_for_its_lifetime_or_until_it_ends_if_sooner() {
        let cache = SessionCache::new(5 * SECOND);
        let now = Instant::now();
        cache.remember(
            cache.generation(),
            "a".into(),
            caller(1, 10),
            60 * SECOND,
            now,
        );
        cache.remember(
            cache.generation(),
            "b".into(),
            caller(2, 20),
            2 * SECOND,
            now,
        );
        assert_eq!(cache.get("a", now + 4 * SECOND), Some(caller(1, 10)));
        assert_eq!(cache.get("a", now + 5 * SECOND), None);
        assert_eq!(cache.get("b", now + SECOND), Some(caller(2, 20)));
        assert_eq!(cache.get("b", now + 2 * SECOND), None);
        assert_eq!(cache.get("c", now), None);
    }

    #[test]
    fn forgets_a_session_or_an_account_at_once() {
        let cache = SessionCache::new(5 * SECOND);
        let now = Instant::now();
        for (key, account, session) in [("a", 1, 10), ("b", 1, 11), ("c", 2, 20)] {
            cache.remember(
                cache.generation(),
                key.into(),
                caller(account, session),
                SECOND,
                now,
            );
        }
        cache.forget_session(10);
        assert_eq!(cache.get("a", now), None);
        assert_eq!(cache.get("b", now), Some(caller(1, 11)));
        cache.forget_account(AccountId(1));
        assert_eq!(cache.get("b", now), None);
        assert_eq!(cache.get("c", now), Some(caller(2, 20)));
    }

    #[test]
    fn a_lookup_that_raced_a_revocation_is_not_remembered() {
        let cache = SessionCache::new(5 * SECOND);
        let now = Instant::now();
        let before = cache.generation();
        cache.forget_account(AccountId(1));
        cache.remember(before, "a".into(), caller(1, 10), SECOND, now);
        assert_eq!(cache.get("a", now), None);
    }

    #[test]
    fn a_zero_lifetime_keeps_nothing() {
        let cache = SessionCache::new(Duration::ZERO);
        let now = Instant::now();
        cache.remember(cache.generation(), "a".into(), caller(1, 10), SECOND, now);
        assert_eq!(cache.get("a", now), None);
    }
}
