//! The GraphQL endpoint: builds the request's data (database handle with its statement counter,
//! loaders, caller), executes, and finishes the response (debug extensions, error policy).

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value};
use async_graphql_actix_web::GraphQLRequest;
use tracing::Instrument as _;
use tracing_actix_web::RequestId;

use super::AppState;
use crate::db::SqlStats;
use crate::domain::catalog::CatalogVisibility;
use crate::error::codes;
use crate::graphql::{RequestContext, loaders};

/// Executes one GraphQL request (POST body or GET query string).
pub async fn graphql(
    state: web::Data<AppState>,
    request_id: RequestId,
    request: GraphQLRequest,
) -> HttpResponse {
    let stats = Arc::new(SqlStats::default());
    let db = state.db.with_stats(stats.clone());
    let visibility = CatalogVisibility::Storefront;
    let request = request
        .into_inner()
        .data(RequestContext {
            db: db.clone(),
            visibility,
        })
        .data(loaders::for_request(db, visibility));
    let span = tracing::info_span!(
        "graphql",
        operation = request.operation_name.as_deref().unwrap_or("")
    );
    let mut response = state.schema.execute(request).instrument(span).await;
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

/// Gives every error an `extensions.code`. Errors before execution (syntax, validation) are the
/// client's: `BAD_USER_INPUT`. A resolver error without a code is unexpected: its message goes
/// to the log and the client gets a generic one with the request id.
fn apply_error_policy(response: &mut Response, request_id: &RequestId) {
    for error in &mut response.errors {
        let has_code = error
            .extensions
            .as_ref()
            .is_some_and(|ext| ext.get("code").is_some());
        if !has_code {
            if error.path.is_empty() {
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
