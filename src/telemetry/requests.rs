//! What one GraphQL request (an HTTP request, or one operation of a WebSocket) came to, as the
//! request log line and the metrics both take it: the operation, who called (by kind, never
//! the credential), the outcome, the statements sent and the time taken. Operation names and
//! error codes are client-influenced text: they are bounded here, once, before any label or log
//! field is made of them.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::{Response, Value};

use super::metrics::Metrics;
use crate::db::SqlStats;
use crate::domain::accounts::{Principal, Role};

/// Longest operation name kept as it is; a longer one (or one with other characters than
/// `A-Z a-z 0-9 _`) is logged and counted as `(invalid)`.
pub const MAX_OPERATION_NAME: usize = 64;

/// Which transport brought a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// GraphQL over HTTP (`GET` or `POST /graphql`).
    Http,
    /// One operation of a `graphql-transport-ws` socket.
    WebSocket,
}

impl Transport {
    /// The label value: `http` or `ws`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::WebSocket => "ws",
        }
    }
}

/// Who called, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// No credentials (or credentials that were refused).
    Anonymous,
    /// A signed-in customer.
    Customer,
    /// A signed-in staff member.
    Staff,
    /// A signed-in administrator.
    Admin,
    /// A partner app's API key.
    Partner,
}

impl PrincipalKind {
    /// The kind of `principal`.
    pub fn of(principal: &Principal) -> Self {
        match principal {
            Principal::Anonymous => Self::Anonymous,
            Principal::Partner(_) => Self::Partner,
            Principal::Account(account) => match account.role {
                Role::Customer => Self::Customer,
                Role::Staff => Self::Staff,
                Role::Admin => Self::Admin,
            },
        }
    }

    /// As logged.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Customer => "customer",
            Self::Staff => "staff",
            Self::Admin => "admin",
            Self::Partner => "partner",
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran; no error, no user error.
    Ok,
    /// It ran; a mutation's payload carries `userErrors` (an expected business failure).
    UserError,
    /// It ran, with errors (`extensions.code` of the first).
    Error(Cow<'static, str>),
    /// Refused before it ran: authentication, limits, cost, validation (the first error's code).
    Refused(Cow<'static, str>),
}

impl Outcome {
    /// The outcome of `response`. Only the root fields are looked at for `userErrors` (payloads
    /// are root fields' values), so this costs nothing per nested field.
    pub fn of(response: &Response) -> Self {
        let code = || {
            bounded_code(
                response
                    .errors
                    .first()
                    .and_then(|e| e.extensions.as_ref())
                    .and_then(|ext| ext.get("code")),
            )
        };
        if crate::graphql::pipeline::is_request_error(response) {
            return Self::Refused(code());
        }
        if !response.errors.is_empty() {
            return Self::Error(code());
        }
        let user_errors = match &response.data {
            Value::Object(fields) => fields.values().any(|payload| match payload {
                Value::Object(payload) => {
                    matches!(payload.get("userErrors"), Some(Value::List(errors)) if !errors.is_empty())
                }
                _ => false,
            }),
            _ => false,
        };
        if user_errors {
            Self::UserError
        } else {
            Self::Ok
        }
    }

    /// The label value: `ok`, `user_error`, `error` or `refused`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::UserError => "user_error",
            Self::Error(_) => "error",
            Self::Refused(_) => "refused",
        }
    }

    /// The error code, for errors and refusals.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Ok | Self::UserError => None,
            Self::Error(code) | Self::Refused(code) => Some(code),
        }
    }

    /// The worse of two outcomes (a subscription's, over its events): a refusal, then an
    /// error, then a user error.
    fn worst(self, other: Self) -> Self {
        let rank = |outcome: &Self| match outcome {
            Self::Ok => 0,
            Self::UserError => 1,
            Self::Error(_) => 2,
            Self::Refused(_) => 3,
        };
        if rank(&other) > rank(&self) {
            other
        } else {
            self
        }
    }
}

/// An error code as a label: Bazaar's codes are `A-Z` and `_`, at most 40 characters; anything
/// else (none, or a code some library made up) is `OTHER`.
fn bounded_code(code: Option<&Value>) -> Cow<'static, str> {
    match code {
        Some(Value::String(code))
            if !code.is_empty()
                && code.len() <= 40
                && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            Cow::Owned(code.clone())
        }
        _ => Cow::Borrowed("OTHER"),
    }
}

/// An operation name as logged and counted: the name when it is 1 to [`MAX_OPERATION_NAME`]
/// characters of `A-Z a-z 0-9 _` (every GraphQL name of that length is), `(anonymous)` without
/// one, `(invalid)` otherwise: a client cannot write arbitrary text into a log line or a label.
pub fn operation_label(name: Option<&str>) -> &str {
    match name {
        None | Some("") => "(anonymous)",
        Some(name)
            if name.len() <= MAX_OPERATION_NAME
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            name
        }
        Some(_) => "(invalid)",
    }
}

/// What one request came to.
#[derive(Debug, Clone)]
pub struct RequestSummary {
    /// The transport.
    pub transport: Transport,
    /// The operation's name as sent (or as the document names its only operation).
    pub operation: Option<String>,
    /// Who called.
    pub principal: PrincipalKind,
    /// How it ended.
    pub outcome: Outcome,
    /// SQL statements sent.
    pub statements: u64,
    /// Database calls made (round trips through the blocking pool).
    pub calls: u64,
    /// From the start of the pipeline to the answer (to the end of a subscription).
    pub duration: Duration,
}

impl RequestSummary {
    /// The operation as logged and counted (see [`operation_label`]).
    pub fn operation_label(&self) -> &str {
        operation_label(self.operation.as_deref())
    }

    /// Adds the next request of a batch (one HTTP request, one log line): the statements,
    /// calls and time of both, the worse outcome, the operation when both name the same.
    pub fn merge(&mut self, next: RequestSummary) {
        if self.operation != next.operation {
            self.operation = None;
        }
        self.outcome = self.outcome.clone().worst(next.outcome);
        self.statements += next.statements;
        self.calls += next.calls;
        self.duration += next.duration;
    }
}

/// A request under way: started when the pipeline takes it, finished with its response (or
/// responses, for a subscription). Finishing records its metrics; a WebSocket operation's
/// tracker also writes its log line when dropped (the operation ended, was completed by the
/// client, or its socket closed).
pub struct RequestTracker {
    started: Instant,
    transport: Transport,
    stats: Arc<SqlStats>,
    metrics: Metrics,
    /// The operation's name, once known.
    pub operation: Option<String>,
    /// Who called, once known.
    pub principal: PrincipalKind,
    outcome: Option<Outcome>,
    finished: bool,
    log_as: Option<String>,
}

impl RequestTracker {
    /// A request that starts now, counting its statements into `stats`.
    pub fn start(transport: Transport, stats: Arc<SqlStats>, metrics: Metrics) -> Self {
        Self {
            started: Instant::now(),
            transport,
            stats,
            metrics,
            operation: None,
            principal: PrincipalKind::Anonymous,
            outcome: None,
            finished: false,
            log_as: None,
        }
    }

    /// Finishes when dropped and writes the log line of request `request_id` (see
    /// [`log_request_line`]): a WebSocket operation's (HTTP requests get theirs from the HTTP
    /// layer, with the status).
    pub fn log_on_drop(&mut self, request_id: String) {
        self.log_as = Some(request_id);
    }

    /// Takes one response into the outcome (the worst of a subscription's events counts).
    pub fn observe(&mut self, response: &Response) {
        let outcome = Outcome::of(response);
        self.outcome = Some(match self.outcome.take() {
            Some(before) => before.worst(outcome),
            None => outcome,
        });
    }

    /// The request is over: its summary, with its metrics recorded.
    pub fn finish(&mut self) -> RequestSummary {
        self.finished = true;
        let summary = RequestSummary {
            transport: self.transport,
            operation: self.operation.clone(),
            principal: self.principal,
            outcome: self.outcome.clone().unwrap_or(Outcome::Ok),
            statements: self.stats.statements(),
            calls: self.stats.calls(),
            duration: self.started.elapsed(),
        };
        self.metrics.record_request(&summary);
        summary
    }
}

impl Drop for RequestTracker {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Some(request_id) = self.log_as.take() {
            let summary = self.finish();
            log_request_line(&request_id, None, summary.duration, Some(&summary));
        }
    }
}

/// What an HTTP request's log line adds.
#[derive(Debug, Clone, Copy)]
pub struct HttpLine<'a> {
    /// The method.
    pub method: &'a str,
    /// The path, never the query string (a GET's variables may hold tokens).
    pub path: &'a str,
    /// The status answered.
    pub status: u16,
}

/// Writes the one log line of a request (target `bazaar::access`, message `request`): its id
/// and time taken; for HTTP the method, path and status; for GraphQL (`summary`) the
/// transport, operation, kind of caller (never the credential), outcome and code, statements
/// and database calls. Absent parts leave their fields out.
pub fn log_request_line(
    request_id: &str,
    http: Option<HttpLine<'_>>,
    duration: Duration,
    summary: Option<&RequestSummary>,
) {
    tracing::info!(
        target: "bazaar::access",
        request_id,
        method = http.map(|h| h.method),
        path = http.map(|h| h.path),
        status = http.map(|h| h.status),
        duration_ms = duration_ms(duration),
        transport = summary.map(|s| s.transport.as_str()),
        operation = summary.map(RequestSummary::operation_label),
        principal = summary.map(|s| s.principal.as_str()),
        outcome = summary.map(|s| s.outcome.as_str()),
        code = summary.and_then(|s| s.outcome.code()),
        statements = summary.map(|s| s.statements),
        calls = summary.map(|s| s.calls),
        "request"
    );
}

/// A duration in milliseconds, to the microsecond.
pub fn duration_ms(duration: Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        assert_eq!(operation_label(Some("ProductPage_2")), "ProductPage_2");
        assert_eq!(operation_label(None), "(anonymous)");
        assert_eq!(operation_label(Some("")), "(anonymous)");
        assert_eq!(operation_label(Some("a\nfake line")), "(invalid)");
        assert_eq!(operation_label(Some(&"x".repeat(65))), "(invalid)");
        assert_eq!(operation_label(Some(&"x".repeat(64))), "x".repeat(64));
    }

    #[test]
    fn codes_are_bounded() {
        assert_eq!(
            bounded_code(Some(&Value::from("THROTTLED"))),
            Cow::Borrowed("THROTTLED")
        );
        assert_eq!(bounded_code(Some(&Value::from("bad code"))), "OTHER");
        assert_eq!(bounded_code(Some(&Value::from("X".repeat(41)))), "OTHER");
        assert_eq!(bounded_code(None), "OTHER");
    }
}
