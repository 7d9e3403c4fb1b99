//! Signed webhooks: a partner's receiver on loopback gets every event of a shop day, each
//! verified by its signature, none lost when it fails three times first, none twice with two
//! instances on one database, none lost when the server is killed; URLs are checked (SSRF).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::events::{a_shop_day, all_events};
use crate::helpers::{TestApp, error_codes, spawn_app_with};

/// Fast retries and polling, so a test sees three failures and a success in about a second.
const FAST: [&str; 4] = ["--webhook-first-retry-ms", "20", "--webhook-poll-ms", "20"];

/// What the receiver saw.
#[derive(Default)]
struct Seen {
    /// Requests per event id, answered or not.
    requests: HashMap<String, usize>,
    /// The deliveries it accepted: (event id header, signature header, body).
    accepted: Vec<(String, String, String)>,
    /// How many requests of each event it refuses (500) before it accepts one.
    fail_first: usize,
    /// How long it takes to accept a request (a slow partner).
    delay: Duration,
}

/// A partner's webhook receiver on loopback.
struct Receiver {
    seen: Arc<Mutex<Seen>>,
    address: SocketAddr,
    server: actix_web::dev::ServerHandle,
}

async fn receive(req: HttpRequest, body: web::Bytes, seen: web::Data<Mutex<Seen>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let event = header("Bazaar-Event-Id");
    let delay = {
        let mut seen = seen.lock().unwrap();
        let count = seen.requests.entry(event.clone()).or_default();
        *count += 1;
        if *count <= seen.fail_first {
            return HttpResponse::InternalServerError().finish();
        }
        seen.delay
    };
    actix_web::rt::time::sleep(delay).await;
    let body = String::from_utf8(body.to_vec()).unwrap();
    seen.lock()
        .unwrap()
        .accepted
        .push((event, header("Bazaar-Signature"), body));
    HttpResponse::Ok().finish()
}

impl Receiver {
    fn start(fail_first: usize) -> Self {
        let seen = Arc::new(Mutex::new(Seen {
            fail_first,
            ..Seen::default()
        }));
        let data = web::Data::from(Arc::clone(&seen));
        let (started, running) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(receive))
                })
                .workers(1)
                .disable_signals()
                .shutdown_timeout(0)
                .bind(("127.0.0.1", 0))
                .expect("bind the receiver");
                let address = server.addrs()[0];
                let server = server.run();
                started.send((address, server.handle())).unwrap();
                let _ = server.await;
            });
        });
        let (address, server) = running.recv().unwrap();
        Self {
            seen,
            address,
            server,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hooks/bazaar", self.address)
    }

    /// Waits until `count` requests have arrived, answered or not (at most 60 s).
    async fn wait_for_arrivals(&self, count: usize) {
        for _ in 0..3000 {
            if self.seen.lock().unwrap().requests.values().sum::<usize>() >= count {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("fewer than {count} requests arrived");
    }

    /// Waits until `count` deliveries were accepted (at most 60 s).
    async fn wait_for(&self, count: usize) {
        for _ in 0..3000 {
            if self.seen.lock().unwrap().accepted.len() >= count {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        let seen = self.seen.lock().unwrap();
        panic!("{} of {count} deliveries arrived", seen.accepted.len());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let server = self.server.clone();
        std::thread::spawn(move || actix_web::rt::System::new().block_on(server.stop(false)));
    }
}

/// Verifies a `Bazaar-Signature` header as the README tells partners to: the HMAC-SHA256 of
/// `"{t}.{body}"` with the secret, and `t` within five minutes of now.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let parts: HashMap<&str, &str> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() <= 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    fresh && hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

const SUBSCRIBE: &str = "mutation($app: ID, $url: String!, $events: [EventType!]!) {
    webhookSubscriptionCreate(appId: $app, url: $url, events: $events) {
        subscription { id url events status lastPosition } secret
        userErrors { field message code } } }";

const ALL_KINDS: [&str; 16] = [
    "ORDER_CREATED",
    "ORDER_PAID",
    "FULFILLMENT_CREATED",
    "ORDER_FULFILLED",
    "ORDER_CANCELLED",
    "ORDER_REFUNDED",
    "PRODUCT_CREATED",
    "PRODUCT_UPDATED",
    "PRODUCT_ARCHIVED",
    "VARIANT_UPDATED",
    "INVENTORY_CHANGED",
    "CUSTOMER_CREATED",
    "REVIEW_APPROVED",
    "COLLECTION_CREATED",
    "COLLECTION_UPDATED",
    "COLLECTION_DELETED",
];

/// A partner key holding every scope, for a new app: (key, app id).
async fn partner(app: &TestApp, admin: &str, scopes: &[&str]) -> (String, String) {
    let app_id = crate::partners::app_named(app, admin, "ERP").await;
    (
        crate::partners::key_with(app, admin, &app_id, scopes)
            .await
            .0,
        app_id,
    )
}

const EVERY_SCOPE: [&str; 8] = [
    "READ_PRODUCTS",
    "WRITE_PRODUCTS",
    "WRITE_INVENTORY",
    "READ_ORDERS",
    "WRITE_ORDERS",
    "READ_CUSTOMERS",
    "MANAGE_WEBHOOKS",
    "WRITE_CUSTOMERS",
];

/// Subscribes `url` to every kind with a partner key: (secret, subscription id, position).
async fn subscribe_everything(app: &TestApp, url: &str) -> (String, String, i64) {
    let boss = app
        .account_with_role("boss@example.com", "ADMIN")
        .await
        .token;
    let (key, _) = partner(app, &boss, &EVERY_SCOPE).await;
    let made = app
        .data_as(&key, SUBSCRIBE, json!({ "url": url, "events": ALL_KINDS }))
        .await;
    let payload = &made["webhookSubscriptionCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{made}");
    (
        payload["secret"].as_str().unwrap().to_owned(),
        payload["subscription"]["id"].as_str().unwrap().to_owned(),
        payload["subscription"]["lastPosition"].as_i64().unwrap(),
    )
}

/// The events a subscription made at `since` must deliver, as the admin reads them.
async fn expected_since(app: &TestApp, admin: &str, since: i64) -> Vec<Value> {
    all_events(app, admin, 100, None)
        .await
        .into_iter()
        .filter(|e| e["position"].as_i64().unwrap() > since)
        .collect()
}

#[actix_web::test]
async fn a_partner_gets_every_event_signed_and_none_lost_when_it_fails_three_times() {
    let receiver = Receiver::start(3);
    let app = spawn_app_with(1, &FAST).await;
    let (secret, subscription, since) = subscribe_everything(&app, &receiver.url()).await;
    let day = a_shop_day(&app).await;
    let expected = expected_since(&app, &day.admin, since).await;
    assert!(expected.len() >= 16, "{}", expected.len());
    receiver.wait_for(expected.len()).await;

    let (accepted, requests) = {
        let seen = receiver.seen.lock().unwrap();
        (seen.accepted.clone(), seen.requests.clone())
    };
    let mut bodies: Vec<Value> = Vec::new();
    for (event_id, signature, body) in &accepted {
        assert!(verify(&secret, signature, body), "{signature} {body}");
        assert!(!verify("whsec_wrong", signature, body));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["id"], json!(event_id));
        bodies.push(body);
    }
    bodies.sort_by_key(|b| b["position"].as_i64().unwrap());
    // Exactly the log: same events, same payloads (the admin and the key see the same: the key
    // holds read_customers), each accepted once after three refusals.
    assert_eq!(bodies.len(), expected.len());
    for (body, event) in bodies.iter().zip(&expected) {
        assert_eq!(body["id"], event["id"]);
        assert_eq!(body["type"], event["name"]);
        assert_eq!(body["subjectId"], event["subjectId"]);
        assert_eq!(body["payload"], event["payload"]);
    }
    assert!(requests.values().all(|n| *n == 4), "{requests:?}");

    let log = app
        .data_as(
            &day.admin,
            "query($id: ID!) { webhookDeliveries(webhookSubscriptionId: $id, first: 100) {
                edges { node { eventId status attemptCount nextAttemptAt
                               attempts { statusCode error latencyMs } } } } }",
            json!({ "id": subscription }),
        )
        .await;
    let deliveries = log["webhookDeliveries"]["edges"].as_array().unwrap();
    assert_eq!(deliveries.len(), expected.len());
    for delivery in deliveries {
        let node = &delivery["node"];
        assert_eq!(node["status"], "DELIVERED", "{node}");
        assert_eq!(node["attemptCount"], 4);
        assert_eq!(node["nextAttemptAt"], Value::Null);
        let codes: Vec<&Value> = node["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["statusCode"])
            .collect();
        assert_eq!(codes, [&json!(500), &json!(500), &json!(500), &json!(200)]);
    }
}

#[actix_web::test]
async fn two_instances_on_one_database_deliver_each_event_once() {
    let receiver = Receiver::start(0);
    let app = spawn_app_with(1, &FAST).await;
    let other = app
        .another_instance(&FAST, Arc::new(app.gateway.clone()))
        .await;
    let (_, _, since) = subscribe_everything(&app, &receiver.url()).await;
    let day = a_shop_day(&other).await;
    let expected = expected_since(&app, &day.admin, since).await;
    receiver.wait_for(expected.len()).await;
    // Both instances keep polling a while longer: nothing more may arrive.
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    let seen = receiver.seen.lock().unwrap();
    assert_eq!(seen.accepted.len(), expected.len());
    assert_eq!(seen.requests.len(), expected.len());
    assert!(
        seen.requests.values().all(|n| *n == 1),
        "{:?}",
        seen.requests
    );
}

#[actix_web::test]
async fn webhook_urls_and_callers_are_checked() {
    let app = spawn_app_with(1, &["--webhook-allow-private", "false"]).await;
    let admin = app
        .account_with_role("boss@example.com", "ADMIN")
        .await
        .token;
    let (key, app_id) = partner(&app, &admin, &["READ_PRODUCTS", "MANAGE_WEBHOOKS"]).await;
    let refused = |made: &Value| made["webhookSubscriptionCreate"]["userErrors"][0]["code"].clone();
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "ftp://example.com/hooks",
        "https://user:secret@example.com/hooks",
    ] {
        let made = app
            .data_as(
                &key,
                SUBSCRIBE,
                json!({ "url": url, "events": ["PRODUCT_CREATED"] }),
            )
            .await;
        assert_eq!(refused(&made), "INVALID", "{url}: {made}");
    }
    // A kind the key's scopes do not read.
    let made = app
        .data_as(
            &key,
            SUBSCRIBE,
            json!({ "url": "http://127.0.0.1:9/hooks", "events": ["ORDER_CREATED"] }),
        )
        .await;
    assert_eq!(
        made["webhookSubscriptionCreate"]["userErrors"][0]["field"],
        json!(["events"])
    );
    // Another app's subscriptions are not the key's to make.
    let (_, other_app) = partner(&app, &admin, &["READ_PRODUCTS"]).await;
    let made = app
        .graphql_as(
            Some(&key),
            SUBSCRIBE,
            json!({ "app": other_app, "url": "https://example.com", "events": ["PRODUCT_CREATED"] }),
        )
        .await;
    assert_eq!(error_codes(&made), ["FORBIDDEN"]);
    // Keys without manage_webhooks, customers and strangers may not subscribe.
    let (reader, _) = partner(&app, &admin, &["READ_PRODUCTS"]).await;
    let customer = app.register("someone@example.com").await.token;
    for token in [Some(reader.as_str()), Some(customer.as_str()), None] {
        let made = app
            .graphql_as(
                token,
                SUBSCRIBE,
                json!({ "app": app_id, "url": "https://example.com", "events": ["PRODUCT_CREATED"] }),
            )
            .await;
        assert_eq!(error_codes(&made), ["FORBIDDEN"], "{made}");
    }

    // An allow-listed network is reachable.
    let allowed = spawn_app_with(
        1,
        &[
            "--webhook-allow-private",
            "false",
            "--webhook-allowed-networks",
            "127.0.0.0/8",
        ],
    )
    .await;
    let admin = allowed
        .account_with_role("boss@example.com", "ADMIN")
        .await
        .token;
    let made = allowed
        .data_as(
            &admin,
            SUBSCRIBE,
            json!({ "app": partner(&allowed, &admin, &["READ_PRODUCTS"]).await.1,
                    "url": "http://127.0.0.1:9/hooks", "events": ["PRODUCT_CREATED"] }),
        )
        .await;
    assert_eq!(
        made["webhookSubscriptionCreate"]["userErrors"],
        json!([]),
        "{made}"
    );
}

/// A `bazaar serve` process over `database_url`, listening on `port`.
fn serve_process(database_url: &str, port: u16, poll_ms: &str) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args([
            "--webhook-poll-ms",
            poll_ms,
            "--webhook-first-retry-ms",
            "20",
        ])
        .env("DATABASE_URL", database_url)
        .env("BAZAAR_ENV", "development")
        .env("BAZAAR_BCRYPT_COST", "4")
        .env("BAZAAR_COST_BUCKET_SIZE", "1000000")
        .env("BAZAAR_COST_RESTORE_RATE", "1000000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start bazaar serve")
}

async fn wait_until_ready(api: &crate::helpers::ApiClient) {
    for _ in 0..600 {
        let ready = api
            .client()
            .get(format!("{}/health/ready", api.address))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

#[actix_web::test]
async fn events_committed_before_a_kill_are_delivered_after_the_restart() {
    let receiver = Receiver::start(0);
    let (database_url, _dir) = crate::helpers::fresh_database();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = crate::helpers::ApiClient::new(&format!("http://127.0.0.1:{port}"));
    // The first process looks for due deliveries only at start: whatever it commits stays
    // undelivered until it is killed.
    let mut first = serve_process(&database_url, port, "600000");
    wait_until_ready(&api).await;
    let admin = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args(["create-admin", "--email", "boss@example.com"])
        .env("DATABASE_URL", &database_url)
        .env("BAZAAR_ENV", "development")
        .env("BAZAAR_BCRYPT_COST", "4")
        .env("BAZAAR_ADMIN_PASSWORD", crate::helpers::PASSWORD)
        .output()
        .expect("create an admin");
    assert!(admin.status.success(), "{admin:?}");
    let session = api
        .login("boss@example.com", crate::helpers::PASSWORD)
        .await;
    let admin = session["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{session}"));
    let made = api
        .data_as(
            admin,
            "mutation { appCreate(name: \"ERP\", contact: \"erp@example.com\") { app { id } } }",
            json!({}),
        )
        .await;
    let made = api
        .data_as(
            admin,
            SUBSCRIBE,
            json!({ "app": made["appCreate"]["app"]["id"], "url": receiver.url(),
                    "events": ["ORDER_CREATED", "INVENTORY_CHANGED"] }),
        )
        .await;
    assert_eq!(
        made["webhookSubscriptionCreate"]["userErrors"],
        json!([]),
        "{made}"
    );
    let since = made["webhookSubscriptionCreate"]["subscription"]["lastPosition"]
        .as_i64()
        .unwrap();
    let product = api
        .data_as(
            admin,
            "mutation { productCreate(input: { name: \"Crash Cup\", status: ACTIVE }) { product { id } } }",
            json!({}),
        )
        .await;
    let variant = api
        .data_as(
            admin,
            "mutation($product: ID!) { variantCreate(productId: $product,
                input: { sku: \"cup-1\", title: \"Blue\", price: \"9.00\", stock: 100 }) { variant { id } } }",
            json!({ "product": product["productCreate"]["product"]["id"] }),
        )
        .await["variantCreate"]["variant"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for key in ["k1", "k2", "k3"] {
        let cart = crate::commerce::cart_with(&api, None, &variant, 1).await;
        let placed = crate::commerce::checkout(&api, None, &cart, key).await;
        assert!(
            placed["data"]["checkoutComplete"]["order"]["id"].is_string(),
            "{placed}"
        );
    }
    first.kill().expect("SIGKILL the server");
    first.wait().unwrap();
    assert_eq!(receiver.seen.lock().unwrap().accepted.len(), 0);

    let mut second = serve_process(&database_url, port, "20");
    wait_until_ready(&api).await;
    receiver.wait_for(7).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let session = api
        .login("boss@example.com", crate::helpers::PASSWORD)
        .await;
    let admin = session["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut expected: Vec<String> = Vec::new();
    let mut after = Value::Null;
    loop {
        let logged = api
            .data_as(
                &admin,
                "query($after: String) { events(first: 100, after: $after, types: [ORDER_CREATED, INVENTORY_CHANGED]) {
                    edges { node { id position } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let page = &logged["events"];
        expected.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["node"]["position"].as_i64().unwrap() > since)
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let mut delivered: Vec<String> = receiver
        .seen
        .lock()
        .unwrap()
        .accepted
        .iter()
        .map(|(id, _, _)| id.clone())
        .collect();
    second.kill().unwrap();
    second.wait().unwrap();
    expected.sort();
    delivered.sort();
    assert_eq!(expected.len(), 7);
    assert_eq!(delivered, expected);
}

#[actix_web::test]
async fn a_receiver_that_keeps_failing_gets_eight_tries_then_its_subscription_pauses_until_resumed()
{
    let receiver = Receiver::start(usize::MAX);
    let app = spawn_app_with(
        1,
        &["--webhook-first-retry-ms", "10", "--webhook-poll-ms", "10"],
    )
    .await;
    let (_, subscription, _) = subscribe_everything(&app, &receiver.url()).await;
    let admin = app
        .account_with_role("admin@example.com", "ADMIN")
        .await
        .token;
    let deliveries = "query($id: ID!) { webhookDeliveries(webhookSubscriptionId: $id, first: 10) {
        edges { node { id status attemptCount nextAttemptAt attempts { statusCode } } } } }";
    let status = "query { webhookSubscriptions { id status } }";
    // The admin's sign-up was the one event: eight tries over 10 × (1 + 5 + … + 720) ms ± 20 %.
    let mut paused = false;
    for _ in 0..1500 {
        let subscriptions = app.data_as(&admin, status, json!({})).await;
        if subscriptions["webhookSubscriptions"][0]["status"] == "PAUSED" {
            paused = true;
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(paused, "the subscription never paused");
    let log = app
        .data_as(&admin, deliveries, json!({ "id": subscription }))
        .await;
    let dead = &log["webhookDeliveries"]["edges"][0]["node"];
    assert_eq!(dead["status"], "DEAD");
    assert_eq!(dead["attemptCount"], 8);
    assert_eq!(dead["nextAttemptAt"], Value::Null);
    assert_eq!(dead["attempts"].as_array().unwrap().len(), 8);
    assert_eq!(
        receiver
            .seen
            .lock()
            .unwrap()
            .requests
            .values()
            .sum::<usize>(),
        8
    );

    // While paused nothing is sent; once resumed, what happened meanwhile is, and a dead
    // delivery goes again when retried by hand.
    app.register("meanwhile@example.com").await;
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.seen.lock().unwrap().requests.len(), 1);
    receiver.seen.lock().unwrap().fail_first = 0;
    let resumed = app
        .data_as(
            &admin,
            "mutation($id: ID!) { webhookSubscriptionResume(id: $id) { subscription { status } userErrors { code } } }",
            json!({ "id": subscription }),
        )
        .await;
    assert_eq!(
        resumed["webhookSubscriptionResume"]["subscription"]["status"],
        "ACTIVE"
    );
    let retried = app
        .data_as(
            &admin,
            "mutation($id: ID!) { webhookDeliveryRetry(id: $id) { delivery { status attemptCount } userErrors { code } } }",
            json!({ "id": dead["id"] }),
        )
        .await;
    assert_eq!(
        retried["webhookDeliveryRetry"]["delivery"],
        json!({ "status": "PENDING", "attemptCount": 0 })
    );
    receiver.wait_for(1).await;
}

/// An instance whose webhook receiver is slow, with one product created through it and its
/// event delivered to the receiver; another instance that looks for due deliveries only at its
/// start, to read the deliveries through; the admin's token. Returns once the delivery is under
/// way (its request arrived, not yet answered). One delivery: the sending loop does not start a
/// round while one is under way, so a second event would wait for the first answer.
async fn sends_under_way(
    receiver: &Receiver,
    flags: &[&str],
) -> (TestApp, TestApp, String, String) {
    let app = spawn_app_with(1, flags).await;
    let reader = app
        .another_instance(
            &["--webhook-poll-ms", "600000"],
            Arc::new(app.gateway.clone()),
        )
        .await;
    let boss = app
        .account_with_role("boss@example.com", "ADMIN")
        .await
        .token;
    let (key, _) = partner(&app, &boss, &EVERY_SCOPE).await;
    let made = app
        .data_as(
            &key,
            SUBSCRIBE,
            json!({ "url": receiver.url(), "events": ["PRODUCT_CREATED"] }),
        )
        .await;
    let subscription = made["webhookSubscriptionCreate"]["subscription"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"))
        .to_owned();
    let made = app
        .data_as(
            &boss,
            "mutation { productCreate(input: { name: \"Mug\" }) { product { id } } }",
            json!({}),
        )
        .await;
    assert!(made["productCreate"]["product"]["id"].is_string(), "{made}");
    receiver.wait_for_arrivals(1).await;
    assert!(receiver.seen.lock().unwrap().accepted.is_empty());
    (app, reader, boss, subscription)
}

/// The subscription's deliveries as an admin reads them: (status, attempt count, next attempt).
async fn deliveries(app: &TestApp, admin: &str, subscription: &str) -> Vec<(String, i64, Value)> {
    let log = app
        .data_as(
            admin,
            "query($id: ID!) { webhookDeliveries(webhookSubscriptionId: $id, first: 100) {
                edges { node { status attemptCount nextAttemptAt } } } }",
            json!({ "id": subscription }),
        )
        .await;
    log["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["status"].as_str().unwrap().to_owned(),
                node["attemptCount"].as_i64().unwrap(),
                node["nextAttemptAt"].clone(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn a_stopping_instance_finishes_the_sends_under_way_before_it_exits() {
    let receiver = Receiver::start(0);
    receiver.seen.lock().unwrap().delay = Duration::from_millis(1500);
    let (mut app, reader, admin, subscription) = sends_under_way(&receiver, &FAST).await;

    app.stop_gracefully();

    assert_eq!(receiver.seen.lock().unwrap().accepted.len(), 1);
    let recorded = deliveries(&reader, &admin, &subscription).await;
    assert_eq!(
        recorded,
        vec![("DELIVERED".to_owned(), 1, Value::Null)],
        "every send under way finished and was recorded before the instance exited"
    );
}

#[actix_web::test]
async fn sends_that_outlast_the_grace_period_are_handed_back_to_the_other_instances() {
    let receiver = Receiver::start(0);
    receiver.seen.lock().unwrap().delay = Duration::from_secs(20);
    let flags = [
        &FAST[..],
        &["--webhook-timeout-secs", "30", "--shutdown-grace-secs", "1"],
    ]
    .concat();
    let (mut app, reader, admin, subscription) = sends_under_way(&receiver, &flags).await;

    app.stop_gracefully();

    // Due now, not when the lease (timeout + 30 s) ends, and no attempt recorded.
    let handed_back = deliveries(&reader, &admin, &subscription).await;
    assert_eq!(handed_back.len(), 1);
    for (status, attempts, next) in &handed_back {
        assert_eq!((status.as_str(), *attempts), ("PENDING", 0));
        let next = chrono::DateTime::parse_from_rfc3339(next.as_str().unwrap()).unwrap();
        assert!(next <= chrono::Utc::now(), "{next}");
    }
    receiver.seen.lock().unwrap().delay = Duration::ZERO;
    let _sender = reader
        .another_instance(&FAST, Arc::new(reader.gateway.clone()))
        .await;
    receiver.wait_for(2).await;
    for _ in 0..250 {
        let sent = deliveries(&reader, &admin, &subscription).await;
        if sent.iter().all(|(status, _, _)| status == "DELIVERED") {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the handed-back deliveries were not recorded as delivered");
}
