//! The GraphQL endpoint: reads the request as GraphQL over HTTP prescribes, authenticates the
//! caller, pre-checks the document, builds the request's data (database handle with its statement
//! counter, loaders, principal, cost ticket), executes within the time budget, and finishes the
//! response (error policy, cost and debug extensions, status code, media type).

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value, Variables};
use futures_util::StreamExt as _;
use serde_json::json;
use tracing::Instrument as _;
use tracing_actix_web::RequestId;

use super::AppState;
use super::over_http::{self, Body, MediaType, Params, Refusal};
use crate::db::{Db, SqlStats};
use crate::domain::accounts::Principal;
use crate::error::{AppError, AppResult, codes};
use crate::graphql::limits::{self, CostTicket, ReadOnlyRequest};
use crate::graphql::{RequestContext, loaders};

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
    let (status, body) = run_one(&state, &http, &request_id, media, params, true).await;
    finish(media, status, &body)
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
            let (status, body) = run_one(&state, &http, &request_id, media, params, false).await;
            finish(media, status, &body)
        }
        Ok(Body::Batch(batch)) => {
            let mut bodies = Vec::with_capacity(batch.len());
            for params in batch {
                let (_, body) = run_one(&state, &http, &request_id, media, params, false).await;
                bodies.push(body);
            }
            finish(media, StatusCode::OK, &serde_json::Value::Array(bodies))
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

/// Runs one GraphQL request; the status it deserves and the JSON body.
async fn run_one(
    state: &AppState,
    http: &HttpRequest,
    request_id: &RequestId,
    media: MediaType,
    params: Params,
    read_only: bool,
) -> (StatusCode, serde_json::Value) {
    let stats = Arc::new(SqlStats::default());
    let db = state.db.with_stats(stats.clone());
    let mut ticket = None;
    let mut response = match prepare(state, http, &db, params, read_only).await {
        Err(error) => Response::from_errors(vec![error]),
        Ok((request, principal, cost_ticket)) => {
            ticket = Some(cost_ticket.clone());
            let request = request
                .data(RequestContext {
                    db: db.clone(),
                    principal,
                    client_address: client_address(state, http),
                })
                .data(cost_ticket)
                .data(loaders::for_request(db, principal.catalog_visibility()));
            let span = tracing::info_span!(
                "graphql",
                operation = request.operation_name.as_deref().unwrap_or("")
            );
            let execution = state.schema.execute(request).instrument(span);
            match actix_web::rt::time::timeout(state.request_timeout, execution).await {
                Ok(response) => response,
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
    let first_code = response
        .errors
        .first()
        .and_then(|e| e.extensions.as_ref())
        .and_then(|ext| ext.get("code"))
        .and_then(|code| match code {
            Value::String(code) => Some(code.clone()),
            _ => None,
        });
    let mut body = serde_json::to_value(&response).unwrap_or_else(|_| json!({}));
    if request_error {
        if let Some(object) = body.as_object_mut() {
            object.remove("data");
        }
    }
    let extensions = body
        .as_object_mut()
        .map(|object| object.entry("extensions").or_insert_with(|| json!({})));
    if let Some(serde_json::Value::Object(extensions)) = extensions {
        if let Some(ticket) = &ticket {
            let requested = ticket.requested();
            let actual = requested.map(|requested| {
                let actual = count_fields(&response.data) as f64;
                state.costs.settle(&ticket.key, requested, actual);
                actual
            });
            let status = state.costs.status(&ticket.key);
            extensions.insert(
                "cost".to_owned(),
                json!({
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
            extensions.insert(
                "sql".to_owned(),
                json!({ "statements": stats.statements() }),
            );
        }
    }
    let status = over_http::status_for(media, request_error, first_code.as_deref());
    (status, body)
}

/// Everything before execution: the caller, the document (pre-checked), its variables.
async fn prepare(
    state: &AppState,
    http: &HttpRequest,
    db: &Db,
    params: Params,
    read_only: bool,
) -> Result<(async_graphql::Request, Principal, Arc<CostTicket>), ServerError> {
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
    limits::precheck(&query, &state.limits)?;
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = &params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        request = request.variables(Variables::from_json(serde_json::Value::Object(variables)));
    }
    if read_only {
        request = request.data(ReadOnlyRequest {
            operation_name: params.operation_name,
        });
    }
    let key = match principal.account_id() {
        Some(account) => format!("account:{}", account.0),
        None => format!("client:{}", client_address(state, http).unwrap_or_default()),
    };
    Ok((request, principal, CostTicket::new(key)))
}

/// The number of fields in a response's data: what the query actually cost.
fn count_fields(value: &Value) -> usize {
    match value {
        Value::Object(object) => object.len() + object.values().map(count_fields).sum::<usize>(),
        Value::List(items) => items.iter().map(count_fields).sum(),
        _ => 0,
    }
}

/// The caller the `Authorization: Bearer` header proves; anonymous without one. A header that
/// is malformed or names no live session is `UNAUTHENTICATED`: the request is not executed.
async fn authenticate(state: &AppState, db: &Db, http: &HttpRequest) -> AppResult<Principal> {
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
                "the Authorization header must be `Bearer <session token>`".into(),
            )
        })?;
    state.accounts.authenticate(db, token).await
}

/// The client's address: the peer, or the proxy-reported one when configured to trust it.
fn client_address(state: &AppState, http: &HttpRequest) -> Option<String> {
    if state.trust_forwarded_for {
        http.connection_info()
            .realip_remote_addr()
            .map(str::to_owned)
    } else {
        http.peer_addr().map(|addr| addr.ip().to_string())
    }
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

/// The HTTP response for a GraphQL body.
fn finish(media: MediaType, status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.content_type(media.content_type());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.insert_header((header::ALLOW, "POST"));
    }
    if let Some(retry) = body["errors"][0]["extensions"]["retryAfter"].as_u64() {
        response.insert_header((header::RETRY_AFTER, retry.to_string()));
    }
    response.json(body)
}

/// The response to a request that is not GraphQL over HTTP.
fn refused(media: MediaType, refusal: &Refusal) -> HttpResponse {
    let body = json!({
        "errors": [{ "message": refusal.message, "extensions": { "code": refusal.code } }]
    });
    finish(media, refusal.status, &body)
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
