//! `GET /metrics`: the Prometheus text of this instance, for a scraper that sends the metrics
//! token (`--metrics-token`), or on a listener of its own (`--metrics-listen`). Without either,
//! 404.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq as _;

use super::AppState;
use crate::db::models::webhook;
use crate::telemetry::metrics::Snapshot;

/// `/metrics` on the public listener: only with a token.
pub async fn public(state: web::Data<AppState>, http: HttpRequest) -> HttpResponse {
    if state.metrics_token.is_none() {
        return HttpResponse::NotFound().finish();
    }
    scrape(&state, &http).await
}

/// `/metrics` on the metrics listener: the token too, when one is set.
pub async fn private(state: web::Data<AppState>, http: HttpRequest) -> HttpResponse {
    scrape(&state, &http).await
}

async fn scrape(state: &AppState, http: &HttpRequest) -> HttpResponse {
    if let Some(token) = &state.metrics_token {
        let sent = http
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or_default();
        if !bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .finish();
        }
    }
    let pool = state.db.pool_status();
    let refusals = state.pipeline.costs.refusals();
    // A database that does not answer leaves the last count: the rest still renders.
    let webhook_pending = state
        .db
        .detached()
        .run(|conn| Ok(webhook::count_pending(conn)?))
        .await
        .ok()
        .map(|count| u64::try_from(count).unwrap_or_default());
    let snapshot = Snapshot {
        pool_in_use: pool.open.saturating_sub(pool.idle),
        pool_idle: pool.idle,
        pool_max: pool.max,
        pool_waiting: pool.waiting,
        cost_refusals_too_complex: refusals.too_expensive,
        cost_refusals_throttled: refusals.throttled,
        webhook_pending,
        websockets: state.sockets.open_count() as u64,
    };
    match state.pipeline.metrics.render(&snapshot) {
        Some(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        None => HttpResponse::NotFound().finish(),
    }
}
