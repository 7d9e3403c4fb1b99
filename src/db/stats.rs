//! Per-request SQL statement counting: a diesel instrumentation on every pooled connection adds
//! to the counter of the request whose work is running on the current thread.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// What one request did in the database.
#[derive(Debug, Default)]
pub struct SqlStats {
    statements: AtomicU64,
    calls: AtomicU64,
}

impl SqlStats {
    /// SQL statements sent so far.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Database calls so far: each takes a pooled connection on a blocking thread and sends one
    /// or more statements. Every call costs a round trip through the thread pool, whatever it
    /// sends.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<SqlStats>>> = const { RefCell::new(None) };
}

/// Counts a database call into `stats`, and this thread's statements until the guard drops.
pub(super) fn count_into(stats: Option<Arc<SqlStats>>) -> CountingGuard {
    if let Some(stats) = &stats {
        stats.calls.fetch_add(1, Ordering::Relaxed);
    }
    CURRENT.with(|current| *current.borrow_mut() = stats);
    CountingGuard
}

/// Stops counting when dropped.
pub(super) struct CountingGuard;

impl Drop for CountingGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

/// The instrumentation installed on every pooled connection.
#[derive(Debug, Default)]
pub(super) struct StatementCounter;

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            CURRENT.with(|current| {
                if let Some(stats) = current.borrow().as_ref() {
                    stats.statements.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }
}
