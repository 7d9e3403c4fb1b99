//! Background work that every instance runs: the reconcile job (asks the payment provider about
//! attempts whose outcome is not known) and the reservation sweep (cancels orders left unpaid
//! too long and gives their stock back), and the event log's pruning. Each item is claimed by
//! one instance at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer), so
//! running them everywhere does each piece of work once. When the server stops, a round under
//! way finishes and no new one starts.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::db::Db;
use crate::services::background::Background;
use crate::services::payments::PaymentGateway;
use crate::services::payments::flow;
use crate::services::{events, orders};

/// How often the jobs run.
#[derive(Debug, Clone, Copy)]
pub struct JobSchedule {
    /// Between two reconcile rounds.
    pub reconcile_every: Duration,
    /// Between two reservation sweeps.
    pub sweep_every: Duration,
    /// How long an unpaid order keeps its stock.
    pub unpaid_order_ttl: Duration,
    /// Between two prunings of the event log.
    pub prune_every: Duration,
    /// Days the event log keeps events.
    pub event_retention_days: u32,
}

impl JobSchedule {
    /// The schedule for orders that stay reserved `unpaid_order_minutes`: the sweep runs ten
    /// times per reservation period (at least every 5 s, at most every minute).
    /// The event log is pruned hourly to `event_retention_days`.
    pub fn new(unpaid_order_minutes: u32, event_retention_days: u32) -> Self {
        let ttl = Duration::from_secs(u64::from(unpaid_order_minutes) * 60);
        Self {
            reconcile_every: Duration::from_secs(15),
            sweep_every: (ttl / 10).clamp(Duration::from_secs(5), Duration::from_secs(60)),
            unpaid_order_ttl: ttl,
            prune_every: Duration::from_secs(3600),
            event_retention_days,
        }
    }
}

/// Starts the jobs as `background` work: each runs a round every period until the server stops.
pub fn spawn(
    background: &Background,
    db: Db,
    gateway: Arc<dyn PaymentGateway>,
    schedule: JobSchedule,
) {
    let reconcile_db = db.clone();
    let prune_db = db.clone();
    every(background, schedule.prune_every, move || {
        let db = prune_db.clone();
        async move {
            match events::prune(&db, schedule.event_retention_days).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "event log pruned"),
                Err(error) => tracing::warn!(?error, "event log pruning failed"),
            }
        }
    });
    every(background, schedule.reconcile_every, move || {
        let (db, gateway) = (reconcile_db.clone(), gateway.clone());
        async move {
            match flow::reconcile_due(&db, &gateway).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "reconcile: asked the provider"),
                Err(error) => tracing::warn!(?error, "reconcile round failed"),
            }
        }
    });
    every(background, schedule.sweep_every, move || {
        let db = db.clone();
        async move {
            let ttl = chrono::Duration::from_std(schedule.unpaid_order_ttl)
                .unwrap_or(chrono::Duration::minutes(30));
            match orders::expire_unpaid(&db, Utc::now().naive_utc() - ttl).await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "unpaid orders expired; stock returned"),
                Err(error) => tracing::warn!(?error, "reservation sweep failed"),
            }
        }
    });
}

/// Runs `round` at once and then every `period`, as `background` work, until the server stops
/// (a round under way finishes first).
pub fn every<R, F>(background: &Background, period: Duration, mut round: R)
where
    R: FnMut() -> F + Send + 'static,
    F: Future<Output = ()> + Send,
{
    let stopping = background.clone();
    background.spawn(async move {
        let mut tick = actix_web::rt::time::interval(period);
        loop {
            tokio::select! {
                biased;
                () = stopping.stopping() => return,
                _ = tick.tick() => {}
            }
            round().await;
        }
    });
}
