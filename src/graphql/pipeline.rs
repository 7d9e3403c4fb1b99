//! One request pipeline for both transports (HTTP and WebSocket): catch up with the bus,
//! authenticate, resolve a persisted document, parse and check the limits, price and charge the
//! cost, execute under the time budget (or start a subscription), settle the cost, and apply the
//! error policy. The transports only read their frames and write the answers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value, Variables, value};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use serde_json::{Map, Value as Json};
use tracing::Instrument as _;

use crate::db::{Db, SqlStats};
use crate::domain::accounts::Principal;
use crate::error::{AppError, AppResult, codes};
use crate::graphql::documents::DocumentCache;
use crate::graphql::limits::{self, QueryLimits};
use crate::graphql::persisted::PersistedQueries;
use crate::graphql::query_cost::CostModel;
use crate::graphql::response_order::Selections;
use crate::graphql::{AppSchema, RequestContext, input_rules, loaders};
use crate::services::accounts::Accounts;
use crate::services::bus::Bus;
use crate::services::cost::CostLimiter;
use crate::services::partners;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::requests::{PrincipalKind, RequestSummary, RequestTracker, Transport};

/// The parameters of one GraphQL request, whichever transport brought it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params {
    /// The document; absent when a persisted query hash stands for it.
    pub query: Option<String>,
    /// Which operation of the document to run.
    pub operation_name: Option<String>,
    /// Variable values.
    pub variables: Option<Map<String, Json>>,
    /// Protocol extensions (persisted queries).
    pub extensions: Option<Map<String, Json>>,
}

/// Who calls, as the transport learnt it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The authenticated principal.
    pub principal: Principal,
    /// The client's address (behind trusted proxies: the one they report).
    pub client_address: Option<String>,
}

/// What a transport may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Queries only (HTTP GET).
    Queries,
    /// Queries and mutations (HTTP POST).
    QueriesAndMutations,
    /// Anything, subscriptions included (WebSocket).
    Everything,
}

/// What every request shares: the schema and the request-wide services and settings.
pub struct Pipeline {
    /// The GraphQL schema.
    pub schema: AppSchema,
    /// The database pool.
    pub db: Db,
    /// Sessions (the pipeline authenticates with them).
    pub accounts: Arc<Accounts>,
    /// What changed, here and on other instances.
    pub bus: Arc<Bus>,
    /// Document limits checked before and after parsing.
    pub limits: QueryLimits,
    /// The callers' cost buckets.
    pub costs: Arc<CostLimiter>,
    /// What operations cost.
    pub cost_model: CostModel,
    /// Documents parsed before.
    pub documents: DocumentCache,
    /// Persisted and allowed documents.
    pub persisted: PersistedQueries,
    /// How long one query or mutation may run.
    pub request_timeout: Duration,
    /// Add `extensions.sql` to responses.
    pub debug_extensions: bool,
    /// Where finished requests are counted.
    pub metrics: Metrics,
}

/// A request checked and charged, ready to run.
struct Prepared {
    request: async_graphql::Request,
    document: Arc<ExecutableDocument>,
    writes: bool,
    subscribes: bool,
}

/// Whose cost bucket a request is charged to, and how much it was charged up front.
struct CostTicket {
    key: String,
    requested: Option<f64>,
}

impl Pipeline {
    /// The caller an `Authorization` value (`Bearer <session token or API key>`) proves;
    /// anonymous without one. A malformed value or one that names no live session or key is
    /// `UNAUTHENTICATED`. Catches up with the bus first, so that no cache answers for a
    /// session ended or a role changed anywhere before this call, and none answers at all
    /// while the bus may be missing changes.
    pub async fn authenticate(&self, db: &Db, authorization: Option<&str>) -> AppResult<Principal> {
        let heard_every_change = self.bus.catch_up();
        let Some(value) = authorization else {
            return Ok(Principal::Anonymous);
        };
        let token = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "the Authorization header must be `Bearer <session token or API key>`".into(),
                )
            })?;
        if partners::is_api_key(token) {
            return Ok(Principal::Partner(partners::authenticate(db, token).await?));
        }
        self.accounts
            .authenticate(db, token, heard_every_change)
            .await
    }

    /// Runs one query or mutation for the caller `authorization` proves (see
    /// [`authenticate`](Self::authenticate); a failure answers as a request error): the
    /// response with the error policy applied and the cost (and, when enabled, SQL)
    /// extensions, and what the request came to (its metrics recorded).
    pub async fn execute(
        &self,
        authorization: Option<&str>,
        client_address: Option<String>,
        params: Params,
        allowed: Allowed,
        request_id: &str,
    ) -> (Response, RequestSummary) {
        let stats = Arc::new(SqlStats::default());
        let mut tracker =
            RequestTracker::start(Transport::Http, stats.clone(), self.metrics.clone());
        tracker.operation = params.operation_name.clone();
        let db = self.db.with_stats(stats.clone());
        let caller = self
            .authenticate(&db, authorization)
            .await
            .map(|principal| Caller {
                principal,
                client_address,
            });
        if let Ok(caller) = &caller {
            tracker.principal = PrincipalKind::of(&caller.principal);
        }
        let mut ticket = None;
        let mut actual_cost = 0;
        let mut response = match self
            .prepare(
                caller,
                &db,
                params,
                allowed,
                &mut ticket,
                &mut tracker.operation,
            )
            .await
        {
            Err(error) => Response::from_errors(vec![error]),
            Ok(prepared) if prepared.subscribes => Response::from_errors(vec![coded_error(
                "subscriptions run over WebSocket (graphql-transport-ws) at this URL".to_owned(),
                codes::BAD_USER_INPUT,
            )]),
            Ok(Prepared {
                request,
                document,
                writes,
                ..
            }) => {
                let operation_name = request.operation_name.clone();
                let span = tracing::info_span!(
                    "graphql",
                    operation = operation_name.as_deref().unwrap_or("")
                );
                let changes_before = self.bus.authority_changes();
                let execution = self.schema.execute(request).instrument(span);
                match actix_web::rt::time::timeout(self.request_timeout, execution).await {
                    Ok(mut response) => {
                        if writes && self.bus.authority_changes() != changes_before {
                            self.settle_everywhere().await;
                        }
                        let selections = Selections::of(&document, operation_name.as_deref());
                        selections.restore(&mut response.data);
                        actual_cost = selections.count_fields(&response.data);
                        response
                    }
                    Err(_) => {
                        tracing::warn!(timeout = ?self.request_timeout, "request timed out");
                        Response::from_errors(vec![coded_error(
                            format!(
                                "the request took longer than {} s",
                                self.request_timeout.as_secs()
                            ),
                            "TIMEOUT",
                        )])
                    }
                }
            }
        };
        apply_error_policy(&mut response, request_id);
        if let Some(ticket) = &ticket {
            self.settle(&mut response, ticket, Some(actual_cost as f64))
                .await;
        }
        if self.debug_extensions {
            response.extensions.insert(
                "sql".to_owned(),
                value!({ "statements": stats.statements(), "calls": stats.calls() }),
            );
        }
        tracker.observe(&response);
        let summary = tracker.finish();
        (response, summary)
    }

    /// Starts one operation of a WebSocket: a subscription's stream of responses, or the one
    /// response of a query or mutation. A request refused before it ran (limits, cost,
    /// validation) is `Err` with its errors. The cost is charged when it starts. The tracker
    /// counts the operation's statements; the transport shows it each response.
    pub async fn subscribe(
        &self,
        caller: &Caller,
        params: Params,
        request_id: String,
    ) -> (
        RequestTracker,
        Result<BoxStream<'static, Response>, Vec<ServerError>>,
    ) {
        let stats = Arc::new(SqlStats::default());
        let mut tracker =
            RequestTracker::start(Transport::WebSocket, stats.clone(), self.metrics.clone());
        tracker.operation = params.operation_name.clone();
        tracker.principal = PrincipalKind::of(&caller.principal);
        let db = self.db.with_stats(stats);
        let mut ticket = None;
        let prepared = match self
            .prepare(
                Ok(caller.clone()),
                &db,
                params,
                Allowed::Everything,
                &mut ticket,
                &mut tracker.operation,
            )
            .await
        {
            Ok(prepared) => prepared,
            Err(error) => return (tracker, Err(vec![error])),
        };
        let cost = match ticket {
            Some(ticket) => {
                let mut extensions = Response::new(Value::Null);
                self.settle(&mut extensions, &ticket, None).await;
                Some(extensions.extensions)
            }
            None => None,
        };
        let writes = prepared
            .writes
            .then(|| (self.bus.clone(), self.bus.authority_changes()));
        let stream = self.schema.execute_stream(prepared.request);
        let mut first = true;
        let stream = stream
            .then(move |response| {
                let writes = writes.clone();
                async move {
                    if let Some((bus, before)) = writes
                        && bus.authority_changes() != before
                    {
                        settle(bus).await;
                    }
                    response
                }
            })
            .map(move |mut response| {
                apply_error_policy(&mut response, &request_id);
                if std::mem::take(&mut first)
                    && let Some(cost) = &cost
                {
                    response.extensions.extend(cost.clone());
                }
                response
            })
            .boxed();
        (tracker, Ok(stream))
    }

    /// Waits for every instance to hear the authority changes this request made (a logout, a
    /// demotion, a revoked key, a category change) before it answers.
    async fn settle_everywhere(&self) {
        settle(self.bus.clone()).await;
    }

    /// Everything before execution: the document (resolved, parsed and checked), its
    /// variables, its cost charged. `ticket` names the caller's cost bucket as soon as the
    /// caller is known; `operation` gets the name of the document's only operation when the
    /// request names none, as soon as the document is parsed.
    async fn prepare(
        &self,
        caller: AppResult<Caller>,
        db: &Db,
        params: Params,
        allowed: Allowed,
        ticket: &mut Option<CostTicket>,
        operation: &mut Option<String>,
    ) -> Result<Prepared, ServerError> {
        let caller = caller.map_err(server_error)?;
        let query = self
            .persisted
            .resolve(params.query, params.extensions.as_ref())
            .map_err(|error| coded_error(error.message, error.code))?
            .ok_or_else(|| {
                coded_error(
                    "the request has no `query`".to_owned(),
                    codes::BAD_USER_INPUT,
                )
            })?;
        let document = self.documents.parse(&query, &self.limits)?;
        if operation.is_none() {
            *operation = only_operation_name(&document);
        }
        self.persisted
            .remember_checked(&query, params.extensions.as_ref());
        let operation_name = params.operation_name.as_deref();
        match allowed {
            Allowed::Queries => limits::refuse_mutations(&document, operation_name)?,
            Allowed::QueriesAndMutations | Allowed::Everything => {}
        }
        let kind = limits::operation_type(&document, operation_name);
        let variables = params
            .variables
            .map(|variables| Variables::from_json(Json::Object(variables)))
            .unwrap_or_default();
        input_rules::check_variables(&variables)?;
        let measure = self
            .cost_model
            .measure(&document, operation_name, &variables);
        let ticket = ticket.insert(CostTicket {
            key: match caller.principal {
                Principal::Account(account) => format!("account:{}", account.account_id.0),
                Principal::Partner(partner) => format!("key:{}", partner.key_id),
                Principal::Anonymous => {
                    format!(
                        "client:{}",
                        caller.client_address.clone().unwrap_or_default()
                    )
                }
            },
            requested: None,
        });
        ticket.requested =
            Some(limits::charge(measure, &self.limits, &self.costs, &ticket.key).await?);
        let subscribes = kind == Some(OperationType::Subscription);
        let principal = caller.principal;
        let loader = loaders::for_request(db.clone(), principal.catalog_visibility());
        if subscribes {
            // A subscription lives for many events: every one reads afresh.
            loader.enable_all_cache(false);
        }
        let mut request = async_graphql::Request::new(query)
            .variables(variables)
            .data(RequestContext {
                db: db.acting_as(principal.account_id().map(|a| a.0)),
                principal,
                client_address: caller.client_address,
            })
            .data(loader);
        request.set_parsed_query(ExecutableDocument::clone(&document));
        if let Some(name) = params.operation_name {
            request = request.operation_name(name);
        }
        Ok(Prepared {
            request,
            document,
            writes: kind == Some(OperationType::Mutation),
            subscribes,
        })
    }

    /// Settles what a request cost (`actual`: what its response's fields cost; `None` for a
    /// subscription, charged up front only) and reports it in `extensions.cost`.
    async fn settle(&self, response: &mut Response, ticket: &CostTicket, actual: Option<f64>) {
        let requested = ticket.requested;
        let actual = requested.and(actual);
        let status = match (requested, actual) {
            (Some(requested), Some(actual)) => {
                self.costs.settle(&ticket.key, requested, actual).await
            }
            _ => self.costs.status(&ticket.key).await,
        };
        response.extensions.insert(
            "cost".to_owned(),
            value!({
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": status.maximum_available,
                    "currentlyAvailable": status.currently_available.floor(),
                    "restoreRate": status.restore_rate,
                }
            }),
        );
    }
}

/// The name of a document's only operation, when it has a name (a request may leave
/// `operationName` out then).
fn only_operation_name(document: &ExecutableDocument) -> Option<String> {
    match &document.operations {
        DocumentOperations::Multiple(operations) if operations.len() == 1 => {
            operations.keys().next().map(ToString::to_string)
        }
        _ => None,
    }
}

async fn settle(bus: Arc<Bus>) {
    let _ = actix_web::rt::task::spawn_blocking(move || bus.settle_everywhere()).await;
}

/// Whether a response is a request error: nothing ran (no data, only errors without a path).
pub fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// `extensions.<key>` of the response's first error.
pub fn first_error_extension<'a>(response: &'a Response, key: &str) -> Option<&'a Value> {
    response.errors.first()?.extensions.as_ref()?.get(key)
}

/// The body of a GraphQL response as GraphQL over HTTP and graphql-transport-ws want it: no
/// `data` entry at all for a request error, no empty `errors` or `extensions`.
#[derive(serde::Serialize)]
pub struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

impl<'a> ResponseBody<'a> {
    /// The body of `response`.
    pub fn of(response: &'a Response) -> Self {
        Self {
            data: (!is_request_error(response)).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }
}

/// An `AppError` as a GraphQL error without a location.
pub fn server_error(error: AppError) -> ServerError {
    let error = async_graphql::Error::from(error);
    ServerError {
        message: error.message,
        source: None,
        locations: Vec::new(),
        path: Vec::new(),
        extensions: error.extensions,
    }
}

/// A GraphQL error with `extensions.code`.
pub fn coded_error(message: String, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_extension(&mut error, "code", Value::from(code));
    error
}

/// Gives every error an `extensions.code`. Errors before execution (syntax, validation) and
/// argument values async-graphql could not convert (e.g. `null` for a `Boolean!` with a default,
/// which validation lets through) are the client's: `BAD_USER_INPUT`. Any other resolver error
/// without a code is unexpected: its message goes to the log and the client gets a generic one
/// with the request id.
pub fn apply_error_policy(response: &mut Response, request_id: &str) {
    for error in &mut response.errors {
        cut_short(&mut error.message);
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            if error.path.is_empty() || is_input_value_error(&error.message) {
                set_extension(error, "code", Value::from(codes::BAD_USER_INPUT));
            } else {
                tracing::error!(message = %error.message, path = ?error.path, "unexpected resolver error");
                error.message = "internal server error".to_owned();
                set_extension(error, "code", Value::from(codes::INTERNAL_SERVER_ERROR));
            }
        }
        let internal = error
            .extensions
            .as_ref()
            .and_then(|ext| ext.get("code"))
            .is_some_and(|code| *code == Value::from(codes::INTERNAL_SERVER_ERROR));
        if internal {
            set_extension(error, "requestId", Value::from(request_id));
        }
    }
}

/// Longest error message sent, in characters: a message quoting a client's input (a malformed
/// 200,000-character id) is cut, so a bad request cannot make a large answer.
const MAX_MESSAGE_CHARS: usize = 300;

pub(crate) fn cut_short(message: &mut String) {
    if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(cut);
        message.push_str("… (cut)");
    }
}

/// Whether `message` is one of async-graphql's `InputValueError` messages.
fn is_input_value_error(message: &str) -> bool {
    message.starts_with("Expected input type \"") || message.starts_with("Failed to parse \"")
}

fn set_extension(error: &mut ServerError, key: &str, value: Value) {
    error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default)
        .set(key, value);
}
