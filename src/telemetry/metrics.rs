//! Prometheus metrics: a recorder of this server's own (not the process-wide one, so two servers
//! in one process count apart), handles registered once and kept, operation names bounded to
//! [`MAX_OPERATIONS`] distinct labels, and the text `/metrics` renders. Recording a request is a
//! read lock, a hash of its operation name and a few atomic adds; nothing runs per field.
//! Without `--metrics-token` or `--metrics-listen` nothing is recorded at all.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder as _, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::requests::{Outcome, RequestSummary, Transport};

/// Distinct operation names counted under their own label; later names count as `(other)`.
pub const MAX_OPERATIONS: usize = 200;

/// Labels that are no client's name, always counted: requests without an operation name, and
/// names [`operation_label`](super::requests::operation_label) refuses.
const FIXED_LABELS: [&str; 2] = ["(anonymous)", "(invalid)"];

const REQUESTS: &str = "bazaar_graphql_requests_total";
const DURATION: &str = "bazaar_graphql_request_duration_seconds";
const STATEMENTS: &str = "bazaar_graphql_request_sql_statements";
const CALLS: &str = "bazaar_graphql_request_database_calls";
const COST_REFUSALS: &str = "bazaar_cost_refusals_total";
const POOL_CONNECTIONS: &str = "bazaar_db_pool_connections";
const POOL_MAX: &str = "bazaar_db_pool_max_connections";
const POOL_WAITING: &str = "bazaar_db_pool_waiting";
const WEBHOOK_ATTEMPTS: &str = "bazaar_webhook_delivery_attempts_total";
const WEBHOOK_PENDING: &str = "bazaar_webhook_deliveries_pending";
const WEBSOCKETS: &str = "bazaar_websockets_open";
const RSS: &str = "process_resident_memory_bytes";

static METADATA: Metadata<'static> = Metadata::new("bazaar", Level::INFO, Some("bazaar"));

/// How a webhook delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookAttempt {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed and will be tried again.
    Retry,
    /// It failed for the last time: the delivery is dead, the subscription paused.
    Dead,
}

/// What is read at scrape time rather than counted as it happens.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Pooled connections open now, in use by a call.
    pub pool_in_use: u64,
    /// Pooled connections open now and idle.
    pub pool_idle: u64,
    /// Most connections the pool opens.
    pub pool_max: u64,
    /// Calls waiting for a connection now.
    pub pool_waiting: u64,
    /// Queries refused by the cost buckets since start: over a full bucket, and throttled.
    pub cost_refusals_too_complex: u64,
    /// See `cost_refusals_too_complex`.
    pub cost_refusals_throttled: u64,
    /// Webhook deliveries waiting to be sent (the shop's, the same on every instance); `None`
    /// when the database did not answer.
    pub webhook_pending: Option<u64>,
    /// WebSockets open on this instance.
    pub websockets: u64,
}

/// The metrics of one server; cheap to clone. [`Metrics::disabled`] records nothing.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Option<Arc<Inner>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.enabled())
            .finish()
    }
}

struct Inner {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    operations: RwLock<HashMap<Box<str>, OperationHandles>>,
    other: OperationHandles,
    webhooks: [Counter; 3],
    cost_refusals: [Counter; 2],
    pool: [Gauge; 4],
    webhook_pending: Gauge,
    websockets: Gauge,
    rss: Gauge,
}

/// One operation label's handles, per transport where it matters.
struct OperationHandles {
    ok: [Counter; 2],
    user_error: [Counter; 2],
    duration: [Histogram; 2],
    statements: Histogram,
    calls: Histogram,
}

fn transport_index(transport: Transport) -> usize {
    match transport {
        Transport::Http => 0,
        Transport::WebSocket => 1,
    }
}

const TRANSPORTS: [Transport; 2] = [Transport::Http, Transport::WebSocket];

impl Metrics {
    /// Records nothing, renders nothing.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// A recorder of its own, its histogram buckets and descriptions set.
    pub fn new() -> Self {
        let seconds = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let counts = [
            0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0,
        ];
        let builder = [
            (DURATION, &seconds[..]),
            (STATEMENTS, &counts),
            (CALLS, &counts),
        ]
        .into_iter()
        .fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
            // Infallible: the buckets are not empty.
            builder
                .set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new())
        });
        let recorder = builder.build_recorder();
        describe(&recorder);
        let handle = recorder.handle();
        let counter = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_counter(&key(name, labels), &METADATA)
        };
        let gauge = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_gauge(&key(name, labels), &METADATA)
        };
        let inner = Inner {
            other: OperationHandles::register(&recorder, "(other)"),
            operations: RwLock::new(
                FIXED_LABELS
                    .iter()
                    .map(|&name| (name.into(), OperationHandles::register(&recorder, name)))
                    .collect(),
            ),
            webhooks: [
                counter(WEBHOOK_ATTEMPTS, &[("outcome", "delivered")]),
                counter(WEBHOOK_ATTEMPTS, &[("outcome", "retry")]),
                counter(WEBHOOK_ATTEMPTS, &[("outcome", "dead")]),
            ],
            cost_refusals: [
                counter(COST_REFUSALS, &[("reason", "too_complex")]),
                counter(COST_REFUSALS, &[("reason", "throttled")]),
            ],
            pool: [
                gauge(POOL_CONNECTIONS, &[("state", "in_use")]),
                gauge(POOL_CONNECTIONS, &[("state", "idle")]),
                gauge(POOL_MAX, &[]),
                gauge(POOL_WAITING, &[]),
            ],
            webhook_pending: gauge(WEBHOOK_PENDING, &[]),
            websockets: gauge(WEBSOCKETS, &[]),
            rss: gauge(RSS, &[]),
            handle,
            recorder,
        };
        Self {
            inner: Some(Arc::new(inner)),
        }
    }

    /// Whether anything is recorded.
    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Counts a finished request: by operation (bounded), transport, outcome and code; its
    /// latency, statements and database calls.
    pub fn record_request(&self, summary: &RequestSummary) {
        let Some(inner) = &self.inner else {
            return;
        };
        let name = summary.operation_label();
        // A refused request does not make a name known: it may be anything that parses.
        let admit = !matches!(summary.outcome, Outcome::Refused(_));
        let known = inner
            .operations
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(handles) = known.get(name) {
            return inner.record(handles, name, summary);
        }
        let full = known.len() >= MAX_OPERATIONS + FIXED_LABELS.len();
        drop(known);
        if !admit || full {
            return inner.record(&inner.other, "(other)", summary);
        }
        let mut known = inner
            .operations
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if known.len() >= MAX_OPERATIONS + FIXED_LABELS.len() && !known.contains_key(name) {
            drop(known);
            return inner.record(&inner.other, "(other)", summary);
        }
        let handles = known
            .entry(name.into())
            .or_insert_with(|| OperationHandles::register(&inner.recorder, name));
        inner.record(handles, name, summary);
    }

    /// Counts one webhook delivery attempt.
    pub fn webhook_attempt(&self, attempt: WebhookAttempt) {
        if let Some(inner) = &self.inner {
            inner.webhooks[attempt as usize].increment(1);
        }
    }

    /// The Prometheus text of everything, with `snapshot`'s values and the process's resident
    /// memory read now. `None` when disabled.
    pub fn render(&self, snapshot: &Snapshot) -> Option<String> {
        let inner = self.inner.as_ref()?;
        let [in_use, idle, max, waiting] = &inner.pool;
        in_use.set(snapshot.pool_in_use as f64);
        idle.set(snapshot.pool_idle as f64);
        max.set(snapshot.pool_max as f64);
        waiting.set(snapshot.pool_waiting as f64);
        let [too_complex, throttled] = &inner.cost_refusals;
        too_complex.absolute(snapshot.cost_refusals_too_complex);
        throttled.absolute(snapshot.cost_refusals_throttled);
        if let Some(pending) = snapshot.webhook_pending {
            inner.webhook_pending.set(pending as f64);
        }
        inner.websockets.set(snapshot.websockets as f64);
        if let Some(rss) = resident_memory_bytes() {
            inner.rss.set(rss as f64);
        }
        Some(inner.handle.render())
    }
}

impl Inner {
    fn record(&self, handles: &OperationHandles, name: &str, summary: &RequestSummary) {
        let transport = transport_index(summary.transport);
        match &summary.outcome {
            Outcome::Ok => handles.ok[transport].increment(1),
            Outcome::UserError => handles.user_error[transport].increment(1),
            outcome @ (Outcome::Error(code) | Outcome::Refused(code)) => {
                // Errors are the rarer path: their counter is looked up in the registry.
                let labels = vec![
                    Label::new("operation", name.to_owned()),
                    Label::from_static_parts("transport", summary.transport.as_str()),
                    Label::from_static_parts("outcome", outcome.as_str()),
                    Label::new("code", code.clone().into_owned()),
                ];
                self.recorder
                    .register_counter(&Key::from_parts(REQUESTS, labels), &METADATA)
                    .increment(1);
            }
        }
        handles.duration[transport].record(summary.duration.as_secs_f64());
        handles.statements.record(summary.statements as f64);
        handles.calls.record(summary.calls as f64);
    }
}

impl OperationHandles {
    fn register(recorder: &PrometheusRecorder, name: &str) -> Self {
        let operation = || Label::new("operation", name.to_owned());
        let per_transport = |metric: &'static str, outcome: Option<&'static str>| {
            TRANSPORTS.map(|transport| {
                let mut labels = vec![
                    operation(),
                    Label::from_static_parts("transport", transport.as_str()),
                ];
                if let Some(outcome) = outcome {
                    labels.push(Label::from_static_parts("outcome", outcome));
                }
                Key::from_parts(metric, labels)
            })
        };
        Self {
            ok: per_transport(REQUESTS, Some("ok"))
                .map(|key| recorder.register_counter(&key, &METADATA)),
            user_error: per_transport(REQUESTS, Some("user_error"))
                .map(|key| recorder.register_counter(&key, &METADATA)),
            duration: per_transport(DURATION, None)
                .map(|key| recorder.register_histogram(&key, &METADATA)),
            statements: recorder
                .register_histogram(&Key::from_parts(STATEMENTS, vec![operation()]), &METADATA),
            calls: recorder
                .register_histogram(&Key::from_parts(CALLS, vec![operation()]), &METADATA),
        }
    }
}

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    Key::from_parts(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::from_static_parts(k, v))
            .collect::<Vec<_>>(),
    )
}

fn describe(recorder: &PrometheusRecorder) {
    let counters = [
        (
            REQUESTS,
            "GraphQL requests (HTTP) and WebSocket operations, by operation name, transport, outcome (ok, user_error, error, refused) and error code",
        ),
        (
            COST_REFUSALS,
            "Queries refused by the cost buckets: too_complex (over a full bucket) or throttled (over what the bucket holds now)",
        ),
        (
            WEBHOOK_ATTEMPTS,
            "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), dead (failed for the last time)",
        ),
    ];
    for (name, help) in counters {
        recorder.describe_counter(name.into(), None, help.into());
    }
    let histograms = [
        (
            DURATION,
            Some(Unit::Seconds),
            "Time from taking a GraphQL request to its answer (for a subscription, to its end)",
        ),
        (STATEMENTS, None, "SQL statements one GraphQL request sent"),
        (
            CALLS,
            None,
            "Database calls (round trips through the blocking pool) one GraphQL request made",
        ),
    ];
    for (name, unit, help) in histograms {
        recorder.describe_histogram(name.into(), unit, help.into());
    }
    let gauges = [
        (
            POOL_CONNECTIONS,
            Some(Unit::Count),
            "Pooled database connections open, by state: in_use or idle",
        ),
        (POOL_MAX, None, "Most database connections the pool opens"),
        (
            POOL_WAITING,
            None,
            "Database calls waiting for a pooled connection",
        ),
        (
            WEBHOOK_PENDING,
            None,
            "Webhook deliveries waiting to be sent or retried (the shop's: the same on every instance)",
        ),
        (WEBSOCKETS, None, "WebSockets open on this instance"),
        (RSS, Some(Unit::Bytes), "Resident memory of the process"),
    ];
    for (name, unit, help) in gauges {
        recorder.describe_gauge(name.into(), unit, help.into());
    }
}

/// The process's resident memory, from `/proc/self/statm` (Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * rustix::param::page_size() as u64)
}

/// Folds the histograms' recent samples into their buckets every few seconds (memory stays
/// flat between scrapes) on the current actix runtime; ends with it.
pub fn spawn_upkeep(metrics: &Metrics) {
    let Some(inner) = &metrics.inner else {
        return;
    };
    let weak = Arc::downgrade(inner);
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else {
                return;
            };
            inner.handle.run_upkeep();
        }
    });
}
