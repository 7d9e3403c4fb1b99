//! The GraphQL endpoint: authenticates the caller, builds the request's data (database handle
//! with its statement counter, loaders, principal), executes, and finishes the response (debug
//! extensions, error policy).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value};
use async_graphql_actix_web::GraphQLRequest;
use tracing::Instrument as _;
use tracing_actix_web::RequestId;

use super::AppState;
use crate::db::{Db, SqlStats};
use crate::domain::accounts::Principal;
use crate::error::{AppError, AppResult, codes};
use crate::graphql::{RequestContext, loaders};

/// Executes one GraphQL request (POST body or GET query string).
pub async fn graphql(
    state: web::Data<AppState>,
    http: HttpRequest,
    request_id: RequestId,
    request: GraphQLRequest,
) -> HttpResponse {
    let stats = Arc::new(SqlStats::default());
    let db = state.db.with_stats(stats.clone());
    let mut response = match authenticate(&state, &db, &http).await {
        Ok(principal) => {
            let request = request
                .into_inner()
                .data(RequestContext {
                    db: db.clone(),
                    principal,
                    client_address: client_address(&state, &http),
                })
                .data(loaders::for_request(db, principal.catalog_visibility()));
            let span = tracing::info_span!(
                "graphql",
                operation = request.operation_name.as_deref().unwrap_or("")
            );
            state.schema.execute(request).instrument(span).await
        }
        Err(error) => Response::from_errors(vec![server_error(error)]),
    };
    apply_error_policy(&mut response, &request_id);
    if state.debug_extensions {
        response.extensions.insert(
            "sql".to_owned(),
            Value::from_json(serde_json::json!({ "statements": stats.statements() }))
                .unwrap_or(Value::Null),
        );
    }
    HttpResponse::Ok().json(response)
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
