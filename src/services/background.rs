//! Work that outlives the request or tick that started it (mail, the jobs' rounds, webhook
//! sending): run on the server's main runtime and tracked, so that a graceful stop lets it
//! finish within a grace period instead of dropping it with the worker that spawned it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_rt::{Arbiter, ArbiterHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Background work of one server: where it runs, what is still running, and whether the server
/// is stopping. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Background {
    /// The main runtime's arbiter, which lives until the server has stopped (an actix worker's
    /// runtime ends with its worker, and a task spawned there with it).
    runtime: ArbiterHandle,
    tracker: TaskTracker,
    stopping: CancellationToken,
    stop_began: Arc<Mutex<Option<Instant>>>,
}

impl Background {
    /// Background work on the current arbiter: call it on the main runtime, before the server's
    /// workers start.
    pub fn on_current_runtime() -> Self {
        Self {
            runtime: Arbiter::current(),
            tracker: TaskTracker::new(),
            stopping: CancellationToken::new(),
            stop_began: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs `work` on the main runtime; a graceful stop waits for it.
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        if !self.runtime.spawn(self.tracker.track_future(work)) {
            tracing::error!("background work refused: the server's runtime has stopped");
        }
    }

    /// Resolves once the server begins to stop: a loop waits on it between rounds and starts no
    /// new one after it.
    pub async fn stopping(&self) {
        self.stopping.cancelled().await;
    }

    /// Whether the server has begun to stop.
    pub fn is_stopping(&self) -> bool {
        self.stopping.is_cancelled()
    }

    /// Tells every loop to start no new round; work under way goes on. The grace period of
    /// [`Self::finish`] counts from the first call.
    pub fn begin_stop(&self) {
        self.stop_began
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert_with(Instant::now);
        self.stopping.cancel();
    }

    /// Waits for the work under way until `grace` after [`Self::begin_stop`]; whether all of it
    /// finished.
    pub async fn finish(&self, grace: Duration) -> bool {
        self.begin_stop();
        let began = self
            .stop_began
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or_else(Instant::now);
        self.tracker.close();
        let deadline = began + grace;
        let wait = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(wait, self.tracker.wait())
            .await
            .is_ok()
    }

    /// How many pieces of work are under way.
    pub fn under_way(&self) -> usize {
        self.tracker.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[actix_web::test]
    async fn a_stop_waits_for_work_under_way_and_loops_stop_between_rounds() {
        let background = Background::on_current_runtime();
        let done = Arc::new(AtomicBool::new(false));
        let rounds = Arc::new(Mutex::new(0));
        background.spawn({
            let done = done.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                done.store(true, Ordering::SeqCst);
            }
        });
        background.spawn({
            let (background, rounds) = (background.clone(), rounds.clone());
            async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(10)) => {}
                        () = background.stopping() => return,
                    }
                    *rounds.lock().unwrap() += 1;
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(background.finish(Duration::from_secs(10)).await);
        assert!(done.load(Ordering::SeqCst), "the work under way finished");
        let after_stop = *rounds.lock().unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            *rounds.lock().unwrap(),
            after_stop,
            "no round after the stop"
        );
        assert_eq!(background.under_way(), 0);
    }

    #[actix_web::test]
    async fn a_stop_gives_up_on_work_that_outlasts_the_grace_period() {
        let background = Background::on_current_runtime();
        background.spawn(tokio::time::sleep(Duration::from_secs(3600)));
        assert!(!background.finish(Duration::from_millis(50)).await);
        assert_eq!(background.under_way(), 1);
    }
}
