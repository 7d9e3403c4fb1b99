//! The public edge: GraphQL-over-HTTP rules (no mutation over GET, JSON-only POSTs), limits on
//! bodies and documents, and cost throttling with `extensions.cost`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_codes, spawn_app, spawn_app_with};

/// A raw request's status, selected headers and JSON body (Null when not JSON).
struct Raw {
    status: u16,
    allow: Option<String>,
    retry_after: Option<String>,
    content_type: String,
    body: Value,
}

async fn send(request: awc::ClientRequest, body: Option<Vec<u8>>) -> Raw {
    let mut response = match body {
        Some(body) => request.send_body(body).await,
        None => request.send().await,
    }
    .expect("send");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (allow, retry_after) = (header("allow"), header("retry-after"));
    let content_type = header("content-type").unwrap_or_default();
    let bytes = response.body().limit(16 * 1024 * 1024).await.expect("body");
    Raw {
        status: response.status().as_u16(),
        allow,
        retry_after,
        content_type,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn post(app: &TestApp) -> awc::ClientRequest {
    app.client()
        .post(format!("{}/graphql", app.address))
        .insert_header(("Accept", "application/graphql-response+json"))
}

const REGISTER: &str = "mutation { accountRegister(input: { email: \"csrf@example.com\", password: \"correct horse battery\" }) { accepted } }";

/// Whether a sign-up was stored (`accountRegister` ran).
async fn sign_up_stored(app: &TestApp) -> bool {
    use diesel::prelude::*;
    app.db
        .run(|conn| {
            let stored: i64 = bazaar::db::schema::sign_ups::table
                .count()
                .get_result(conn)?;
            Ok(stored > 0)
        })
        .await
        .expect("count sign-ups")
}

#[actix_web::test]
async fn mutations_need_a_json_post() {
    let app = spawn_app().await;
    let encoded: String = url_encode(REGISTER);

    let get = send(
        app.client()
            .get(format!("{}/graphql?query={encoded}", app.address))
            .insert_header(("Accept", "application/graphql-response+json")),
        None,
    )
    .await;
    assert_eq!(get.status, 405);
    assert_eq!(get.allow.as_deref(), Some("POST"));
    assert_eq!(error_codes(&get.body), ["METHOD_NOT_ALLOWED"]);

    // A document's only operation runs without `operationName` even when it has a name: it is
    // refused over GET all the same.
    let named = url_encode(&REGISTER.replacen("mutation", "mutation SignUp", 1));
    let get = send(
        app.client()
            .get(format!("{}/graphql?query={named}", app.address))
            .insert_header(("Accept", "application/graphql-response+json")),
        None,
    )
    .await;
    assert_eq!(get.status, 405, "{}", get.body);

    let body = json!({ "query": REGISTER }).to_string().into_bytes();
    let text_plain = send(
        post(&app).insert_header(("Content-Type", "text/plain")),
        Some(body.clone()),
    )
    .await;
    assert_eq!(text_plain.status, 415);
    assert_eq!(error_codes(&text_plain.body), ["UNSUPPORTED_MEDIA_TYPE"]);

    let form = send(
        post(&app).insert_header(("Content-Type", "application/x-www-form-urlencoded")),
        Some(format!("query={encoded}").into_bytes()),
    )
    .await;
    assert_eq!(form.status, 415);

    let no_type = send(post(&app), Some(body)).await;
    assert_eq!(no_type.status, 415);

    // None of them ran: no sign-up was stored.
    assert!(!sign_up_stored(&app).await);
    // The same mutation as a JSON POST does run.
    app.data(REGISTER, json!({})).await;
    assert!(sign_up_stored(&app).await);
    // Queries still run over GET.
    let query = send(
        app.client().get(format!(
            "{}/graphql?query={}",
            app.address,
            url_encode("{ __typename }")
        )),
        None,
    )
    .await;
    assert_eq!(query.status, 200);
    assert_eq!(query.body["data"]["__typename"], "Query");
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[actix_web::test]
async fn responses_follow_content_negotiation() {
    let app = spawn_app().await;
    let body = json!({ "query": "{ __typename" }).to_string().into_bytes();
    let json_type = send(
        app.client()
            .post(format!("{}/graphql", app.address))
            .insert_header(("Content-Type", "application/json"))
            .insert_header(("Accept", "application/json")),
        Some(body.clone()),
    )
    .await;
    assert_eq!(
        json_type.status, 200,
        "application/json: request errors are 200"
    );
    assert!(json_type.content_type.starts_with("application/json"));
    assert!(json_type.body.get("data").is_none());
    let modern = send(
        post(&app).insert_header(("Content-Type", "application/json")),
        Some(body.clone()),
    )
    .await;
    assert_eq!(modern.status, 400);
    assert!(
        modern
            .content_type
            .starts_with("application/graphql-response+json")
    );
    let refused = send(
        app.client()
            .post(format!("{}/graphql", app.address))
            .insert_header(("Content-Type", "application/json"))
            .insert_header(("Accept", "text/html")),
        Some(body),
    )
    .await;
    assert_eq!(refused.status, 406);
}

/// Sends `query` as a JSON POST accepting `application/graphql-response+json`.
async fn graphql_raw(app: &TestApp, query: &str) -> Raw {
    send(
        post(app).insert_header(("Content-Type", "application/json")),
        Some(json!({ "query": query }).to_string().into_bytes()),
    )
    .await
}

#[actix_web::test]
async fn hostile_documents_are_refused_and_the_server_stays_up() {
    let app = spawn_app().await;

    let padding = "x".repeat(1024 * 1024 + 1 - r#"{"query":"{ __typename }","x":""}"#.len());
    let oversized = json!({ "query": "{ __typename }", "x": padding }).to_string();
    assert_eq!(oversized.len(), 1024 * 1024 + 1);
    let too_large = send(
        post(&app).insert_header(("Content-Type", "application/json")),
        Some(oversized.into_bytes()),
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_eq!(error_codes(&too_large.body), ["PAYLOAD_TOO_LARGE"]);

    let deep_categories = format!(
        "{{ categories {{ {}name{} }} }}",
        "children { ".repeat(20),
        " }".repeat(20)
    );
    let aliases: String = (0..1000).map(|i| format!("a{i}: __typename ")).collect();
    let aliases = format!("{{ {aliases} }}");
    let duplicates = format!("{{ categories {{ {} }} }}", "name ".repeat(500));
    let directives = format!(
        "{{ categories {{ name {} }} }}",
        "@include(if: true) ".repeat(10)
    );
    let nested = format!("{}{}", "{ categories ".repeat(10_000), "}".repeat(10_000));
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let expensive = "{ products(first: 100) { edges { node { variants { sku title price { amount currencyCode minorUnits } compareAtPrice { amount } } images { url altText } category { name parent { name } } } } } }";
    let few_aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let few_aliases = format!("{{ {few_aliases} }}");
    // (what, document, code, words of the message naming the limit)
    let cases: [(&str, &str, &str, &str); 8] = [
        (
            "depth",
            &deep_categories,
            "QUERY_TOO_COMPLEX",
            "levels deep",
        ),
        ("1,000 aliases", &aliases, "QUERY_TOO_COMPLEX", "aliases"),
        ("31 aliases", &few_aliases, "QUERY_TOO_COMPLEX", "aliases"),
        (
            "500 duplicate fields",
            &duplicates,
            "QUERY_TOO_COMPLEX",
            "fields",
        ),
        (
            "10 repeated directives",
            &directives,
            "QUERY_TOO_COMPLEX",
            "directives",
        ),
        (
            "10,000 nested levels",
            &nested,
            "QUERY_TOO_COMPLEX",
            "levels deep",
        ),
        ("fragment cycle", cycle, "BAD_USER_INPUT", "spreads itself"),
        (
            "cost over a full bucket",
            expensive,
            "QUERY_TOO_COMPLEX",
            "points",
        ),
    ];
    let app = spawn_app_with(1, &["--cost-bucket-size", "1000"]).await;
    for (name, query, code, words) in cases {
        let response = graphql_raw(&app, query).await;
        assert!(
            (400..500).contains(&response.status),
            "{name}: status {}",
            response.status
        );
        assert_eq!(
            error_codes(&response.body),
            [code],
            "{name}: {}",
            response.body
        );
        assert!(response.body.get("data").is_none(), "{name}: nothing ran");
        let message = response.body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(words), "{name}: {message}");
    }
    assert_eq!(app.get("/health/live").await.0, 200);
    let fine = app.data("{ categories { name } }", json!({})).await;
    assert!(fine["categories"].is_array(), "the server still serves");
}

fn cost(response: &Value) -> &Value {
    &response["extensions"]["cost"]
}

#[actix_web::test]
async fn every_response_reports_its_cost() {
    let app = spawn_app_with(
        1,
        &["--cost-bucket-size", "1000", "--cost-restore-rate", "1"],
    )
    .await;
    // Requested: the field plus a name for each of the 50 top-level categories a shop may
    // have (the most `categories` can return); actual: the 4 the demo shop has. The bucket is
    // charged the first and refunded the difference.
    let categories = app.graphql("{ categories { name } }", json!({})).await;
    assert_eq!(cost(&categories)["requestedQueryCost"], 1.0 + 50.0);
    assert_eq!(cost(&categories)["actualQueryCost"], 1.0 + 4.0);
    let status = &cost(&categories)["throttleStatus"];
    assert_eq!(status["maximumAvailable"], 1000.0);
    assert_eq!(status["restoreRate"], 1.0);

    // A connection is charged for its whole page: 1 (products) + 1 (edges) + first × (node 1 +
    // name 1); a full page costs just that.
    let products = app
        .graphql(
            "{ products(first: 10) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(cost(&products)["requestedQueryCost"], 22.0);
    assert_eq!(cost(&products)["actualQueryCost"], 22.0);
    let short_page = app
        .graphql(
            "{ products(first: 10, where: { search: \"no such product\" }) { edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(cost(&short_page)["requestedQueryCost"], 22.0);
    assert_eq!(
        cost(&short_page)["actualQueryCost"],
        2.0,
        "an empty page costs little"
    );
    let available = cost(&short_page)["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap();
    // Charged 2 + 22 + 2 (+ 5 for the categories), give or take the refill of a few ms.
    assert!((969.0..975.0).contains(&available), "{available}");
}

#[actix_web::test]
async fn the_bucket_drains_throttles_with_429_and_refills() {
    let app = spawn_app_with(
        1,
        &["--cost-bucket-size", "100", "--cost-restore-rate", "50"],
    )
    .await;
    // Signing up spends the anonymous bucket too: done first, and the bucket refilled.
    let ada = app.register("ada@example.com").await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    // 1 + 1 + 30 × (1 + 1) = 62 requested, and as much actual: 30 products come back.
    let query = "{ products(first: 30) { edges { node { name } } } }";
    let first = graphql_raw(&app, query).await;
    assert_eq!(first.status, 200);
    assert_eq!(cost(&first.body)["requestedQueryCost"], 62.0);
    assert_eq!(cost(&first.body)["actualQueryCost"], 62.0);
    // 100 − 62 = 38 left (plus a few ms of refill): not enough for 62.
    let second = graphql_raw(&app, query).await;
    assert_eq!(second.status, 429);
    assert_eq!(error_codes(&second.body), ["THROTTLED"]);
    assert_eq!(second.body["errors"][0]["extensions"]["retryAfter"], 1);
    assert_eq!(second.retry_after.as_deref(), Some("1"));
    assert!(second.body.get("data").is_none(), "nothing ran");
    let available = cost(&second.body)["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap();
    assert!((38.0..41.0).contains(&available), "{available}");
    // A cheaper query still fits (1 + 4 requested).
    let cheap = graphql_raw(&app, "{ categories(first: 4) { name } }").await;
    assert_eq!(cheap.status, 200);
    // After the advertised wait the bucket holds enough again.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let third = graphql_raw(&app, query).await;
    assert_eq!(third.status, 200, "{}", third.body);
    // Signed-in callers have a bucket of their own.
    let signed_in = app.graphql_as(Some(&ada.token), query, json!({})).await;
    assert!(signed_in["errors"].is_null(), "{signed_in}");
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post_json(app: &TestApp, body: Value) -> Raw {
    send(
        post(app).insert_header(("Content-Type", "application/json")),
        Some(body.to_string().into_bytes()),
    )
    .await
}

#[actix_web::test]
async fn automatic_persisted_queries_send_the_document_once() {
    let app = spawn_app().await;
    let query = "{ categories { slug } }";
    let hash = bazaar::graphql::persisted::document_hash(query);
    let unknown = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(error_codes(&unknown.body), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "PersistedQueryNotFound"
    );
    let registered = post_json(
        &app,
        json!({ "query": query, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(registered.status, 200);
    let by_hash = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(by_hash.status, 200);
    assert_eq!(by_hash.body["data"], registered.body["data"]);
    // GET works too, so CDNs can cache queries by URL.
    let extensions = url_encode(&persisted(&hash).to_string());
    let get = send(
        app.client()
            .get(format!("{}/graphql?extensions={extensions}", app.address)),
        None,
    )
    .await;
    assert_eq!(get.body["data"], registered.body["data"]);
    let mismatch = post_json(
        &app,
        json!({ "query": "{ __typename }", "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(error_codes(&mismatch.body), ["BAD_USER_INPUT"]);
}

#[actix_web::test]
async fn automatic_persisted_queries_keep_only_documents_that_pass_the_limits() {
    let app = spawn_app().await;
    let aliases: String = (0..200).map(|n| format!("a{n}: __typename ")).collect();
    let refused = format!("{{ {aliases} }}");
    let hash = bazaar::graphql::persisted::document_hash(&refused);
    let sent = post_json(
        &app,
        json!({ "query": refused, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(
        error_codes(&sent.body),
        ["QUERY_TOO_COMPLEX"],
        "{}",
        sent.body
    );
    let by_hash = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(
        error_codes(&by_hash.body),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "a refused document is not remembered"
    );
}

#[actix_web::test]
async fn the_allowlist_mode_runs_registered_operations_only() {
    let query = "{ categories { slug } }";
    let hash = bazaar::graphql::persisted::document_hash(query);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("operations.json");
    std::fs::write(&file, json!({ hash.clone(): query }).to_string()).unwrap();
    let app = spawn_app_with(
        1,
        &[
            "--persisted-queries",
            "allowlist",
            "--persisted-queries-file",
            file.to_str().unwrap(),
        ],
    )
    .await;
    let by_hash = post_json(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(by_hash.status, 200);
    assert!(by_hash.body["data"]["categories"].is_array());
    let in_full = post_json(&app, json!({ "query": query })).await;
    assert_eq!(in_full.status, 200);
    let other = post_json(
        &app,
        json!({ "query": "{ products { edges { cursor } } }" }),
    )
    .await;
    assert_eq!(other.status, 403);
    assert_eq!(error_codes(&other.body), ["OPERATION_NOT_ALLOWED"]);
}

#[actix_web::test]
async fn batches_are_off_by_default_and_capped_when_on() {
    let batch = json!([{ "query": "{ __typename }" }, { "query": "{ categories { slug } }" }]);
    let app = spawn_app().await;
    let refused = post_json(&app, batch.clone()).await;
    assert_eq!(refused.status, 400);
    assert_eq!(error_codes(&refused.body), ["BAD_REQUEST"]);

    let app = spawn_app_with(1, &["--max-batch", "2"]).await;
    let answered = post_json(&app, batch).await;
    assert_eq!(answered.status, 200);
    let answers = answered.body.as_array().expect("one answer per request");
    assert_eq!(answers[0]["data"]["__typename"], "Query");
    assert!(answers[1]["data"]["categories"].is_array());
    let too_many = post_json(
        &app,
        json!([{ "query": "{ a }" }, { "query": "{ b }" }, { "query": "{ c }" }]),
    )
    .await;
    assert_eq!(too_many.status, 400);
}

#[actix_web::test]
async fn a_request_over_its_time_budget_is_answered_with_timeout() {
    // Sign-up hashes at bcrypt cost 15: seconds in a test build, over a 1 s budget.
    let app = spawn_app_with(1, &["--request-timeout-secs", "1", "--bcrypt-cost", "15"]).await;
    let started = std::time::Instant::now();
    let response = graphql_raw(
        &app,
        "mutation { accountRegister(input: { email: \"slow@example.com\", password: \"correct horse battery\" }) { accepted } }",
    )
    .await;
    assert!(started.elapsed() < std::time::Duration::from_millis(1900));
    assert_eq!(response.status, 504);
    assert_eq!(error_codes(&response.body), ["TIMEOUT"]);
    assert!(app.get("/health/live").await.0 == 200);
}

#[actix_web::test]
async fn browsers_may_call_from_allowed_origins_only() {
    let app = spawn_app_with(1, &["--cors-origins", "https://shop.example.com"]).await;
    let preflight = |origin: &'static str| {
        app.client()
            .request(
                awc::http::Method::OPTIONS,
                format!("{}/graphql", app.address),
            )
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header((
                "Access-Control-Request-Headers",
                "content-type, authorization",
            ))
            .send()
    };
    let allowed = preflight("https://shop.example.com").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://shop.example.com"
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    assert_ne!(other.status(), 200);
}
