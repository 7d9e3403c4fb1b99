//! Logging, tracing and metrics: the subscriber set up once at start-up, filtered by `RUST_LOG`,
//! the span-carrying way onto a blocking thread, what a request came to ([`requests`]) and the
//! Prometheus metrics ([`metrics`]).

pub mod metrics;
pub mod requests;

use std::io::IsTerminal as _;

use tracing::Instrument as _;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::error::{AppError, AppResult};

/// Installs the global tracing subscriber. Later calls (as in tests) leave the first one in place.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person watching a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // Ignore the error: a subscriber is already installed (several apps in one test binary).
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// Runs blocking `work` (database calls, password hashing) on the runtime's blocking pool, inside
/// a child of the caller's span, so nothing slow ever runs on an actix worker thread.
pub async fn spawn_blocking_in_span<T, F>(name: &'static str, work: F) -> AppResult<T>
where
    F: FnOnce() -> AppResult<T> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::debug_span!("blocking", task = name);
    let inner = span.clone();
    actix_web::rt::task::spawn_blocking(move || inner.in_scope(work))
        .instrument(span)
        .await
        .map_err(|join| AppError::internal(anyhow::anyhow!("{name} task failed: {join}")))?
}
