//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection as _;

use super::AppState;

/// The process is up.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The process can reach its database.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state
        .db
        .run(|conn| Ok(conn.batch_execute("SELECT 1")?))
        .await
    {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Err(error) => {
            tracing::warn!(error = %error.detail(), "readiness check failed");
            HttpResponse::ServiceUnavailable().json(serde_json::json!({ "status": "unavailable" }))
        }
    }
}
