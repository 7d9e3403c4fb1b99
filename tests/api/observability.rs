//! Metrics and request logs (issue 20): `/metrics` is off without a token or a listener of its
//! own and asks for the token when it has one; a scrape, read with a Prometheus text parser,
//! moves by what was asked (requests by operation and outcome, latency, statements, cost
//! refusals, the pool); each HTTP request writes one JSON log line with its id, operation,
//! caller kind, outcome, statements and time, and no credential.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::{Value, json};

use crate::helpers::{ApiClient, TestApp, fresh_database, spawn_app, spawn_app_with, statements};

/// The metrics token the tests' servers take.
pub const TOKEN: &str = "metrics-token-for-tests-0123456789";

/// `GET /metrics` at `address` with `token`: status and body.
pub async fn scrape_at(client: &awc::Client, address: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client.get(format!("{address}/metrics"));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request.send().await.expect("GET /metrics");
    let body = response.body().limit(16 * 1024 * 1024).await.expect("body");
    (
        response.status().as_u16(),
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The app's metrics, parsed (with the token).
pub async fn scrape(app: &TestApp) -> Scrape {
    let (status, body) = scrape_at(app.client(), &app.address, Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    Scrape::parse(body.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text")
}

/// The value of the sample `metric` whose labels include `labels` (0 when there is none: a
/// counter not yet made). Histograms give their count.
pub fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .collect();
    matching
        .iter()
        .map(|sample| match &sample.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Metric::Summary(_) => panic!("no summaries here"),
        })
        .sum()
}

/// Sends a GraphQL POST as is; the JSON body whatever the status.
async fn post(app: &TestApp, body: Value) -> Value {
    let mut response = app
        .client()
        .post(format!("{}/graphql", app.address))
        .send_json(&body)
        .await
        .expect("POST");
    response.json::<Value>().await.expect("JSON")
}

#[actix_web::test]
async fn metrics_are_off_without_a_token_or_a_listener_of_their_own() {
    let app = spawn_app().await;
    let (status, _) = scrape_at(app.client(), &app.address, Some(TOKEN)).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn a_scrape_needs_the_token_and_counts_what_was_asked() {
    let app = spawn_app_with(
        1,
        &[
            "--metrics-token",
            TOKEN,
            "--cost-bucket-size",
            "100",
            "--cost-restore-rate",
            "1",
        ],
    )
    .await;
    for token in [None, Some("metrics-token-for-tests-wrong-one")] {
        let (status, body) = scrape_at(app.client(), &app.address, token).await;
        assert_eq!(status, 401, "{token:?}");
        assert!(!body.contains("bazaar_"), "{body}");
    }
    let before = scrape(&app).await;

    // First, on a full bucket. Priced at 95 of its 100 (1 + 47 × 2) but costing little: it runs, and the same
    // again finds the bucket short (restored at 1 point a second).
    let big = "query Big { categories(first: 47) { name slug } }";
    let first = post(&app, json!({ "query": big })).await;
    assert!(first.get("errors").is_none(), "{first}");
    let second = post(&app, json!({ "query": big })).await;
    assert_eq!(second["errors"][0]["extensions"]["code"], "THROTTLED");
    // Over a full bucket.
    let too_big = post(
        &app,
        json!({ "query": "{ categories(first: 50) { name slug id } }" }),
    )
    .await;
    assert_eq!(
        too_big["errors"][0]["extensions"]["code"],
        "QUERY_TOO_COMPLEX"
    );

    // Three queries that run.
    let home = "query Home { categories(first: 2) { name } }";
    let mut sent = 0;
    for _ in 0..3 {
        let response = post(&app, json!({ "query": home })).await;
        assert!(response.get("errors").is_none(), "{response}");
        sent += statements(&response);
    }
    // A mutation that answers with a user error.
    let login = post(
        &app,
        json!({ "query": "mutation SignIn { login(email: \"nobody@example.com\", password: \"wrong password\") { userErrors { code } } }" }),
    )
    .await;
    assert_eq!(
        login["data"]["login"]["userErrors"][0]["code"],
        "INVALID_CREDENTIALS"
    );
    // A document that does not validate: refused, and its name is not taken as a label.
    let broken = post(&app, json!({ "query": "query Broken { nope }" })).await;
    assert_eq!(broken["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let after = scrape(&app).await;
    let moved = |metric: &str, labels: &[(&str, &str)]| {
        value(&after, metric, labels) - value(&before, metric, labels)
    };
    let requests = "bazaar_graphql_requests_total";
    let http = ("transport", "http");
    assert_eq!(
        moved(requests, &[("operation", "Home"), http, ("outcome", "ok")]),
        3.0
    );
    assert_eq!(
        moved(
            requests,
            &[("operation", "SignIn"), http, ("outcome", "user_error")]
        ),
        1.0
    );
    assert_eq!(moved(requests, &[("operation", "Broken")]), 0.0);
    assert_eq!(
        moved(
            requests,
            &[
                ("operation", "(other)"),
                ("outcome", "refused"),
                ("code", "BAD_USER_INPUT")
            ]
        ),
        1.0
    );
    assert_eq!(
        moved(requests, &[("operation", "Big"), ("outcome", "ok")]),
        1.0
    );
    assert_eq!(
        moved(
            requests,
            &[
                ("operation", "Big"),
                ("outcome", "refused"),
                ("code", "THROTTLED")
            ]
        ),
        1.0
    );
    assert_eq!(
        moved(
            requests,
            &[
                ("operation", "(anonymous)"),
                ("outcome", "refused"),
                ("code", "QUERY_TOO_COMPLEX")
            ]
        ),
        1.0
    );
    let refusals = "bazaar_cost_refusals_total";
    assert_eq!(moved(refusals, &[("reason", "throttled")]), 1.0);
    assert_eq!(moved(refusals, &[("reason", "too_complex")]), 1.0);

    // Latency and statements per request, of the three `Home` queries.
    let home_only = [("operation", "Home")];
    assert_eq!(
        moved(
            "bazaar_graphql_request_duration_seconds",
            &[("operation", "Home"), http]
        ),
        3.0
    );
    assert!(
        value(
            &after,
            "bazaar_graphql_request_duration_seconds_sum",
            &[("operation", "Home"), http]
        ) > 0.0
    );
    assert_eq!(
        moved("bazaar_graphql_request_sql_statements", &home_only),
        3.0
    );
    assert_eq!(
        moved("bazaar_graphql_request_sql_statements_sum", &home_only),
        sent as f64
    );
    assert_eq!(
        moved("bazaar_graphql_request_database_calls_count", &home_only),
        3.0
    );

    // The pool, the webhook queue, the process.
    assert_eq!(value(&after, "bazaar_db_pool_max_connections", &[]), 4.0);
    let open = value(&after, "bazaar_db_pool_connections", &[]);
    assert!((1.0..=4.0).contains(&open), "{open}");
    assert_eq!(value(&after, "bazaar_db_pool_waiting", &[]), 0.0);
    assert_eq!(value(&after, "bazaar_webhook_deliveries_pending", &[]), 0.0);
    assert!(value(&after, "process_resident_memory_bytes", &[]) > 1_000_000.0);
}

#[actix_web::test]
async fn operation_names_are_bounded_labels() {
    let app = spawn_app_with(1, &["--metrics-token", TOKEN]).await;
    // Names no label can hold: too long, and a third of a thousand distinct ones.
    let long = format!("query {} {{ __typename }}", "L".repeat(65));
    post(&app, json!({ "query": long })).await;
    for n in 0..300 {
        let response = post(
            &app,
            json!({ "query": format!("query Op{n} {{ __typename }}") }),
        )
        .await;
        assert!(response.get("errors").is_none(), "{response}");
    }
    let after = scrape(&app).await;
    let requests = "bazaar_graphql_requests_total";
    let names: std::collections::HashSet<&str> = after
        .samples
        .iter()
        .filter(|s| s.metric == requests)
        .filter_map(|s| s.labels.get("operation"))
        .collect();
    // 200 names, then `(other)`; `(anonymous)` and `(invalid)` besides.
    assert_eq!(names.len(), 200 + 3, "{names:?}");
    assert_eq!(value(&after, requests, &[("operation", "(invalid)")]), 1.0);
    assert_eq!(value(&after, requests, &[("operation", "(other)")]), 100.0);
    assert_eq!(value(&after, requests, &[("operation", "Op0")]), 1.0);
}

/// A free port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Waits until `address` answers `/health/live`.
async fn wait_until_up(client: &ApiClient) {
    for _ in 0..200 {
        let probe = client
            .client()
            .get(format!("{}/health/live", client.address))
            .send()
            .await;
        if probe.is_ok_and(|response| response.status() == 200) {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

// The real binary with `--log-format json` and `--metrics-listen`: one JSON line per request with
// its fields and no credential; `/metrics` on its own port (open there, 404 on the public one).
#[actix_web::test]
async fn each_request_writes_one_json_line_and_metrics_listen_on_their_own_port() {
    let (database_url, _dir) = fresh_database();
    let (port, metrics_port) = (free_port(), free_port());
    let admin_password = "an admin passphrase for logs";
    let created = Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args([
            "create-admin",
            "--email",
            "ops@example.com",
            "--bcrypt-cost",
            "4",
        ])
        .env("DATABASE_URL", &database_url)
        .env("BAZAAR_ADMIN_PASSWORD", admin_password)
        .env("RUST_LOG", "warn")
        .output()
        .expect("create-admin");
    assert!(created.status.success(), "{created:?}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args([
            "serve",
            "--environment",
            "development",
            "--seed-demo",
            "false",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--metrics-listen",
            &format!("127.0.0.1:{metrics_port}"),
            "--log-format",
            "json",
            "--workers",
            "1",
        ])
        .env("DATABASE_URL", &database_url)
        .env("RUST_LOG", "info")
        .env_remove("BAZAAR_METRICS_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bazaar");
    let client = ApiClient::new(&format!("http://127.0.0.1:{port}"));
    wait_until_up(&client).await;

    let login = client.login("ops@example.com", admin_password).await;
    let token = login["data"]["login"]["session"]["token"]
        .as_str()
        .expect("a session")
        .to_owned();
    let mut response = client
        .client()
        .post(format!("{}/graphql", client.address))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send_json(&json!({ "query": "query Me { me { email } }" }))
        .await
        .expect("POST");
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("x-request-id")
        .to_owned();
    let me: Value = response.json().await.expect("JSON");
    assert_eq!(me["data"]["me"]["email"], "ops@example.com");
    // A GET's query string carries variables (tokens among them): never logged.
    let (status, _) = client
        .get("/graphql?query=query%20Q(%24t%3A%20String)%20%7B%20__typename%20%7D&variables=%7B%22t%22%3A%22NOT_FOR_THE_LOGS%22%7D")
        .await;
    assert_eq!(status, 200);

    let (status, _) = client.get("/metrics").await;
    assert_eq!(status, 404, "not on the public listener");
    let (status, body) = scrape_at(
        client.client(),
        &format!("http://127.0.0.1:{metrics_port}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.contains("bazaar_graphql_requests_total{operation=\"Me\""),
        "{body}"
    );

    server.kill().expect("stop bazaar");
    let mut logs = String::new();
    server
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("read the log");
    let _ = server.wait();
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|line| line["target"] == "bazaar::access" && line["request_id"] == request_id)
        .collect();
    assert_eq!(access.len(), 1, "one line for the request: {logs}");
    let line = access[0];
    assert_eq!(line["message"], "request");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["path"], "/graphql");
    assert_eq!(line["status"], 200);
    assert_eq!(line["transport"], "http");
    assert_eq!(line["operation"], "Me");
    assert_eq!(line["principal"], "admin");
    assert_eq!(line["outcome"], "ok");
    assert_eq!(line["statements"], me["extensions"]["sql"]["statements"]);
    assert_eq!(line["calls"], me["extensions"]["sql"]["calls"]);
    assert!(
        line["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{line}"
    );
    // The sign-in is the anonymous caller's; the scrape has a line of its own too.
    assert!(lines.iter().any(|line| line["target"] == "bazaar::access"
        && line["operation"] == "(anonymous)"
        && line["principal"] == "anonymous"));
    assert!(lines.iter().any(|line| line["target"] == "bazaar::access"
        && line["path"] == "/metrics"
        && line["status"] == 200));
    for secret in [token.as_str(), admin_password, "NOT_FOR_THE_LOGS"] {
        assert!(!logs.contains(secret), "the log holds {secret:?}");
    }
}
