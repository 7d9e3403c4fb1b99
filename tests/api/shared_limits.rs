//! Limits shared by every instance through Redis (`--redis-url`): two instances on one
//! database give a caller one cost bucket, one sign-in throttle and one abuse allowance; with
//! Redis gone each instance keeps serving under its own limits and says so once. The tests with
//! a live Redis run when `TEST_REDIS_URL` is set, each under a key prefix of its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, captured_logs, error_codes, spawn_app_with};

/// The Redis URL of the tests, when set.
fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    if url.is_none() {
        println!("skipped: set TEST_REDIS_URL to test limits shared through Redis");
    }
    url
}

/// A key prefix no other test uses.
fn fresh_prefix() -> String {
    format!("bazaar-test-{:016x}", rand::random::<u64>())
}

/// Two instances on one database, both with `flags`.
async fn two_instances(flags: &[&str]) -> (TestApp, TestApp) {
    let a = spawn_app_with(1, flags).await;
    let b = a.another_instance(flags, Arc::new(a.gateway.clone())).await;
    (a, b)
}

/// Top-level categories of the demo shop (4): requested and actual cost 5 each.
const CATEGORIES: &str = "{ categories(first: 4) { name } }";
const COST: f64 = 5.0;
const BUCKET: f64 = 50.0;

/// Sends `query` as a JSON POST; the answer's body (a THROTTLED one is a 429 request error,
/// which [`crate::helpers::ApiClient::graphql`] does not take).
async fn ask(app: &TestApp, query: &str) -> Value {
    let mut response = app
        .client()
        .post(format!("{}/graphql", app.address))
        .insert_header(("Accept", "application/graphql-response+json"))
        .send_json(&json!({ "query": query }))
        .await
        .expect("send the request");
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    let throttled = error_codes(&body) == ["THROTTLED"];
    assert_eq!(status, if throttled { 429 } else { 200 }, "{body}");
    body
}

fn available(response: &Value) -> f64 {
    response["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
        .as_f64()
        .unwrap_or_else(|| panic!("a throttle status in {response}"))
}

#[actix_web::test]
async fn a_callers_cost_bucket_drains_as_one_whichever_instance_it_calls() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let flags = [
        "--redis-url",
        &url,
        "--redis-prefix",
        &prefix,
        "--cost-bucket-size",
        "50",
        "--cost-restore-rate",
        "1",
    ];
    let (a, b) = two_instances(&flags).await;
    let started = Instant::now();
    let mut previous = BUCKET;
    let mut served = [0_u32; 2];
    let mut throttled_at = None;
    for round in 0..40 {
        let (instance, app) = if round % 2 == 0 { (0, &a) } else { (1, &b) };
        let response = ask(app, CATEGORIES).await;
        if error_codes(&response) == ["THROTTLED"] {
            assert!(
                response["errors"][0]["extensions"]["retryAfter"]
                    .as_u64()
                    .is_some_and(|secs| secs >= 1),
                "{response}"
            );
            throttled_at = Some(round);
            break;
        }
        assert!(
            response.get("errors").is_none(),
            "round {round}: {response}"
        );
        let cost = &response["extensions"]["cost"];
        assert_eq!(cost["requestedQueryCost"], COST, "{response}");
        assert_eq!(cost["actualQueryCost"], COST, "{response}");
        // Each answer continues from the other instance's: the bucket drains by what every
        // request cost (less the point a second restores), not by half as fast.
        let now = available(&response);
        assert!(
            now <= previous - COST + 1.0 + started.elapsed().as_secs_f64(),
            "round {round}: {now} after {previous}"
        );
        previous = now;
        served[instance] += 1;
    }
    let throttled_at = throttled_at.expect("the shared bucket ran dry");
    // The bucket holds 10 of these (plus what it restored meanwhile, a point a second); two
    // buckets of their own would have served 20 before refusing any.
    let restored = started.elapsed().as_secs_f64();
    let most = ((BUCKET + restored) / COST).floor() as u32;
    assert!(
        (10..=most).contains(&throttled_at),
        "refused after {throttled_at} requests ({restored:.1} s)"
    );
    assert!(
        served
            .iter()
            .all(|n| f64::from(*n) * COST <= BUCKET / 2.0 + restored),
        "each instance alone saw about half a bucket: {served:?}"
    );
    // Both instances now refuse the caller, and report the same bucket.
    let on_a = ask(&a, CATEGORIES).await;
    let on_b = ask(&b, CATEGORIES).await;
    assert_eq!(error_codes(&on_a), ["THROTTLED"], "{on_a}");
    assert_eq!(error_codes(&on_b), ["THROTTLED"], "{on_b}");
    assert!((available(&on_a) - available(&on_b)).abs() <= 1.0);
}

#[actix_web::test]
async fn sign_in_failures_and_abuse_allowances_count_on_every_instance() {
    let Some(url) = redis_url() else { return };
    let prefix = fresh_prefix();
    let flags = [
        "--redis-url",
        &url,
        "--redis-prefix",
        &prefix,
        "--login-free-attempts",
        "3",
        "--rate-limits",
        "true",
    ];
    let (a, b) = two_instances(&flags).await;

    // Three failed sign-ins, spread over both instances: the fourth waits on either.
    for app in [&a, &b, &a] {
        let failed = app.login("ada@example.com", "wrong password").await;
        assert_eq!(
            failed["data"]["login"]["userErrors"][0]["code"], "INVALID_CREDENTIALS",
            "{failed}"
        );
    }
    for app in [&b, &a] {
        let throttled = app.login("ada@example.com", "wrong password").await;
        assert_eq!(error_codes(&throttled), ["RATE_LIMITED"], "{throttled}");
        assert!(
            throttled["errors"][0]["extensions"]["retryAfter"]
                .as_u64()
                .is_some_and(|secs| (1..=900).contains(&secs)),
            "{throttled}"
        );
    }
    // Another account is not throttled (the client address has four times the allowance).
    let other = b.login("bob@example.com", "wrong password").await;
    assert_eq!(
        other["data"]["login"]["userErrors"][0]["code"], "INVALID_CREDENTIALS",
        "{other}"
    );

    // Three reset mails an hour per email, counted once across the instances.
    let reset = "mutation($e: String!) { passwordResetRequest(email: $e) { accepted } }";
    for app in [&a, &b, &a] {
        let answer = app
            .graphql(reset, json!({ "e": "victim@example.com" }))
            .await;
        assert!(answer.get("errors").is_none(), "{answer}");
    }
    let fourth = b.graphql(reset, json!({ "e": "Victim@example.com" })).await;
    assert_eq!(error_codes(&fourth), ["RATE_LIMITED"], "{fourth}");
    let other = b
        .graphql(reset, json!({ "e": "someone@example.com" }))
        .await;
    assert!(other.get("errors").is_none(), "{other}");
}

#[actix_web::test]
async fn without_redis_each_instance_keeps_its_own_limits_and_says_so_once() {
    // Nothing listens on port 1: every call to Redis fails at once.
    let prefix = fresh_prefix();
    let flags = [
        "--redis-url",
        "redis://127.0.0.1:1",
        "--redis-prefix",
        &prefix,
        "--cost-bucket-size",
        "50",
        "--cost-restore-rate",
        "1",
    ];
    let app = spawn_app_with(1, &flags).await;
    let started = Instant::now();
    let mut served = 0;
    // Two seconds and more of requests: Redis is tried again every second meanwhile.
    while started.elapsed() < Duration::from_millis(2_500) {
        let response = ask(&app, CATEGORIES).await;
        if error_codes(&response) == ["THROTTLED"] {
            // The instance's own bucket still limits the caller.
            break;
        }
        assert!(response.get("errors").is_none(), "{response}");
        assert!(available(&response) < BUCKET);
        served += 1;
    }
    assert!(
        served >= 10,
        "served {served} before its own bucket ran dry"
    );
    while started.elapsed() < Duration::from_millis(2_500) {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let _ = ask(&app, CATEGORIES).await;
    }
    let logs = captured_logs();
    let losses = logs
        .lines()
        .filter(|line| line.contains("Redis is unreachable") && line.contains(&prefix))
        .count();
    assert_eq!(losses, 1, "the loss is logged once");
}

#[actix_web::test]
async fn an_unresponsive_redis_holds_no_request_up() {
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("redis://{}", silent.local_addr().expect("its address"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming() {
            held.push(stream);
        }
    });
    let prefix = fresh_prefix();
    let flags = [
        "--redis-url",
        &url,
        "--redis-prefix",
        &prefix,
        "--redis-timeout-ms",
        "100",
    ];
    let app = spawn_app_with(1, &flags).await;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < Duration::from_millis(2_500) {
        let sent = Instant::now();
        let response = ask(&app, CATEGORIES).await;
        assert!(response.get("errors").is_none(), "{response}");
        slowest = slowest.max(sent.elapsed());
    }
    // A charge and a settle wait 100 ms each at most, and only once a second.
    assert!(slowest < Duration::from_secs(1), "{slowest:?}");
    let logs = captured_logs();
    let losses: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains("Redis is unreachable") && line.contains(&prefix))
        .collect();
    assert_eq!(losses.len(), 1, "{losses:?}");
    // Ours, or the client's own connection timeout (the same 100 ms), whichever came first.
    assert!(
        losses[0].contains("no answer within 100 ms") || losses[0].contains("timed out"),
        "{}",
        losses[0]
    );
}

/// A Redis server of a test's own, stopped when dropped.
struct OwnRedis(std::process::Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn shared_limits_resume_when_redis_comes_back_and_say_so_once() {
    if redis_url().is_none() {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let prefix = fresh_prefix();
    let flags = [
        "--redis-url",
        &url,
        "--redis-prefix",
        &prefix,
        "--cost-bucket-size",
        "50",
        "--cost-restore-rate",
        "1",
    ];
    let (a, b) = two_instances(&flags).await;
    // No Redis yet: each instance charges its own bucket.
    let first_a = ask(&a, CATEGORIES).await;
    let first_b = ask(&b, CATEGORIES).await;
    assert_eq!(available(&first_a), BUCKET - COST, "{first_a}");
    assert_eq!(available(&first_b), BUCKET - COST, "{first_b}");

    let _redis = OwnRedis(
        std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    // Each instance tries Redis again within a second or two of its return.
    let recovered = |logs: &str| {
        logs.lines()
            .filter(|line| line.contains("Redis answers again") && line.contains(&prefix))
            .count()
    };
    let started = Instant::now();
    while recovered(&captured_logs()) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "both instances found Redis again"
        );
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        ask(&a, CATEGORIES).await;
        ask(&b, CATEGORIES).await;
    }
    // One bucket again, in Redis (which started it full): it continues from one instance to
    // the other.
    let on_a = available(&ask(&a, CATEGORIES).await);
    let on_b = available(&ask(&b, CATEGORIES).await);
    assert!(on_b <= on_a - COST + 1.0, "{on_b} after {on_a}");
    let logs = captured_logs();
    assert_eq!(recovered(&logs), 2, "each instance says so once");
    let losses = logs
        .lines()
        .filter(|line| line.contains("Redis is unreachable") && line.contains(&prefix))
        .count();
    assert_eq!(losses, 2, "each instance logged the loss once");
}
