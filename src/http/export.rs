//! `GET /export/{kind}.jsonl`: a bulk export (products, variants, orders, customers) streamed as
//! JSON Lines to staff and to partner keys with the kind's scope. The body is a stream that
//! reads the next batch only when actix has written the previous one out (back-pressure: a slow
//! client holds one batch, never the shop), and no pooled connection is held between batches.
//! Refusals are JSON like the GraphQL endpoint's: unknown kind 404, no or bad credentials 401,
//! missing scope 403, a bad `updatedSince` 400, the database unavailable 503.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::DateTime;
use futures_util::stream;

use super::AppState;
use super::graphql_handler::{authenticate, refused};
use super::over_http::{MediaType, Refusal};
use crate::db::SqlStats;
use crate::error::{AppError, codes};
use crate::services::export::{ExportKind, ExportOptions, Exporter};

/// The query string an export takes.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ExportQuery {
    /// Only rows changed at or after this RFC 3339 time.
    updated_since: Option<String>,
}

/// Streams the export `file` names (`products.jsonl`, …).
pub async fn export(
    state: web::Data<AppState>,
    http: HttpRequest,
    file: web::Path<String>,
) -> HttpResponse {
    let Some(kind) = file.strip_suffix(".jsonl").and_then(ExportKind::parse) else {
        let known: Vec<String> = ExportKind::ALL
            .iter()
            .map(|k| format!("{}.jsonl", k.as_str()))
            .collect();
        return refusal(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("no such export: try {}", known.join(", ")),
        );
    };
    if !http.headers().contains_key(header::AUTHORIZATION) {
        return refusal(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHENTICATED,
            "send `Authorization: Bearer <session token or API key>`",
        );
    }
    let principal = match authenticate(&state, &state.db, &http).await {
        Ok(principal) => principal,
        Err(error) => return app_error(&error),
    };
    if !principal.is_staff_or(kind.scope()) {
        return refusal(
            StatusCode::FORBIDDEN,
            codes::FORBIDDEN,
            format!(
                "exporting {} takes staff or an API key with {}",
                kind.as_str(),
                kind.scope().as_str()
            ),
        );
    }
    let query: ExportQuery = match serde_urlencoded::from_str(http.query_string()) {
        Ok(query) => query,
        Err(error) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                codes::BAD_USER_INPUT,
                error.to_string(),
            );
        }
    };
    let updated_since = match query
        .updated_since
        .as_deref()
        .map(DateTime::parse_from_rfc3339)
    {
        None => None,
        Some(Ok(time)) => Some(time.naive_utc()),
        Some(Err(_)) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                codes::BAD_USER_INPUT,
                "updatedSince is an RFC 3339 time, e.g. 2026-12-01T00:00:00Z",
            );
        }
    };
    let stats = Arc::new(SqlStats::default());
    let mut exporter = Exporter::new(
        state.db.with_stats(stats.clone()),
        ExportOptions {
            kind,
            batch_size: state.export_batch_size,
            currency: state.currency,
            personal_data: principal.sees_personal_data(),
            updated_since,
        },
    );
    // The first batch is read before answering, so that a database that is down is a 503, not
    // an empty 200.
    let first = match exporter.next_batch().await {
        Ok(first) => first,
        Err(error) => return app_error(&error),
    };
    let stream = Stream {
        exporter,
        pending: first,
        span: tracing::Span::current(),
        stats,
    };
    HttpResponse::Ok()
        .content_type("application/x-ndjson; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}.jsonl\"", kind.as_str()),
        ))
        .streaming(stream::unfold(Some(stream), Stream::next))
}

/// The state of a streaming export.
struct Stream {
    exporter: Exporter,
    /// A batch read but not yet handed out.
    pending: Option<Vec<u8>>,
    /// The request's span, for the log lines written after the handler returned.
    span: tracing::Span,
    /// The statements the export ran.
    stats: Arc<SqlStats>,
}

impl Stream {
    /// The next chunk of the body: the batch read before, else the next batch read now.
    async fn next(state: Option<Self>) -> Option<(Result<Bytes, actix_web::Error>, Option<Self>)> {
        let mut state = state?;
        if let Some(lines) = state.pending.take() {
            return Some((Ok(Bytes::from(lines)), Some(state)));
        }
        match state.exporter.next_batch().await {
            Ok(Some(lines)) => Some((Ok(Bytes::from(lines)), Some(state))),
            Ok(None) => {
                let exporter = &state.exporter;
                state.span.in_scope(|| {
                    tracing::info!(
                        kind = exporter.options().kind.as_str(),
                        rows = exporter.rows(),
                        batches = exporter.batches(),
                        statements = state.stats.statements(),
                        "export finished"
                    );
                });
                None
            }
            Err(error) => {
                // The status line is long gone: the client sees the body cut short (no final
                // chunk), and the log says why.
                state.span.in_scope(|| {
                    tracing::error!(error = %error.detail(), rows = state.exporter.rows(), "export failed");
                });
                Some((
                    Err(actix_web::error::ErrorInternalServerError(
                        error.public_message(),
                    )),
                    None,
                ))
            }
        }
    }
}

/// A refusal as JSON, like the GraphQL endpoint's.
fn refusal(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpResponse {
    refused(MediaType::Json, &Refusal::new(status, code, message))
}

/// The refusal for an error met before the stream began.
fn app_error(error: &AppError) -> HttpResponse {
    let status = match error {
        AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden => StatusCode::FORBIDDEN,
        AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AppError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        AppError::BadUserInput(_) | AppError::Rejected(_) => StatusCode::BAD_REQUEST,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if matches!(
        error,
        AppError::Internal(_) | AppError::ServiceUnavailable(_)
    ) {
        tracing::error!(error = %error.detail(), "export refused");
    }
    refusal(status, error.code(), error.public_message())
}
