//! The HTTP surface: health probes, the SDL, GET queries, request ids (GraphiQL: `graphiql.rs`).

use serde_json::Value;

use crate::helpers::spawn_app;

#[actix_web::test]
async fn health_probes_answer() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/live").await.0, 200);
    let (status, body) = app.get("/health/ready").await;
    assert_eq!(status, 200);
    assert!(body.contains("ready"));
}

#[actix_web::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let mut ids = std::collections::HashSet::new();
    for path in [
        "/health/live",
        "/graphql?query=%7B__typename%7D",
        "/no-such-page",
    ] {
        let response = app
            .client()
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let id = response
            .headers()
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "one id per request");
}

#[actix_web::test]
async fn the_sdl_is_served_in_development() {
    let app = spawn_app().await;
    let (status, sdl) = app.get("/schema.graphql").await;
    assert_eq!(status, 200);
    assert_eq!(sdl, bazaar::graphql::sdl());
}

#[actix_web::test]
async fn queries_run_over_get() {
    let app = spawn_app().await;
    let (status, body) = app
        .get("/graphql?query=%7B%20categories%20%7B%20slug%20%7D%20%7D")
        .await;
    assert_eq!(status, 200);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["data"]["categories"][0]["slug"], "apparel");
}
