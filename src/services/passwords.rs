//! Password hashing with bcrypt, with a dummy verification for unknown accounts so that timing
//! does not tell which emails have one.
//!
//! Password work has its own bounded capacity: a few long-lived password threads (one per core
//! but one, by default; never the blocking threads the database calls share), each taking one
//! bcrypt at a time, and a request that cannot get a turn within [`MAX_WAIT`] is answered
//! `SERVICE_UNAVAILABLE`. A request given up while waiting (its timeout, a closed connection)
//! never starts its hash. Password threads run in the idle scheduling class and leave a core
//! free, so that a flood of sign-ins slows sign-ins rather than the shop: measured, two cores
//! both kept busy at nice 19 still took the shop's p99 from 5 ms to 70–90 ms; one core at nice
//! 19 beside the soak's abuse, 3.2 → 11–15 ms; the same core in the idle class, 3.3 → 7–8.5 ms.

use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

use crate::domain::accounts::{PASSWORD_MAX_BYTES, Password};
use crate::error::{AppError, AppResult};

/// Longest wait for a turn at password work.
pub const MAX_WAIT: Duration = Duration::from_secs(2);

fn dummy_hash_of_cost(cost: u32) -> String {
    bcrypt::hash("not anyone's password", cost).unwrap_or_default()
}

fn busy() -> AppError {
    AppError::ServiceUnavailable(Arc::new(anyhow::anyhow!(
        "every password check is busy; the request waited {} s",
        MAX_WAIT.as_secs()
    )))
}

/// Puts the calling thread in the idle scheduling class (`SCHED_IDLE`): it runs only on CPU time
/// that the threads serving requests leave, is preempted the moment one of them wakes, and a
/// core running only it counts as free when the kernel places a woken thread. Nice 19 is not
/// enough: a nice-19 thread keeps its core until the next scheduler tick. Where the policy is
/// refused, nice 19 is the fallback.
fn yield_to_serving() {
    use thread_priority::unix::{
        NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    let Err(error) = set_thread_priority_and_policy(
        thread_native_id(),
        thread_priority::ThreadPriority::Min,
        idle,
    ) else {
        return;
    };
    tracing::debug!(
        ?error,
        "password thread not in the idle class; nice 19 instead"
    );
    if let Err(error) = rustix::process::setpriority_process(None, 19) {
        tracing::debug!(%error, "password thread keeps its priority");
    }
}

type PasswordJob = Box<dyn FnOnce() + Send>;

/// Starts `count` password threads taking jobs from the returned sender; they end when every
/// clone of it is dropped. A thread the system refuses is logged; with none, every job fails.
fn start_password_threads(count: usize) -> mpsc::Sender<PasswordJob> {
    let (jobs, queue) = mpsc::channel::<PasswordJob>();
    let queue = Arc::new(Mutex::new(queue));
    for n in 0..count {
        let queue = queue.clone();
        let started = std::thread::Builder::new()
            .name(format!("bcrypt-{n}"))
            .spawn(move || {
                yield_to_serving();
                loop {
                    let next = queue
                        .lock()
                        .map_err(drop)
                        .and_then(|q| q.recv().map_err(drop));
                    let Ok(job) = next else { return };
                    // A job that panics loses its answer (its caller is told), not the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            });
        if let Err(error) = started {
            tracing::error!(%error, "a password thread could not start");
        }
    }
    jobs
}

/// Hashes and verifies passwords at the configured cost.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    dummy_hash: Arc<OnceLock<String>>,
    turns: Arc<Semaphore>,
    threads: mpsc::Sender<PasswordJob>,
}

impl PasswordHasher {
    /// A hasher making hashes of bcrypt `cost` on `workers` password threads. The dummy hash is
    /// made on a background thread at once, so that not even the first unknown-email sign-in
    /// takes longer than the others.
    pub fn new(cost: u32, workers: usize) -> Self {
        let dummy_hash = Arc::new(OnceLock::new());
        let warming = dummy_hash.clone();
        std::thread::spawn(move || {
            warming.get_or_init(|| dummy_hash_of_cost(cost));
        });
        let workers = workers.max(1);
        Self {
            cost,
            dummy_hash,
            turns: Arc::new(Semaphore::new(workers)),
            threads: start_password_threads(workers),
        }
    }

    /// Runs `work` on a password thread once a turn is free (waiting at most [`MAX_WAIT`]); there
    /// are as many turns as threads, so a job with a turn never queues. The turn is held until
    /// `work` ends, even if the caller stops waiting for its result.
    async fn in_turn<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        let turn = tokio::time::timeout(MAX_WAIT, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let (done, result) = oneshot::channel();
        let span = tracing::Span::current();
        self.threads
            .send(Box::new(move || {
                let _turn = turn;
                let _entered = span.enter();
                let _ = done.send(work());
            }))
            .map_err(|_| AppError::internal(anyhow::anyhow!("no password thread is running")))?;
        result.await.map_err(|_| {
            AppError::internal(anyhow::anyhow!("password work ended without a result"))
        })?
    }

    /// The bcrypt hash of `password`.
    pub async fn hash(&self, password: Password) -> AppResult<String> {
        let cost = self.cost;
        self.in_turn(move || bcrypt::hash(password.expose(), cost).map_err(AppError::internal))
            .await
    }

    /// Whether `password` matches `stored_hash`. Without a stored hash (no such account) it
    /// verifies against a dummy hash of the same cost and answers `false`, taking as long.
    pub async fn verify(&self, password: String, stored_hash: Option<String>) -> AppResult<bool> {
        let cost = self.cost;
        let dummy = self.dummy_hash.clone();
        self.in_turn(move || {
            let dummy_hash = || dummy.get_or_init(|| dummy_hash_of_cost(cost)).clone();
            // Longer passwords were never accepted, so they cannot match; bcrypt would only
            // compare their first 72 bytes.
            let comparable = password.len() <= PASSWORD_MAX_BYTES;
            let (hash, real) = match stored_hash {
                Some(hash) if comparable => (hash, true),
                _ => (dummy_hash(), false),
            };
            let matches = bcrypt::verify(&password, &hash).unwrap_or(false);
            Ok(real && matches)
        })
        .await
    }
}
