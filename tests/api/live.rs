//! Subscriptions over WebSocket (graphql-transport-ws): every close code of the protocol, the
//! subscription fields and who may follow what, resuming the event log from a cursor, sockets
//! closed when their session ends or the server stops, the limits, and an order placed on one
//! instance reaching a subscriber on another (PostgreSQL).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web::Bytes;
use awc::ws::{Codec, Frame, Message};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};

use crate::commerce::{cart_with, checkout};
use crate::events::a_shop_day;
use crate::helpers::{TestApp, spawn_app, spawn_app_with};

type Framed = actix_codec::Framed<awc::BoxedSocket, Codec>;

/// A graphql-transport-ws client socket.
struct Socket {
    framed: Framed,
}

/// What the server sent: a message, or the close frame's code and reason.
#[derive(Debug, PartialEq)]
enum Heard {
    Message(Value),
    Closed(Option<u16>, String),
}

impl Socket {
    /// Opens a socket to `/graphql` offering the protocol (or `protocol`).
    async fn open_with(app: &TestApp, protocol: Option<&str>) -> Self {
        let url = format!("{}/graphql", app.address.replacen("http", "ws", 1));
        let mut request = awc::Client::new().ws(url);
        if let Some(protocol) = protocol {
            request = request.protocols([protocol]);
        }
        let (response, framed) = request.connect().await.expect("the WebSocket opens");
        if protocol == Some("graphql-transport-ws") {
            assert_eq!(
                response.headers().get("sec-websocket-protocol").unwrap(),
                "graphql-transport-ws"
            );
        }
        Self { framed }
    }

    async fn open(app: &TestApp) -> Self {
        Self::open_with(app, Some("graphql-transport-ws")).await
    }

    /// Opens a socket and initialises it with `token` (none: anonymous); expects the ack.
    async fn ready(app: &TestApp, token: Option<&str>) -> Self {
        let mut socket = Self::open(app).await;
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        socket
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(
            socket.next().await,
            Heard::Message(json!({ "type": "connection_ack" }))
        );
        socket
    }

    async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    async fn send_text(&mut self, text: &str) {
        self.framed
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send");
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next message or close, within 5 s.
    async fn next(&mut self) -> Heard {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("the server answered within 5 s")
    }

    async fn next_within(&mut self, wait: Duration) -> Option<Heard> {
        loop {
            let frame = actix_web::rt::time::timeout(wait, self.framed.next())
                .await
                .ok()?;
            match frame {
                Some(Ok(Frame::Text(text))) => {
                    return Some(Heard::Message(serde_json::from_slice(&text).unwrap()));
                }
                Some(Ok(Frame::Close(reason))) => {
                    return Some(match reason {
                        Some(reason) => Heard::Closed(
                            Some(u16::from(reason.code)),
                            reason.description.unwrap_or_default(),
                        ),
                        None => Heard::Closed(None, String::new()),
                    });
                }
                Some(Ok(Frame::Ping(bytes))) => {
                    let _ = self.framed.send(Message::Pong(bytes)).await;
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("WebSocket error: {error}"),
                None => return Some(Heard::Closed(None, "ended".into())),
            }
        }
    }

    /// The next message's payload for operation `id`, which must be a `next`.
    async fn next_data(&mut self, id: &str) -> Value {
        match self.next().await {
            Heard::Message(message) if message["type"] == "next" && message["id"] == id => {
                message["payload"].clone()
            }
            other => panic!("expected `next` for {id}, got {other:?}"),
        }
    }

    /// The close code, once the server closes.
    async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next().await {
                Heard::Closed(code, _) => return code,
                Heard::Message(_) => {}
            }
        }
    }
}

/// A variant of the demo catalog in stock (the shop day's product ends archived).
async fn a_variant_for_sale(app: &TestApp, admin: &str) -> String {
    let catalog = app
        .data_as(
            admin,
            "{ products(first: 20) { edges { node { status variants { id stock archivedAt } } } } }",
            json!({}),
        )
        .await;
    catalog["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|edge| edge["node"]["status"] == "ACTIVE")
        .flat_map(|edge| edge["node"]["variants"].as_array().unwrap())
        .find(|variant| {
            variant["archivedAt"].is_null() && variant["stock"].as_i64().unwrap_or_default() > 5
        })
        .expect("a variant in stock")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn code_of(heard: &Heard) -> Option<u16> {
    match heard {
        Heard::Closed(code, _) => *code,
        Heard::Message(_) => None,
    }
}

#[actix_web::test]
async fn the_protocol_closes_with_its_codes() {
    let app = spawn_app_with(1, &["--ws-init-timeout-ms", "300"]).await;

    // A socket that does not speak graphql-transport-ws: 4406.
    let mut socket = Socket::open_with(&app, None).await;
    assert_eq!(socket.closed().await, Some(4406));

    // No connection_init in time: 4408.
    let mut socket = Socket::open(&app).await;
    let started = Instant::now();
    assert_eq!(socket.closed().await, Some(4408));
    assert!(started.elapsed() >= Duration::from_millis(250));

    // A second connection_init: 4429.
    let mut socket = Socket::ready(&app, None).await;
    socket.send(json!({ "type": "connection_init" })).await;
    assert_eq!(socket.closed().await, Some(4429));

    // Subscribing before the acknowledgement: 4401.
    let mut socket = Socket::open(&app).await;
    socket.subscribe("1", "{ __typename }", json!({})).await;
    assert_eq!(socket.closed().await, Some(4401));

    // Two operations with one id: 4409.
    let mut socket = Socket::ready(&app, None).await;
    let stock =
        "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { variantId inStock } }";
    let variants = json!({ "v": ["gid://bazaar/Variant/1"] });
    socket.subscribe("same", stock, variants.clone()).await;
    socket.subscribe("same", stock, variants).await;
    assert_eq!(socket.closed().await, Some(4409));

    // Anything that is not a message of the protocol: 4400.
    for bad in [
        "not json",
        r#"{"type":"unknown"}"#,
        r#"{"type":"subscribe","id":"1"}"#,
        r#"{"type":"subscribe","id":"1","payload":{"query":"{ __typename }","variables":[1]}}"#,
        r#"{"type":"complete"}"#,
        r#"{"type":"connection_init","payload":"a string"}"#,
    ] {
        let mut socket = Socket::open(&app).await;
        socket.send_text(bad).await;
        assert_eq!(socket.closed().await, Some(4400), "{bad}");
    }
    let mut socket = Socket::ready(&app, None).await;
    socket
        .framed
        .send(Message::Binary(Bytes::from_static(b"{}")))
        .await
        .unwrap();
    assert_eq!(socket.closed().await, Some(4400));

    // Credentials that prove nobody: 4403.
    let mut socket = Socket::open(&app).await;
    socket
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer bzs_forged" } }))
        .await;
    assert_eq!(socket.closed().await, Some(4403));
}

#[actix_web::test]
async fn pings_queries_errors_and_completes_go_both_ways() {
    let app = spawn_app().await;
    let mut socket = Socket::ready(&app, None).await;

    // Ping before anything else is answered, with its payload.
    socket
        .send(json!({ "type": "ping", "payload": { "at": 1 } }))
        .await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong", "payload": { "at": 1 } }))
    );

    // A query runs once: `next`, then `complete`.
    socket
        .subscribe("q", "{ categories(first: 1) { slug } }", json!({}))
        .await;
    let data = socket.next_data("q").await;
    assert!(data["data"]["categories"][0]["slug"].is_string(), "{data}");
    assert!(data["extensions"]["cost"].is_object(), "{data}");
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "id": "q", "type": "complete" }))
    );

    // A document that does not validate: an `error`, and the socket stays open.
    socket.subscribe("bad", "{ nope }", json!({})).await;
    match socket.next().await {
        Heard::Message(message) => {
            assert_eq!(message["type"], "error");
            assert_eq!(message["id"], "bad");
            assert_eq!(
                message["payload"][0]["extensions"]["code"],
                "BAD_USER_INPUT"
            );
        }
        other => panic!("{other:?}"),
    }
    // Over the document limits: an `error` too.
    let deep = format!(
        "{{ categories {} }}",
        "{ children ".repeat(40) + "{ name }" + &" }".repeat(40)
    );
    socket.subscribe("deep", &deep, json!({})).await;
    match socket.next().await {
        Heard::Message(message) => assert_eq!(message["type"], "error", "{message}"),
        other => panic!("{other:?}"),
    }

    // A subscription the client completes sends nothing more, and its id may be used again.
    let stock =
        "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { variantId inStock } }";
    socket
        .subscribe("s", stock, json!({ "v": ["gid://bazaar/Variant/1"] }))
        .await;
    socket.send(json!({ "id": "s", "type": "complete" })).await;
    socket
        .subscribe("s", stock, json!({ "v": ["gid://bazaar/Variant/1"] }))
        .await;
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong" }))
    );
    // Subscriptions need the WebSocket: over HTTP they are refused.
    let over_http = app
        .graphql(stock, json!({ "v": ["gid://bazaar/Variant/1"] }))
        .await;
    assert_eq!(
        over_http["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[actix_web::test]
async fn an_order_is_followed_by_its_customer_and_nobody_else() {
    let app = spawn_app().await;
    let day = a_shop_day(&app).await;
    let shopper = app
        .login("shopper@example.com", crate::helpers::PASSWORD)
        .await;
    let shopper = shopper["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = app.register("stranger@example.com").await;

    // Someone else's order cannot be followed.
    let order_updated = "subscription($id: ID!) { orderUpdated(id: $id) { id status } }";
    let mut nosy = Socket::ready(&app, Some(&stranger.token)).await;
    nosy.subscribe("o", order_updated, json!({ "id": day.fulfilled }))
        .await;
    match nosy.next().await {
        Heard::Message(message) => {
            assert_eq!(message["type"], "next", "{message}");
            assert_eq!(message["payload"]["errors"][0]["message"], "no such order");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        nosy.next().await,
        Heard::Message(json!({ "id": "o", "type": "complete" }))
    );

    // The customer follows a new order of theirs, and all their orders.
    let variant = a_variant_for_sale(&app, &day.admin).await;
    let cart = cart_with(&app.api, Some(&shopper), &variant, 1).await;
    let placed = checkout(&app.api, Some(&shopper), &cart, "live-1").await;
    let order = placed["data"]["checkoutComplete"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut socket = Socket::ready(&app, Some(&shopper)).await;
    socket
        .subscribe("o", order_updated, json!({ "id": order }))
        .await;
    socket
        .subscribe(
            "mine",
            "subscription { myOrdersUpdated { id status } }",
            json!({}),
        )
        .await;
    // A subscription is live once the server has answered a later message.
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong" }))
    );
    app.data_as(
        &day.admin,
        "mutation($id: ID!) { orderPay(id: $id, paymentToken: \"tok_success\", idempotencyKey: \"live-pay\") { userErrors { code } } }",
        json!({ "id": order }),
    )
    .await;
    let mut seen = vec![socket.next().await, socket.next().await];
    seen.sort_by_key(|heard| format!("{heard:?}"));
    let expected_order = json!({ "id": order, "status": "PAID" });
    let data: Vec<(Value, Value)> = seen
        .into_iter()
        .map(|heard| match heard {
            Heard::Message(message) => (message["id"].clone(), message["payload"]["data"].clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        data,
        [
            (json!("mine"), json!({ "myOrdersUpdated": expected_order })),
            (json!("o"), json!({ "orderUpdated": expected_order })),
        ]
    );
    // The stranger heard nothing of it.
    assert_eq!(nosy.next_within(Duration::from_millis(300)).await, None);

    // Anonymous callers may not follow "my" orders.
    let mut anonymous = Socket::ready(&app, None).await;
    anonymous
        .subscribe("mine", "subscription { myOrdersUpdated { id } }", json!({}))
        .await;
    match anonymous.next().await {
        Heard::Message(message) => assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

const EVENTS: &str =
    "subscription($after: String) { events(after: $after) { cursor node { position name } } }";

/// The positions of the next `n` events on `socket` (operation `id`), and the last cursor.
async fn positions(socket: &mut Socket, id: &str, n: usize) -> (Vec<i64>, String) {
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..n {
        let data = socket.next_data(id).await;
        let edge = &data["data"]["events"];
        seen.push(edge["node"]["position"].as_i64().unwrap());
        cursor = edge["cursor"].as_str().unwrap().to_owned();
    }
    (seen, cursor)
}

async fn adjust_stock(app: &TestApp, admin: &str, variant: &str, from: i32, to: i32) {
    let answer = app
        .data_as(
            admin,
            "mutation($id: ID!, $from: Int!, $to: Int!) { inventoryAdjust(variantId: $id, expectedQuantity: $from, quantity: $to) { userErrors { code } } }",
            json!({ "id": variant, "from": from, "to": to }),
        )
        .await;
    assert_eq!(
        answer["inventoryAdjust"]["userErrors"],
        json!([]),
        "{answer}"
    );
}

#[actix_web::test]
async fn a_subscriber_that_reconnects_with_its_cursor_misses_nothing_and_sees_nothing_twice() {
    let app = spawn_app().await;
    let day = a_shop_day(&app).await;
    // From the start of the log: the whole shop day, in order.
    let mut socket = Socket::ready(&app, Some(&day.admin)).await;
    socket.subscribe("e", EVENTS, json!({})).await;
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong" }))
    );
    adjust_stock(&app, &day.admin, &day.variant, 20, 21).await;
    adjust_stock(&app, &day.admin, &day.variant, 21, 22).await;
    let (live, cursor) = positions(&mut socket, "e", 2).await;
    assert_eq!(live[1], live[0] + 1);
    drop(socket);

    // Changes while nobody listens.
    for stock in 22..27 {
        adjust_stock(&app, &day.admin, &day.variant, stock, stock + 1).await;
    }
    let mut socket = Socket::ready(&app, Some(&day.admin)).await;
    socket
        .subscribe("e", EVENTS, json!({ "after": cursor }))
        .await;
    let (missed, _) = positions(&mut socket, "e", 5).await;
    assert_eq!(missed, (live[1] + 1..live[1] + 6).collect::<Vec<_>>());
    // Then live again, with no repeats.
    adjust_stock(&app, &day.admin, &day.variant, 27, 28).await;
    let (next, _) = positions(&mut socket, "e", 1).await;
    assert_eq!(next, [live[1] + 6]);
    assert_eq!(socket.next_within(Duration::from_millis(300)).await, None);

    // A customer may not read the log.
    let customer = app.register("curious@example.com").await;
    let mut socket = Socket::ready(&app, Some(&customer.token)).await;
    socket.subscribe("e", EVENTS, json!({})).await;
    match socket.next().await {
        Heard::Message(message) => assert_eq!(
            message["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
}

#[actix_web::test]
async fn storefronts_hear_availability_never_quantities() {
    let app = spawn_app().await;
    let day = a_shop_day(&app).await;
    let mut socket = Socket::ready(&app, None).await;
    socket
        .subscribe(
            "stock",
            "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { variantId inStock } }",
            json!({ "v": [day.variant] }),
        )
        .await;
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong" }))
    );
    // 20 → 5: still in stock, nothing to tell; 5 → 0: out; 0 → 3: back.
    adjust_stock(&app, &day.admin, &day.variant, 20, 5).await;
    adjust_stock(&app, &day.admin, &day.variant, 5, 0).await;
    adjust_stock(&app, &day.admin, &day.variant, 0, 3).await;
    let out = socket.next_data("stock").await;
    assert_eq!(
        out["data"],
        json!({ "inventoryChanged": { "variantId": day.variant, "inStock": false } })
    );
    let back = socket.next_data("stock").await;
    assert_eq!(back["data"]["inventoryChanged"]["inStock"], true);
    // The type has no quantity to ask for.
    socket
        .subscribe(
            "q",
            "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { quantity } }",
            json!({ "v": [day.variant] }),
        )
        .await;
    match socket.next().await {
        Heard::Message(message) => assert_eq!(message["type"], "error", "{message}"),
        other => panic!("{other:?}"),
    }
    // Lists are bounded.
    let many: Vec<String> = (1..=101)
        .map(|n| format!("gid://bazaar/Variant/{n}"))
        .collect();
    socket
        .subscribe(
            "many",
            "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { inStock } }",
            json!({ "v": many }),
        )
        .await;
    let refused = socket.next_data("many").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
}

#[actix_web::test]
async fn a_logout_closes_the_sessions_sockets_and_a_shutdown_closes_them_all() {
    let app = spawn_app().await;
    let customer = app.register("leaving@example.com").await;
    let mut theirs = Socket::ready(&app, Some(&customer.token)).await;
    let mut anonymous = Socket::ready(&app, None).await;
    let started = Instant::now();
    app.data_as(
        &customer.token,
        "mutation { logout { endedSessions } }",
        json!({}),
    )
    .await;
    assert_eq!(theirs.closed().await, Some(4403));
    assert!(started.elapsed() < Duration::from_secs(1));
    // The anonymous socket lives on until the server stops.
    assert_eq!(
        anonymous.next_within(Duration::from_millis(200)).await,
        None
    );
    drop(app);
    assert_eq!(code_of(&anonymous.next().await), Some(1001));
}

#[actix_web::test]
async fn sockets_and_operations_are_limited() {
    let app = spawn_app_with(
        1,
        &[
            "--ws-max-sockets-per-caller",
            "2",
            "--ws-max-operations",
            "2",
            "--ws-max-sockets-per-address",
            "4",
        ],
    )
    .await;
    let customer = app.register("busy@example.com").await;
    let _first = Socket::ready(&app, Some(&customer.token)).await;
    let mut second = Socket::ready(&app, Some(&customer.token)).await;
    let mut third = Socket::open(&app).await;
    third
        .send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", customer.token) } }))
        .await;
    assert_eq!(third.closed().await, Some(1013));

    let stock = "subscription($v: [ID!]!) { inventoryChanged(variantIds: $v) { inStock } }";
    let variants = json!({ "v": ["gid://bazaar/Variant/1"] });
    second.subscribe("a", stock, variants.clone()).await;
    second.subscribe("b", stock, variants.clone()).await;
    second.subscribe("c", stock, variants).await;
    match second.next().await {
        Heard::Message(message) => {
            assert_eq!(message["id"], "c");
            assert_eq!(message["type"], "error");
            assert_eq!(message["payload"][0]["extensions"]["code"], "LIMIT_REACHED");
        }
        other => panic!("{other:?}"),
    }

    // Four sockets from one address at most (the third is closed): the fifth upgrade is
    // refused.
    let _fourth = Socket::open(&app).await;
    let _fifth = Socket::open(&app).await;
    let url = format!("{}/graphql", app.address.replacen("http", "ws", 1));
    let refused = awc::Client::new()
        .ws(url)
        .protocols(["graphql-transport-ws"])
        .connect()
        .await;
    assert!(refused.is_err(), "a fifth socket from one address");
}

#[actix_web::test]
async fn an_order_placed_on_one_instance_reaches_a_subscriber_on_the_other_within_a_second() {
    let a = spawn_app().await;
    let other = match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            Some(a.another_instance(&[], Arc::new(a.gateway.clone())).await)
        }
        // SQLite: one instance.
        _ => None,
    };
    let b = other.as_ref().unwrap_or(&a);
    let day = a_shop_day(&a).await;
    let variant = a_variant_for_sale(&a, &day.admin).await;
    let mut socket = Socket::ready(b, Some(&day.admin)).await;
    socket
        .subscribe(
            "orders",
            "subscription { events(types: [ORDER_CREATED]) { node { name payload } } }",
            json!({}),
        )
        .await;
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong" }))
    );
    let cart = cart_with(&a.api, None, &variant, 1).await;
    let started = Instant::now();
    let placed = checkout(&a.api, None, &cart, "elsewhere").await;
    let order = placed["data"]["checkoutComplete"]["order"]["id"].clone();
    assert!(order.is_string(), "{placed}");
    let heard = socket.next_data("orders").await;
    let latency = started.elapsed();
    assert_eq!(heard["data"]["events"]["node"]["name"], "order.created");
    assert_eq!(heard["data"]["events"]["node"]["payload"]["id"], order);
    assert!(latency < Duration::from_secs(1), "{latency:?}");
}

#[actix_web::test]
async fn a_revoked_key_closes_its_sockets_and_reads_only_its_kinds() {
    let app = spawn_app().await;
    let admin = app
        .account_with_role("boss@example.com", "ADMIN")
        .await
        .token;
    let erp = crate::partners::app_named(&app, &admin, "ERP").await;
    let (secret, key_id) = crate::partners::key_with(&app, &admin, &erp, &["READ_PRODUCTS"]).await;
    let mut socket = Socket::ready(&app, Some(&secret)).await;
    // Orders are not this key's to read.
    socket
        .subscribe(
            "o",
            "subscription { events(types: [ORDER_CREATED]) { cursor } }",
            json!({}),
        )
        .await;
    let refused = socket.next_data("o").await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    let started = Instant::now();
    let revoked = app
        .data_as(
            &admin,
            "mutation($id: ID!) { apiKeyRevoke(id: $id) { userErrors { code } } }",
            json!({ "id": key_id }),
        )
        .await;
    assert_eq!(
        revoked["apiKeyRevoke"]["userErrors"],
        json!([]),
        "{revoked}"
    );
    assert_eq!(socket.closed().await, Some(4403));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// Writes `request` on a fresh TCP connection to the app and reads what comes back within 2 s.
async fn raw_exchange(app: &TestApp, request: &[u8]) -> Vec<u8> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut heard = Vec::new();
    let mut chunk = [0_u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match actix_web::rt::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => heard.extend_from_slice(&chunk[..n]),
        }
        if heard.windows(14).any(|w| w == b"connection_ack") {
            break;
        }
    }
    heard
}

fn upgrade_request(path: &str, key: Option<&str>) -> Vec<u8> {
    let key = key.map_or(String::new(), |key| format!("Sec-WebSocket-Key: {key}\r\n"));
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\n{key}Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    )
    .into_bytes()
}

#[actix_web::test]
async fn the_transport_takes_early_and_fragmented_frames_and_refuses_other_upgrades() {
    use actix_codec::{Decoder as _, Encoder as _};
    let app = spawn_app().await;
    let key = Some("dGhlIHNhbXBsZSBub25jZQ==");

    // An upgrade anywhere but /graphql, or without its key, gets an HTTP error.
    let heard = raw_exchange(&app, &upgrade_request("/graphiql", key)).await;
    assert!(
        heard.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&heard)
    );
    let heard = raw_exchange(&app, &upgrade_request("/graphql", None)).await;
    assert!(
        heard.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&heard)
    );

    // A client that sends connection_init in the same write as its upgrade request is heard.
    let mut request = upgrade_request("/graphql", key);
    let mut client = Codec::new().client_mode();
    let mut frame = actix_web::web::BytesMut::new();
    client
        .encode(
            Message::Text(r#"{"type":"connection_init"}"#.into()),
            &mut frame,
        )
        .unwrap();
    request.extend_from_slice(&frame);
    let heard = String::from_utf8_lossy(&raw_exchange(&app, &request).await).into_owned();
    assert!(heard.starts_with("HTTP/1.1 101"), "{heard}");
    assert!(heard.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{heard}");
    assert!(heard.contains(r#"{"type":"connection_ack"}"#), "{heard}");

    // A message in fragments is one message.
    use actix_http::ws::Item;
    let mut socket = Socket::open(&app).await;
    for part in [
        Item::FirstText(Bytes::from_static(b"{\"type\":")),
        Item::Continue(Bytes::from_static(b"\"connection")),
        Item::Last(Bytes::from_static(b"_init\"}")),
    ] {
        socket
            .framed
            .send(Message::Continuation(part))
            .await
            .unwrap();
    }
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "connection_ack" }))
    );
    // A last fragment with no first closes the socket as a bad message (4400).
    let mut request = upgrade_request("/graphql", key);
    let (mask, payload) = ([1_u8, 2, 3, 4], b"}");
    request.extend_from_slice(&[0x80, 0x80 | payload.len() as u8]);
    request.extend_from_slice(&mask);
    request.extend(
        payload
            .iter()
            .zip(mask.iter().cycle())
            .map(|(byte, m)| byte ^ m),
    );
    let heard = raw_exchange(&app, &request).await;
    let head_end = heard.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut frames = actix_web::web::BytesMut::from(&heard[head_end..]);
    match Codec::new().client_mode().decode(&mut frames) {
        Ok(Some(Frame::Close(Some(reason)))) => assert_eq!(u16::from(reason.code), 4400),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

// Each WebSocket operation is counted (transport `ws`) and writes one log line when it ends: a
// query when answered, a refused one at once, a subscription when the client completes it.
#[actix_web::test]
async fn each_operation_is_counted_and_logged_once() {
    use crate::observability::{TOKEN, scrape, value};
    let app = spawn_app_with(1, &["--metrics-token", TOKEN]).await;
    let mut socket = Socket::ready(&app, None).await;
    socket
        .subscribe(
            "q",
            "query SocketCategories { categories(first: 1) { slug } }",
            json!({}),
        )
        .await;
    socket.next_data("q").await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "id": "q", "type": "complete" }))
    );
    socket
        .subscribe("bad", "query SocketBroken { nope }", json!({}))
        .await;
    match socket.next().await {
        Heard::Message(message) => assert_eq!(message["type"], "error", "{message}"),
        other => panic!("{other:?}"),
    }
    let stock = "subscription SocketStock($v: [ID!]!) { inventoryChanged(variantIds: $v) { variantId inStock } }";
    socket
        .subscribe("s", stock, json!({ "v": ["gid://bazaar/Variant/1"] }))
        .await;
    socket.send(json!({ "id": "s", "type": "complete" })).await;
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(
        socket.next().await,
        Heard::Message(json!({ "type": "pong" }))
    );

    let requests = "bazaar_graphql_requests_total";
    let ws = ("transport", "ws");
    let mut counted = None;
    for _ in 0..100 {
        let metrics = scrape(&app).await;
        let stock = value(
            &metrics,
            requests,
            &[("operation", "SocketStock"), ws, ("outcome", "ok")],
        );
        if stock == 1.0 {
            counted = Some(metrics);
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let metrics = counted.expect("the completed subscription is counted");
    assert_eq!(
        value(
            &metrics,
            requests,
            &[("operation", "SocketCategories"), ws, ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &metrics,
            requests,
            &[
                ("operation", "(other)"),
                ws,
                ("outcome", "refused"),
                ("code", "BAD_USER_INPUT")
            ]
        ),
        1.0
    );
    let logs = crate::helpers::captured_logs();
    for name in ["SocketCategories", "SocketStock"] {
        let lines: Vec<&str> = logs
            .lines()
            .filter(|line| line.contains("bazaar::access") && line.contains(name))
            .collect();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("transport=\"ws\""), "{}", lines[0]);
        assert!(lines[0].contains("principal=\"anonymous\""), "{}", lines[0]);
        assert!(lines[0].contains("statements="), "{}", lines[0]);
    }
}
