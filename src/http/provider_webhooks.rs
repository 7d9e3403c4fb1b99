//! Payment provider webhooks: `POST /webhooks/stripe` checks Stripe's signature (and its
//! timestamp's age), then applies the event once. Stripe retries until it gets a 2xx: a bad
//! signature is a 400 (never retried into success), a database outage a 503 (retried later).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::services::payments::flow;
use crate::services::payments::stripe::verify_webhook;

/// Largest webhook body accepted (Stripe's events are a few kilobytes).
pub const MAX_WEBHOOK_BYTES: usize = 256 * 1024;

/// How old (or how far ahead) a signature's timestamp may be: Stripe's own libraries' default.
const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// Receives one Stripe event.
pub async fn stripe(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(secret) = state.stripe_webhook_secret.as_deref() else {
        return HttpResponse::NotFound().finish();
    };
    if body.len() > MAX_WEBHOOK_BYTES {
        return HttpResponse::PayloadTooLarge().finish();
    }
    let signature = request
        .headers()
        .get("stripe-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let now = chrono::Utc::now().timestamp();
    let event = match verify_webhook(secret, signature, &body, now, SIGNATURE_TOLERANCE_SECS) {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(%error, "stripe webhook refused");
            return HttpResponse::BadRequest().json(json!({ "error": error.to_string() }));
        }
    };
    let id = event.id.clone();
    match flow::apply_event(&state.db, &state.gateway, event).await {
        Ok(outcome) => {
            tracing::info!(event = %id, ?outcome, "stripe webhook");
            HttpResponse::Ok().json(json!({ "received": true }))
        }
        Err(error) => {
            tracing::error!(event = %id, ?error, "stripe webhook not applied; Stripe will retry");
            HttpResponse::ServiceUnavailable().json(json!({ "error": "retry later" }))
        }
    }
}
