//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use diesel::connection::SimpleConnection as _;

use super::AppState;

/// The process is up.
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The process can reach its database and hears the other instances sharing it (the bus's
/// listening connection is up): an instance that could miss another's logout or category
/// change takes no traffic until it hears them again.
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let unavailable = |reason: &str| {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "unavailable", "reason": reason }))
    };
    if let Err(error) = state
        .db
        .run(|conn| Ok(conn.batch_execute("SELECT 1")?))
        .await
    {
        tracing::warn!(error = %error.detail(), "readiness check failed");
        return unavailable("the database cannot be reached");
    }
    if !state.pipeline.bus.hears_everyone() {
        return unavailable("the bus is not listening to the other instances");
    }
    HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))
}
