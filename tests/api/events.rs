//! The event log: a scripted shop day leaves its events in commit order, each payload exactly
//! what the API shows for its subject; replaying the log rebuilds the stock; partners read only
//! what their scopes allow, orders without personal data unless `read_customers`.

use std::collections::HashMap;

use bazaar::services::events::PAYLOAD_FRAGMENTS;
use serde_json::{Value, json};

use crate::commerce::{cart_with, checkout};
use crate::helpers::{
    TestApp, durability_statement, error_codes, is_impersonal, spawn_app, statements,
};

const EVENTS: &str = "query($after: String, $first: Int, $types: [EventType!]) {
    events(after: $after, first: $first, types: $types) {
        edges { cursor node { id position type name occurredAt subjectId payload } }
        pageInfo { hasNextPage endCursor } } }";

/// Every event `token` may read, walking pages of `page_size`.
pub(crate) async fn all_events(
    app: &TestApp,
    token: &str,
    page_size: i32,
    types: Option<Value>,
) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data_as(
                token,
                EVENTS,
                json!({ "after": after, "first": page_size, "types": types }),
            )
            .await;
        let page = &data["events"];
        events.extend(
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return events;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["name"].as_str().unwrap()).collect()
}

/// The last event named `name` about `subject`.
fn last<'a>(events: &'a [Value], name: &str, subject: &str) -> &'a Value {
    events
        .iter()
        .rev()
        .find(|e| e["name"] == name && e["subjectId"] == subject)
        .unwrap_or_else(|| panic!("no {name} about {subject}"))
}

/// The payload fragment `name` with the fragments it spreads.
fn fragment(name: &str) -> String {
    let definitions: Vec<String> = PAYLOAD_FRAGMENTS
        .split("fragment ")
        .filter(|d| !d.trim().is_empty())
        .map(|d| format!("fragment {d}"))
        .collect();
    let mut wanted = vec![name.to_owned()];
    let mut text = String::new();
    while let Some(name) = wanted.pop() {
        let definition = definitions
            .iter()
            .find(|d| d.starts_with(&format!("fragment {name} ")))
            .unwrap_or_else(|| panic!("no fragment {name}"));
        if text.contains(definition.as_str()) {
            continue;
        }
        text.push_str(definition);
        wanted.extend(
            definition
                .split("...")
                .skip(1)
                .map(|rest| rest.split_whitespace().next().unwrap().to_owned()),
        );
    }
    text
}

/// `subject` as `node(id:)` gives it with the payload fragment `name`.
async fn as_the_api_gives_it(app: &TestApp, token: &str, subject: &str, name: &str) -> Value {
    let fragments = fragment(name);
    let query = format!("query($id: ID!) {{ node(id: $id) {{ ...{name} }} }} {fragments}");
    app.data_as(token, &query, json!({ "id": subject })).await["node"].clone()
}

async fn mutate(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let data = app.data_as(token, query, variables).await;
    let payload = data.as_object().unwrap().values().next().unwrap().clone();
    assert_eq!(payload["userErrors"], json!([]), "{data}");
    payload
}

/// A day in a small shop, through the API. Returns (admin token, product, variant, the paid
/// and fulfilled order, the cancelled guest order, the customer, the review).
pub(crate) struct ShopDay {
    pub admin: String,
    pub product: String,
    pub variant: String,
    pub fulfilled: String,
    pub cancelled: String,
    pub customer: String,
    pub review: String,
}

pub(crate) async fn a_shop_day(app: &TestApp) -> ShopDay {
    let admin = app
        .account_with_role("admin@example.com", "ADMIN")
        .await
        .token;
    let product = mutate(
        app,
        &admin,
        "mutation($input: ProductFields!) { productCreate(input: $input) {
            product { id } userErrors { field code } } }",
        json!({ "input": { "name": "Logged Lamp", "status": "ACTIVE" } }),
    )
    .await["product"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let variant = mutate(
        app,
        &admin,
        "mutation($product: ID!, $input: VariantFields!) {
            variantCreate(productId: $product, input: $input) {
                variant { id } userErrors { field code } } }",
        json!({ "product": product, "input": { "sku": "lamp-1", "title": "Brass", "price": "40.00",
                "stock": 10, "options": [{ "name": "Finish", "value": "Brass" }] } }),
    )
    .await["variant"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    mutate(
        app,
        &admin,
        "mutation($id: ID!, $url: String!) { productImageAdd(productId: $id, url: $url, altText: \"lamp\") {
            userErrors { field code } } }",
        json!({ "id": product, "url": "https://img.example.com/lamp.jpg" }),
    )
    .await;
    let shopper = app.register("shopper@example.com").await;
    let cart = cart_with(&app.api, Some(&shopper.token), &variant, 3).await;
    let placed = checkout(&app.api, Some(&shopper.token), &cart, "day-1").await;
    let fulfilled = placed["data"]["checkoutComplete"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{placed}"))
        .to_owned();
    mutate(
        app,
        &shopper.token,
        "mutation($id: ID!) { orderPay(id: $id, paymentToken: \"tok_success\", idempotencyKey: \"pay-1\") {
            userErrors { field code } } }",
        json!({ "id": fulfilled }),
    )
    .await;
    mutate(
        app,
        &admin,
        "mutation($id: ID!) { orderFulfill(id: $id) { userErrors { code } } }",
        json!({ "id": fulfilled }),
    )
    .await;
    let guest_cart = cart_with(&app.api, None, &variant, 2).await;
    let placed = checkout(&app.api, None, &guest_cart, "day-2").await;
    let cancelled = placed["data"]["checkoutComplete"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{placed}"))
        .to_owned();
    mutate(
        app,
        &admin,
        "mutation($id: ID!) { orderCancel(id: $id) { userErrors { code } } }",
        json!({ "id": cancelled }),
    )
    .await;
    mutate(
        app,
        &admin,
        "mutation($id: ID!) { inventoryAdjust(variantId: $id, expectedQuantity: 7, quantity: 20) {
            userErrors { field message code } } }",
        json!({ "id": variant }),
    )
    .await;
    let review = mutate(
        app,
        &shopper.token,
        "mutation($product: ID!) { reviewSubmit(productId: $product, input: { rating: 5, title: \"Bright\" }) {
            review { id } userErrors { field code } } }",
        json!({ "product": product }),
    )
    .await["review"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    mutate(
        app,
        &admin,
        "mutation($id: ID!) { reviewModerate(id: $id, status: APPROVED) { userErrors { code } } }",
        json!({ "id": review }),
    )
    .await;
    mutate(
        app,
        &admin,
        "mutation($id: ID!) { productArchive(id: $id) { userErrors { code } } }",
        json!({ "id": product }),
    )
    .await;
    ShopDay {
        admin,
        product,
        variant,
        fulfilled,
        cancelled,
        customer: shopper.id,
        review,
    }
}

#[actix_web::test]
async fn a_shop_day_is_logged_in_commit_order_with_payloads_as_the_api_gives_them() {
    let app = spawn_app().await;
    let day = a_shop_day(&app).await;
    let events = all_events(&app, &day.admin, 100, None).await;
    assert_eq!(
        names(&events),
        [
            "customer.created", // the admin's own sign-up
            "product.created",
            "variant.updated",
            "inventory.changed",
            "product.updated", // the image
            "customer.created",
            "inventory.changed",
            "order.created",
            "order.paid",
            "fulfillment.created",
            "order.fulfilled",
            "inventory.changed",
            "order.created",
            "inventory.changed",
            "order.cancelled",
            "inventory.changed",
            "review.approved",
            "product.archived",
        ]
    );
    let positions: Vec<i64> = events
        .iter()
        .map(|e| e["position"].as_i64().unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert_eq!(
        events[0]["id"],
        format!("gid://bazaar/Event/{}", positions[0])
    );

    // Each payload is its subject as the API gives it (nothing changed them since).
    let admin = &day.admin;
    for (name, subject, fragment) in [
        ("product.archived", &day.product, "ProductPayload"),
        ("order.fulfilled", &day.fulfilled, "OrderPayload"),
        ("order.cancelled", &day.cancelled, "OrderPayload"),
        ("customer.created", &day.customer, "AccountPayload"),
    ] {
        let api = as_the_api_gives_it(&app, admin, subject, fragment).await;
        assert_eq!(last(&events, name, subject)["payload"], api, "{name}");
    }
    let product = as_the_api_gives_it(&app, admin, &day.product, "ProductPayload").await;
    let review = &last(&events, "review.approved", &day.review)["payload"];
    let reviews = app
        .data_as(
            admin,
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ ... on Product {{ reviews {{ edges {{ node {{ ...ReviewPayload }} }} }} }} }} }} {}",
                fragment("ReviewPayload")
            ),
            json!({ "id": day.product }),
        )
        .await;
    assert_eq!(reviews["node"]["reviews"]["edges"][0]["node"], *review);
    // The variant as it was created: stock 10 then; everything else as now.
    let mut created = last(&events, "variant.updated", &day.variant)["payload"].clone();
    assert_eq!(created["stock"], 10);
    created["stock"] = json!(20);
    // Changed since (its stock): a later `updatedAt`.
    let now = &product["variants"][0]["updatedAt"];
    assert!(created["updatedAt"].as_str() < now.as_str());
    created["updatedAt"] = now.clone();
    assert_eq!(created, product["variants"][0]);

    // Why stock moved, and by which order.
    let changes: Vec<(i64, i64, &str, Value)> = events
        .iter()
        .filter(|e| e["name"] == "inventory.changed")
        .map(|e| {
            let p = &e["payload"];
            (
                p["previousQuantity"].as_i64().unwrap(),
                p["quantity"].as_i64().unwrap(),
                p["reason"].as_str().unwrap(),
                p["order"]["id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (0, 10, "CREATED", Value::Null),
            (10, 7, "ORDERED", json!(day.fulfilled)),
            (7, 5, "ORDERED", json!(day.cancelled)),
            (5, 7, "ORDER_CANCELLED", json!(day.cancelled)),
            (7, 20, "ADJUSTED", Value::Null),
        ]
    );

    // Pages of 3 walk the same log; one page is one statement.
    let walked = all_events(&app, admin, 3, None).await;
    assert_eq!(walked, events);
    let page = app
        .graphql_as(Some(admin), EVENTS, json!({ "first": 100 }))
        .await;
    assert_eq!(statements(&page), 1 + durability_statement(), "{page}");
    let only_orders = all_events(
        &app,
        admin,
        100,
        Some(json!(["ORDER_PAID", "ORDER_FULFILLED"])),
    )
    .await;
    assert_eq!(names(&only_orders), ["order.paid", "order.fulfilled"]);
}

#[actix_web::test]
async fn replaying_the_log_from_the_start_rebuilds_the_stock() {
    let app = spawn_app().await;
    let day = a_shop_day(&app).await;
    // More traffic on a second variant: three checkouts, one cancelled, an adjustment.
    let admin = &day.admin;
    let product = mutate(
        &app,
        admin,
        "mutation { productCreate(input: { name: \"Replayed Rug\", status: ACTIVE }) {
            product { id } userErrors { code } } }",
        json!({}),
    )
    .await["product"]["id"]
        .clone();
    let rug = mutate(
        &app,
        admin,
        "mutation($product: ID!) { variantCreate(productId: $product,
            input: { sku: \"rug-1\", title: \"Red\", price: \"90.00\", stock: 8 }) {
                variant { id } userErrors { code } } }",
        json!({ "product": product }),
    )
    .await["variant"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut orders = Vec::new();
    for (key, quantity) in [("r1", 1), ("r2", 2), ("r3", 3)] {
        let cart = cart_with(&app.api, None, &rug, quantity).await;
        let placed = checkout(&app.api, None, &cart, key).await;
        orders.push(placed["data"]["checkoutComplete"]["order"]["id"].clone());
    }
    mutate(
        &app,
        admin,
        "mutation($id: ID!) { orderCancel(id: $id) { userErrors { code } } }",
        json!({ "id": orders[1] }),
    )
    .await;

    let mut replayed: HashMap<String, i64> = HashMap::new();
    for event in all_events(&app, admin, 7, Some(json!(["INVENTORY_CHANGED"]))).await {
        let payload = &event["payload"];
        let variant = payload["variant"]["id"].as_str().unwrap().to_owned();
        // Each change starts where the one before it left off: nothing missing, nothing reordered.
        assert_eq!(
            payload["previousQuantity"].as_i64().unwrap(),
            replayed.get(&variant).copied().unwrap_or(0),
            "{event}"
        );
        replayed.insert(variant, payload["quantity"].as_i64().unwrap());
    }
    assert_eq!(replayed.len(), 2);
    for (variant, quantity) in &replayed {
        let now = app
            .data_as(
                admin,
                "query($id: ID!) { node(id: $id) { ... on Variant { stock } } }",
                json!({ "id": variant }),
            )
            .await;
        assert_eq!(now["node"]["stock"], json!(quantity), "{variant}");
    }
    assert_eq!(replayed[&day.variant], 20);
    assert_eq!(replayed[&rug], 8 - 1 - 3);
}

pub(crate) async fn partner_key(app: &TestApp, admin: &str, scopes: &[&str]) -> String {
    let erp = crate::partners::app_named(app, admin, "ERP").await;
    crate::partners::key_with(app, admin, &erp, scopes).await.0
}

#[actix_web::test]
async fn partners_read_the_kinds_their_scopes_allow_and_orders_without_personal_data() {
    let app = spawn_app().await;
    let day = a_shop_day(&app).await;
    let everything = all_events(&app, &day.admin, 100, None).await;

    let catalog = partner_key(&app, &day.admin, &["READ_PRODUCTS"]).await;
    let seen = all_events(&app, &catalog, 100, None).await;
    let expected: Vec<&Value> = everything
        .iter()
        .filter(|e| {
            let name = e["name"].as_str().unwrap();
            name.starts_with("product.")
                || name.starts_with("variant.")
                || name == "inventory.changed"
                || name == "review.approved"
        })
        .collect();
    assert_eq!(seen.iter().collect::<Vec<_>>(), expected);
    let refused = app
        .graphql_as(
            Some(&catalog),
            EVENTS,
            json!({ "types": ["ORDER_CREATED"] }),
        )
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"]);

    let orders = partner_key(&app, &day.admin, &["READ_ORDERS"]).await;
    let seen = all_events(&app, &orders, 100, None).await;
    assert_eq!(
        names(&seen),
        [
            "order.created",
            "order.paid",
            "fulfillment.created",
            "order.fulfilled",
            "order.created",
            "order.cancelled"
        ]
    );
    for event in &seen {
        let order = &event["payload"];
        assert_eq!(order["email"], Value::Null, "{event}");
        assert_eq!(order["customer"], Value::Null, "{event}");
        assert!(is_impersonal(&order["shippingAddress"]), "{event}");
        assert_eq!(order["lines"][0]["sku"], "LAMP-1");
    }
    let with_customers = partner_key(&app, &day.admin, &["READ_ORDERS", "READ_CUSTOMERS"]).await;
    let seen = all_events(&app, &with_customers, 100, Some(json!(["ORDER_FULFILLED"]))).await;
    assert_eq!(seen[0]["payload"]["email"], "ada@example.com");
    assert_eq!(seen[0]["payload"]["customer"]["id"], json!(day.customer));

    let stock_only = partner_key(&app, &day.admin, &["WRITE_INVENTORY"]).await;
    let customer = app.register("someone@example.com").await;
    for token in [stock_only.as_str(), customer.token.as_str()] {
        let refused = app.graphql_as(Some(token), EVENTS, json!({})).await;
        assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");
    }
    let anonymous = app.graphql(EVENTS, json!({})).await;
    assert_eq!(error_codes(&anonymous), ["FORBIDDEN"], "{anonymous}");
}

const COLLECTION_FEED: &str = "query($after: String) {
    collections(first: 10, after: $after, sortBy: { field: UPDATED_AT }) {
        edges { cursor node { slug } } } }";

/// The slugs and last cursor of the collection change feed after `after`.
async fn collection_feed(app: &TestApp, token: &str, after: &Value) -> (Vec<String>, Value) {
    let data = app
        .data_as(token, COLLECTION_FEED, json!({ "after": after }))
        .await;
    let edges = data["collections"]["edges"].as_array().unwrap();
    let slugs = edges
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect();
    let cursor = edges.last().map_or(after.clone(), |e| e["cursor"].clone());
    (slugs, cursor)
}

#[actix_web::test]
async fn collections_are_logged_and_fed_as_the_api_gives_them() {
    let app = spawn_app().await;
    let admin = app
        .account_with_role("admin@example.com", "ADMIN")
        .await
        .token;
    let products: Vec<String> = app
        .data(
            "{ products(first: 3) { edges { node { id } } } }",
            json!({}),
        )
        .await["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect();
    let create = "mutation($input: CollectionFields!) { collectionCreate(input: $input) {
        collection { id } userErrors { field code } } }";
    let picks = mutate(
        &app,
        &admin,
        create,
        json!({ "input": { "title": "Staff Picks" } }),
    )
    .await["collection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (fed, cursor) = collection_feed(&app, &admin, &Value::Null).await;
    assert_eq!(fed, ["staff-picks"]);
    mutate(
        &app,
        &admin,
        "mutation($id: ID!, $products: [ID!]!) { collectionAddProducts(id: $id, productIds: $products) {
            userErrors { field code } } }",
        json!({ "id": picks, "products": products }),
    )
    .await;
    mutate(
        &app,
        &admin,
        "mutation($id: ID!, $moves: [CollectionMoveInput!]!) {
            collectionReorderProducts(id: $id, moves: $moves) { userErrors { field code } } }",
        json!({ "id": picks, "moves": [{ "productId": products[2], "position": 0 }] }),
    )
    .await;
    let sale = mutate(
        &app,
        &admin,
        create,
        json!({ "input": { "title": "Sale", "published": false } }),
    )
    .await["collection"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sale_before = as_the_api_gives_it(&app, &admin, &sale, "CollectionPayload").await;
    mutate(
        &app,
        &admin,
        "mutation($id: ID!) { collectionDelete(id: $id) { userErrors { field code } } }",
        json!({ "id": sale }),
    )
    .await;

    let types = json!([
        "COLLECTION_CREATED",
        "COLLECTION_UPDATED",
        "COLLECTION_DELETED"
    ]);
    let events = all_events(&app, &admin, 100, Some(types)).await;
    assert_eq!(
        names(&events),
        [
            "collection.created",
            "collection.updated", // three products added
            "collection.updated", // the third moved first
            "collection.created",
            "collection.deleted",
        ]
    );
    let now = as_the_api_gives_it(&app, &admin, &picks, "CollectionPayload").await;
    assert_eq!(last(&events, "collection.updated", &picks)["payload"], now);
    let order: Vec<&Value> = now["products"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert_eq!(order, [&products[2], &products[0], &products[1]]);
    assert_eq!(
        last(&events, "collection.deleted", &sale)["payload"],
        sale_before
    );

    // The feed brings the changed collection again (the deleted one is gone), then nothing.
    let (fed, cursor) = collection_feed(&app, &admin, &cursor).await;
    assert_eq!(fed, ["staff-picks"]);
    let (fed, _) = collection_feed(&app, &admin, &cursor).await;
    assert!(fed.is_empty(), "{fed:?}");
    // Partners read these with READ_PRODUCTS only.
    let orders_only = partner_key(&app, &admin, &["READ_ORDERS"]).await;
    let refused = app
        .graphql_as(
            Some(&orders_only),
            EVENTS,
            json!({ "types": ["COLLECTION_UPDATED"] }),
        )
        .await;
    assert_eq!(error_codes(&refused), ["FORBIDDEN"], "{refused}");
    let catalog = partner_key(&app, &admin, &["READ_PRODUCTS"]).await;
    let read = all_events(&app, &catalog, 100, Some(json!(["COLLECTION_DELETED"]))).await;
    assert_eq!(names(&read), ["collection.deleted"]);
}
