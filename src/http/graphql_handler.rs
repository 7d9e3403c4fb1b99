//! The GraphQL endpoint: reads the request as GraphQL over HTTP prescribes, authenticates the
//! caller, pre-checks the document, builds the request's data (database handle with its statement
//! counter, loaders, principal, cost ticket), executes within the time budget, and finishes the
//! response (error policy, cost and debug extensions, status code, media type).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::ExecutableDocument;

use crate::graphql::input_rules;
use crate::graphql::response_order::Selections;
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value, Variables, value};
use futures_util::StreamExt as _;
use serde_json::json;
use tracing::Instrument as _;
use tracing_actix_web::RequestId;

use super::AppState;
use super::over_http::{self, Body, MediaType, Params, Refusal};
use crate::db::{Db, SqlStats};
use crate::domain::accounts::Principal;
use crate::error::{AppError, AppResult, codes};
use crate::graphql::limits;
use crate::graphql::{RequestContext, loaders};
use crate::services::partners;

/// `GET /graphql?query=…`: queries only.
pub async fn graphql_get(
    state: web::Data<AppState>,
    http: HttpRequest,
    request_id: RequestId,
) -> HttpResponse {
    let Some(media) = negotiate(&http) else {
        return not_acceptable();
    };
    let params = match over_http::parse_query_string(http.query_string()) {
        Ok(params) => params,
        Err(refusal) => return refused(media, &refusal),
    };
    let answer = run_one(&state, &http, &request_id, media, params, true).await;
    let mut response = finish(media, answer);
    // A GET answer may be cached (APQ over a CDN): it differs by caller and by media type, and
    // a signed-in caller's is theirs alone.
    let headers = response.headers_mut();
    headers.append(
        header::VARY,
        header::HeaderValue::from_static("Authorization, Accept"),
    );
    if http.headers().contains_key(header::AUTHORIZATION) {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, no-store"),
        );
    }
    response
}

/// `POST /graphql` with a JSON body: one request, or a batch when batching is on.
pub async fn graphql_post(
    state: web::Data<AppState>,
    http: HttpRequest,
    request_id: RequestId,
    payload: web::Payload,
) -> HttpResponse {
    let Some(media) = negotiate(&http) else {
        return not_acceptable();
    };
    let content_type = http
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if let Err(refusal) = over_http::check_content_type(content_type) {
        return refused(media, &refusal);
    }
    let bytes = match read_body(payload, state.body_limit).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refused(media, &refusal),
    };
    match over_http::parse_body(&bytes, state.max_batch) {
        Err(refusal) => refused(media, &refusal),
        Ok(Body::Single(params)) => {
            let answer = run_one(&state, &http, &request_id, media, params, false).await;
            finish(media, answer)
        }
        Ok(Body::Batch(batch)) => {
            let mut body = Vec::from(*b"[");
            for (index, params) in batch.into_iter().enumerate() {
                if index > 0 {
                    body.push(b',');
                }
                let answer = run_one(&state, &http, &request_id, media, params, false).await;
                body.extend_from_slice(&answer.body);
            }
            body.push(b']');
            finish(media, Answer::new(StatusCode::OK, body))
        }
    }
}

fn negotiate(http: &HttpRequest) -> Option<MediaType> {
    over_http::negotiate(
        http.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    )
}

/// Reads the body, refusing (413) as soon as it grows past `limit`.
async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, Refusal> {
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the body is larger than {limit} bytes"),
        )
    };
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(),
            other => Refusal::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("the body could not be read: {other}"),
            ),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A GraphQL response ready to send: status, JSON body and when to retry, if throttled.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl Answer {
    fn new(status: StatusCode, body: Vec<u8>) -> Self {
        Self {
            status,
            body,
            retry_after: None,
        }
    }
}

/// The body of a GraphQL response as GraphQL over HTTP wants it: no `data` entry at all for a
/// request error, no empty `errors` or `extensions`.
#[derive(serde::Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, Value>,
}

/// Runs one GraphQL request; the status it deserves and the JSON body.
async fn run_one(
    state: &AppState,
    http: &HttpRequest,
    request_id: &RequestId,
    media: MediaType,
    params: Params,
    read_only: bool,
) -> Answer {
    let stats = Arc::new(SqlStats::default());
    let db = state.db.with_stats(stats.clone());
    let mut ticket = None;
    // What the query actually cost: the fields of its response (see `query_cost`).
    let mut actual_cost = 0;
    let mut response = match prepare(state, http, &db, params, read_only, &mut ticket).await {
        Err(error) => Response::from_errors(vec![error]),
        Ok((request, principal, document)) => {
            let operation_name = request.operation_name.clone();
            let writes = limits::is_mutation(&document, operation_name.as_deref());
            let request = request
                .data(RequestContext {
                    db: db.acting_as(principal.account_id().map(|a| a.0)),
                    principal,
                    client_address: client_address(state, http),
                })
                .data(loaders::for_request(db, principal.catalog_visibility()));
            let span = tracing::info_span!(
                "graphql",
                operation = request.operation_name.as_deref().unwrap_or("")
            );
            let execution = state.schema.execute(request).instrument(span);
            match actix_web::rt::time::timeout(state.request_timeout, execution).await {
                Ok(mut response) => {
                    if writes {
                        // Every instance has been signalled of what this request changed
                        // before the caller hears it is done.
                        let bus = state.bus.clone();
                        let _ = actix_web::rt::task::spawn_blocking(move || bus.sync()).await;
                    }
                    let selections = Selections::of(&document, operation_name.as_deref());
                    selections.restore(&mut response.data);
                    actual_cost = selections.count_fields(&response.data);
                    response
                }
                Err(_) => {
                    tracing::warn!(timeout = ?state.request_timeout, "request timed out");
                    Response::from_errors(vec![coded_error(
                        format!(
                            "the request took longer than {} s",
                            state.request_timeout.as_secs()
                        ),
                        "TIMEOUT",
                    )])
                }
            }
        }
    };
    apply_error_policy(&mut response, request_id);
    let request_error = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let first_code = match first_error_extension(&response, "code") {
        Some(Value::String(code)) => Some(code.clone()),
        _ => None,
    };
    let retry_after = match first_error_extension(&response, "retryAfter") {
        Some(Value::Number(seconds)) => seconds.as_u64(),
        _ => None,
    };
    if let Some(ticket) = &ticket {
        let requested = ticket.requested;
        let actual = requested.map(|requested| {
            let actual = actual_cost as f64;
            state.costs.settle(&ticket.key, requested, actual);
            actual
        });
        let status = state.costs.status(&ticket.key);
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
    if state.debug_extensions {
        response.extensions.insert(
            "sql".to_owned(),
            value!({ "statements": stats.statements(), "calls": stats.calls() }),
        );
    }
    let body = ResponseBody {
        data: (!request_error).then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    Answer {
        status: over_http::status_for(media, request_error, first_code.as_deref()),
        body: serde_json::to_vec(&body).unwrap_or_else(|error| {
            tracing::error!(%error, "a response could not be serialised");
            br#"{"errors":[{"message":"internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#
                .to_vec()
        }),
        retry_after,
    }
}

/// Everything before execution: the caller, the document (parsed and checked), its variables,
/// its cost charged. `ticket` names the caller's cost bucket as soon as the caller is known.
async fn prepare(
    state: &AppState,
    http: &HttpRequest,
    db: &Db,
    params: Params,
    read_only: bool,
    ticket: &mut Option<CostTicket>,
) -> Result<(async_graphql::Request, Principal, Arc<ExecutableDocument>), ServerError> {
    // Caches shared across requests (sessions, the category tree) must have heard of every
    // change committed before this request arrived, wherever it was made.
    state.bus.catch_up();
    let principal = authenticate(state, db, http).await.map_err(server_error)?;
    let query = state
        .persisted
        .resolve(params.query, params.extensions.as_ref())
        .map_err(|error| coded_error(error.message, error.code))?
        .ok_or_else(|| {
            coded_error(
                "the request has no `query`".to_owned(),
                codes::BAD_USER_INPUT,
            )
        })?;
    let document = state.documents.parse(&query, &state.limits)?;
    state
        .persisted
        .remember_checked(&query, params.extensions.as_ref());
    let operation_name = params.operation_name.as_deref();
    if read_only {
        limits::refuse_mutations(&document, operation_name)?;
    }
    let variables = params
        .variables
        .map(|variables| Variables::from_json(serde_json::Value::Object(variables)))
        .unwrap_or_default();
    input_rules::check_variables(&variables)?;
    let measure = state
        .cost_model
        .measure(&document, operation_name, &variables);
    let ticket = ticket.insert(CostTicket {
        key: match principal {
            Principal::Account(account) => format!("account:{}", account.account_id.0),
            Principal::Partner(partner) => format!("key:{}", partner.key_id),
            Principal::Anonymous => {
                format!("client:{}", client_address(state, http).unwrap_or_default())
            }
        },
        requested: None,
    });
    ticket.requested = Some(limits::charge(
        measure,
        &state.limits,
        &state.costs,
        &ticket.key,
    )?);
    let mut request = async_graphql::Request::new(query).variables(variables);
    request.set_parsed_query(ExecutableDocument::clone(&document));
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    Ok((request, principal, document))
}

/// Whose cost bucket a request is charged to, and how much it was charged up front.
struct CostTicket {
    key: String,
    requested: Option<f64>,
}

/// `extensions.<key>` of the response's first error.
fn first_error_extension<'a>(response: &'a Response, key: &str) -> Option<&'a Value> {
    response.errors.first()?.extensions.as_ref()?.get(key)
}

/// The caller the `Authorization: Bearer` header proves; anonymous without one. A header that
/// is malformed or names no live session is `UNAUTHENTICATED`: the request is not executed.
pub(super) async fn authenticate(
    state: &AppState,
    db: &Db,
    http: &HttpRequest,
) -> AppResult<Principal> {
    let Some(value) = http.headers().get(header::AUTHORIZATION) else {
        return Ok(Principal::Anonymous);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
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
    state.accounts.authenticate(db, token).await
}

/// The client's address: the peer, or the proxy-reported one when configured to trust it.
fn client_address(state: &AppState, http: &HttpRequest) -> Option<String> {
    let peer = http.peer_addr()?.ip();
    let forwarded_for = http
        .headers()
        .get("x-forwarded-for")
        .and_then(|value| value.to_str().ok());
    Some(
        super::client_address::client_address(peer, forwarded_for, &state.trusted_proxies)
            .to_string(),
    )
}

fn server_error(error: AppError) -> ServerError {
    let error = async_graphql::Error::from(error);
    ServerError {
        message: error.message,
        source: None,
        locations: Vec::new(),
        path: Vec::new(),
        extensions: error.extensions,
    }
}

fn coded_error(message: String, code: &str) -> ServerError {
    let mut error = ServerError::new(message, None);
    set_extension(&mut error, "code", Value::from(code));
    error
}

/// Gives every error an `extensions.code`. Errors before execution (syntax, validation) and
/// argument values async-graphql could not convert (e.g. `null` for a `Boolean!` with a default,
/// which validation lets through) are the client's: `BAD_USER_INPUT`. Any other resolver error
/// without a code is unexpected: its message goes to the log and the client gets a generic one
/// with the request id.
fn apply_error_policy(response: &mut Response, request_id: &RequestId) {
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
            set_extension(error, "requestId", Value::from(request_id.to_string()));
        }
    }
}

/// Longest error message sent, in characters: a message quoting a client's input (a malformed
/// 200,000-character id) is cut, so a bad request cannot make a large answer.
const MAX_MESSAGE_CHARS: usize = 300;

fn cut_short(message: &mut String) {
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

/// The HTTP response for a GraphQL answer.
fn finish(media: MediaType, answer: Answer) -> HttpResponse {
    let mut response = HttpResponse::build(answer.status);
    response.content_type(media.content_type());
    if answer.status == StatusCode::METHOD_NOT_ALLOWED {
        response.insert_header((header::ALLOW, "POST"));
    }
    if let Some(retry) = answer.retry_after {
        response.insert_header((header::RETRY_AFTER, retry.to_string()));
    }
    response.body(answer.body)
}

/// The response to a request that is not GraphQL over HTTP.
pub(super) fn refused(media: MediaType, refusal: &Refusal) -> HttpResponse {
    let body = json!({
        "errors": [{ "message": refusal.message, "extensions": { "code": refusal.code } }]
    });
    finish(
        media,
        Answer::new(refusal.status, body.to_string().into_bytes()),
    )
}

fn not_acceptable() -> HttpResponse {
    let refusal = Refusal::new(
        StatusCode::NOT_ACCEPTABLE,
        "NOT_ACCEPTABLE",
        "accept application/graphql-response+json or application/json",
    );
    refused(MediaType::Json, &refusal)
}

/// The GraphiQL playground, when enabled.
pub async fn graphiql(state: web::Data<AppState>) -> HttpResponse {
    if !state.graphiql {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("Bazaar GraphiQL")
                .finish(),
        )
}

/// The schema in SDL, when introspection is enabled.
pub async fn sdl(state: web::Data<AppState>) -> HttpResponse {
    if !state.introspection {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(state.schema.sdl())
}
