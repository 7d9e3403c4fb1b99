//! Fulfilments and staff notes: an order ships in parts with tracking its customer sees, turns
//! `FULFILLED` with its last unit, never ships a unit twice under concurrent fulfilments, and
//! a refund restocks only what has not shipped; notes are for staff and partner keys only; bad
//! input is a user error at the field at fault; partial refunds add up to the order's total; an
//! order page reads fulfilments, notes and refunds in constant statements.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::commerce::{a_variant, address, cart_with, set_stock, stock_of};
use crate::events::{all_events, partner_key};
use crate::helpers::{ApiClient, TestApp, error_codes, spawn_app, statements};

const FULFIL: &str = "mutation($id: ID!, $input: FulfillmentInput!) {
    fulfillmentCreate(id: $id, input: $input) {
        fulfillment { id carrier trackingNumber trackingUrl lines { quantity line { sku } } }
        order { status }
        userErrors { field message code } } }";

const ORDER: &str = "query($id: ID!) { node(id: $id) { ... on Order {
    status updatedAt
    lines { id sku quantity fulfilledQuantity }
    fulfillments { carrier trackingNumber trackingUrl lines { quantity line { sku } } }
    events { type toStatus } } } }";

const NOTE: &str = "mutation($id: ID!, $body: String!) { orderNoteAdd(id: $id, body: $body) {
    note { body appId author { email } } userErrors { field message code } } }";

const NOTES: &str = "query($id: ID!) { node(id: $id) { ... on Order { notes { body } } } }";

/// A paid order of `quantities` units of the first few variants in stock, placed and paid by
/// `customer`; its id.
async fn paid_order(app: &TestApp, customer: &str, quantities: &[i32], key: &str) -> String {
    let mut cart = None;
    for (index, &quantity) in quantities.iter().enumerate() {
        let (variant, _) = a_variant(app, index).await;
        set_stock(app, &variant, 100).await;
        match &cart {
            None => cart = Some(cart_with(app, Some(customer), &variant, quantity).await),
            Some(cart) => {
                let added = app
                    .data_as(
                        customer,
                        "mutation($cart: ID!, $lines: [CartLineInput!]!) { cartLinesAdd(cartId: $cart, lines: $lines) { userErrors { code } } }",
                        json!({ "cart": cart, "lines": [{ "variantId": variant, "quantity": quantity }] }),
                    )
                    .await;
                assert_eq!(added["cartLinesAdd"]["userErrors"], json!([]));
            }
        }
    }
    let placed = app
        .data_as(
            customer,
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } userErrors { code } } }",
            json!({ "input": { "cartId": cart, "email": "customer@example.com",
                               "idempotencyKey": key, "shippingAddress": address() } }),
        )
        .await;
    let order = placed["checkoutComplete"]["order"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{placed}"))
        .to_owned();
    let paid = app
        .data_as(
            customer,
            "mutation($id: ID!, $key: String!) { orderPay(id: $id, paymentToken: \"tok_success\", idempotencyKey: $key) { order { status } userErrors { code } } }",
            json!({ "id": order, "key": format!("{key}-pay") }),
        )
        .await;
    assert_eq!(paid["orderPay"]["order"]["status"], "PAID", "{paid}");
    order
}

async fn fulfil(app: &ApiClient, token: &str, order: &str, input: Value) -> Value {
    app.graphql_as(Some(token), FULFIL, json!({ "id": order, "input": input }))
        .await
}

async fn order_as(app: &ApiClient, token: &str, order: &str) -> Value {
    app.data_as(token, ORDER, json!({ "id": order })).await["node"].clone()
}

async fn add_note(app: &ApiClient, order: &str, token: &str, body: &str) -> Value {
    app.graphql_as(Some(token), NOTE, json!({ "id": order, "body": body }))
        .await
}

fn user_errors(response: &Value) -> &Value {
    &response["data"]["fulfillmentCreate"]["userErrors"]
}

#[actix_web::test]
async fn an_order_ships_in_parts_and_is_fulfilled_with_its_last_unit() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let order = paid_order(&app, &customer.token, &[3, 1], "parts").await;
    let before = order_as(&app, &admin.token, &order).await;
    let lines = before["lines"].as_array().unwrap().clone();
    assert_eq!(lines[0]["fulfilledQuantity"], 0);

    let first = fulfil(
        &app,
        &admin.token,
        &order,
        json!({ "lines": [{ "lineId": lines[0]["id"], "quantity": 1 }], "carrier": " DHL ",
                "trackingNumber": "00340434161094042557",
                "trackingUrl": "https://www.dhl.com/track?id=00340434161094042557" }),
    )
    .await;
    assert_eq!(user_errors(&first), &json!([]), "{first}");
    let made = &first["data"]["fulfillmentCreate"];
    assert_eq!(made["order"]["status"], "PAID");
    assert_eq!(made["fulfillment"]["carrier"], "DHL");
    assert_eq!(
        made["fulfillment"]["lines"],
        json!([{ "quantity": 1, "line": { "sku": lines[0]["sku"] } }])
    );

    // Its customer sees what shipped and how to follow it.
    let seen = order_as(&app, &customer.token, &order).await;
    assert_eq!(seen["status"], "PAID");
    assert_eq!(seen["lines"][0]["fulfilledQuantity"], 1);
    assert_eq!(seen["lines"][1]["fulfilledQuantity"], 0);
    assert_eq!(
        seen["fulfillments"],
        json!([{ "carrier": "DHL", "trackingNumber": "00340434161094042557",
                 "trackingUrl": "https://www.dhl.com/track?id=00340434161094042557",
                 "lines": [{ "quantity": 1, "line": { "sku": lines[0]["sku"] } }] }])
    );
    assert!(seen["updatedAt"].as_str() > before["updatedAt"].as_str());

    // Naming no lines ships the rest: the order is fulfilled.
    let rest = fulfil(&app, &admin.token, &order, json!({ "carrier": "UPS" })).await;
    assert_eq!(user_errors(&rest), &json!([]), "{rest}");
    assert_eq!(
        rest["data"]["fulfillmentCreate"]["order"]["status"],
        "FULFILLED"
    );
    let after = order_as(&app, &customer.token, &order).await;
    let shipped: Vec<&Value> = after["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| &line["fulfilledQuantity"])
        .collect();
    assert_eq!(shipped, [&json!(3), &json!(1)]);
    assert_eq!(
        after["fulfillments"][1]["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|line| line["quantity"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(
        after["events"].as_array().unwrap().last().unwrap()["toStatus"],
        "FULFILLED"
    );

    let again = fulfil(&app, &admin.token, &order, json!({})).await;
    assert_eq!(
        user_errors(&again)[0]["code"],
        "INVALID_TRANSITION",
        "{again}"
    );

    // Partners follow it: a `fulfillment.created` per part (the order as it was then), one
    // `order.fulfilled`; the audit log names both parts.
    let events = all_events(&app, &admin.token, 100, None).await;
    let about_order: Vec<&Value> = events
        .iter()
        .filter(|event| event["subjectId"] == json!(order))
        .collect();
    let names: Vec<&str> = about_order
        .iter()
        .map(|event| event["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "order.created",
            "order.paid",
            "fulfillment.created",
            "fulfillment.created",
            "order.fulfilled"
        ]
    );
    let first_part = &about_order[2]["payload"];
    assert_eq!(first_part["status"], "PAID");
    assert_eq!(first_part["fulfillments"].as_array().unwrap().len(), 1);
    assert_eq!(first_part["lines"][0]["fulfilledQuantity"], 1);
    let audit = app
        .data_as(
            &admin.token,
            "{ auditLog(first: 20) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let fulfils = audit["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|edge| edge["node"]["action"] == "order.fulfill")
        .count();
    assert_eq!(fulfils, 2);
}

#[actix_web::test]
async fn bad_fulfilments_are_refused_at_the_field_at_fault() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let order = paid_order(&app, &customer.token, &[2], "bad").await;
    let other = paid_order(&app, &customer.token, &[1], "other").await;
    let line = order_as(&app, &admin.token, &order).await["lines"][0]["id"].clone();
    let foreign = order_as(&app, &admin.token, &other).await["lines"][0]["id"].clone();

    for (input, field, code) in [
        (
            json!({ "lines": [{ "lineId": line, "quantity": 3 }] }),
            json!(["input", "lines", "0", "quantity"]),
            "INVALID",
        ),
        (
            json!({ "lines": [{ "lineId": line, "quantity": 0 }] }),
            json!(["input", "lines", "0", "quantity"]),
            "INVALID",
        ),
        (
            json!({ "lines": [{ "lineId": line, "quantity": 1 }, { "lineId": line, "quantity": 1 }] }),
            json!(["input", "lines", "1", "lineId"]),
            "INVALID",
        ),
        (
            json!({ "lines": [{ "lineId": foreign, "quantity": 1 }] }),
            json!(["input", "lines", "0", "lineId"]),
            "NOT_FOUND",
        ),
        (json!({ "lines": [] }), json!(["input", "lines"]), "INVALID"),
        (
            json!({ "trackingUrl": "javascript:alert(1)" }),
            json!(["input", "trackingUrl"]),
            "INVALID",
        ),
        (
            json!({ "carrier": "x".repeat(101) }),
            json!(["input", "carrier"]),
            "TOO_LONG",
        ),
    ] {
        let refused = fulfil(&app, &admin.token, &order, input.clone()).await;
        let error = &user_errors(&refused)[0];
        assert_eq!(
            (&error["field"], error["code"].as_str()),
            (&field, Some(code)),
            "{input}: {refused}"
        );
    }
    // Nothing shipped meanwhile.
    let unchanged = order_as(&app, &admin.token, &order).await;
    assert_eq!(unchanged["lines"][0]["fulfilledQuantity"], 0);
    assert_eq!(unchanged["fulfillments"], json!([]));

    // Not a line id at all: a top-level error; the customer may not ship; an unpaid order
    // cannot.
    let not_a_line = fulfil(
        &app,
        &admin.token,
        &order,
        json!({ "lines": [{ "lineId": order, "quantity": 1 }] }),
    )
    .await;
    assert_eq!(error_codes(&not_a_line), ["BAD_USER_INPUT"], "{not_a_line}");
    let by_customer = fulfil(&app, &customer.token, &order, json!({})).await;
    assert_eq!(error_codes(&by_customer), ["FORBIDDEN"]);
    let cancelled = app
        .data_as(
            &admin.token,
            "mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: \"r\") { order { status } } }",
            json!({ "id": other }),
        )
        .await;
    assert_eq!(cancelled["orderRefund"]["order"]["status"], "REFUNDED");
    let refunded = fulfil(&app, &admin.token, &other, json!({})).await;
    assert_eq!(user_errors(&refunded)[0]["code"], "INVALID_TRANSITION");
    assert_eq!(user_errors(&refunded)[0]["field"], json!(["id"]));
}

#[actix_web::test]
async fn concurrent_fulfilments_never_ship_a_unit_twice() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let order = paid_order(&app, &customer.token, &[3], "race").await;
    let line = order_as(&app, &admin.token, &order).await["lines"][0]["id"].clone();
    let input = json!({ "lines": [{ "lineId": line, "quantity": 1 }] });
    let attempts =
        join_all((0..8).map(|_| fulfil(&app, &admin.token, &order, input.clone()))).await;
    let shipped = attempts
        .iter()
        .filter(|response| user_errors(response) == &json!([]))
        .count();
    assert_eq!(shipped, 3, "{attempts:?}");
    for refused in attempts.iter().filter(|r| user_errors(r) != &json!([])) {
        let code = user_errors(refused)[0]["code"].as_str().unwrap();
        assert!(
            ["INVALID", "INVALID_TRANSITION"].contains(&code),
            "{refused}"
        );
    }
    let after = order_as(&app, &admin.token, &order).await;
    assert_eq!(after["status"], "FULFILLED");
    assert_eq!(after["lines"][0]["fulfilledQuantity"], 3);
    assert_eq!(after["fulfillments"].as_array().unwrap().len(), 3);
    let fulfilled_events = after["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["type"] == "FULFILLED")
        .count();
    assert_eq!(fulfilled_events, 1);
}

#[actix_web::test]
async fn a_refund_puts_back_only_the_units_not_shipped() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let order = paid_order(&app, &customer.token, &[3], "refund").await;
    let (variant, _) = a_variant(&app, 0).await;
    let line = order_as(&app, &admin.token, &order).await["lines"][0]["id"].clone();
    let part = fulfil(
        &app,
        &admin.token,
        &order,
        json!({ "lines": [{ "lineId": line, "quantity": 1 }] }),
    )
    .await;
    assert_eq!(user_errors(&part), &json!([]));
    let on_shelf = stock_of(&app, &variant).await;
    let refunded = app
        .data_as(
            &admin.token,
            "mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: \"r\") { order { status } userErrors { code } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(
        refunded["orderRefund"]["order"]["status"], "REFUNDED",
        "{refunded}"
    );
    assert_eq!(stock_of(&app, &variant).await, on_shelf + 2);
}

#[actix_web::test]
async fn notes_are_written_and_read_by_staff_and_partner_keys_only() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let order = paid_order(&app, &customer.token, &[1], "notes").await;
    let writer = partner_key(&app, &admin.token, &["WRITE_ORDERS"]).await;
    let reader = partner_key(&app, &admin.token, &["READ_ORDERS"]).await;

    let by_staff = add_note(
        &app,
        &order,
        &admin.token,
        "  Customer called: leave at the door.  ",
    )
    .await;
    assert_eq!(
        by_staff["data"]["orderNoteAdd"]["note"],
        json!({ "body": "Customer called: leave at the door.", "appId": null,
                "author": { "email": "admin@example.com" } })
    );
    let by_partner = add_note(&app, &order, &writer, "ERP: picked").await;
    let partner_note = &by_partner["data"]["orderNoteAdd"]["note"];
    assert_eq!(partner_note["author"], Value::Null, "{by_partner}");
    assert!(
        partner_note["appId"]
            .as_str()
            .unwrap()
            .starts_with("gid://bazaar/App/")
    );
    let empty = add_note(&app, &order, &admin.token, " \n ").await;
    assert_eq!(
        empty["data"]["orderNoteAdd"]["userErrors"],
        json!([{ "field": ["body"], "message": "a note says something", "code": "TOO_SHORT" }])
    );
    let by_customer = add_note(&app, &order, &customer.token, "Let me in").await;
    assert_eq!(error_codes(&by_customer), ["FORBIDDEN"]);

    for token in [&admin.token, &reader] {
        let read = app.data_as(token, NOTES, json!({ "id": order })).await;
        assert_eq!(
            read["node"]["notes"],
            json!([{ "body": "Customer called: leave at the door." }, { "body": "ERP: picked" }])
        );
    }
    let hidden = app
        .graphql_as(Some(&customer.token), NOTES, json!({ "id": order }))
        .await;
    assert_eq!(error_codes(&hidden), ["FORBIDDEN"], "{hidden}");
}

#[actix_web::test]
async fn an_order_page_reads_fulfilments_notes_and_refunds_in_constant_statements() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let page = "query($n: Int!) { orders(first: $n) { edges { node {
        lines { fulfilledQuantity } totalRefunded { minorUnits }
        fulfillments { carrier lines { quantity line { sku } } }
        notes { body author { email } } } } } }";
    let mut counts = Vec::new();
    // 2 orders, then 5 more: pages of 2 and of 7.
    for (added, total) in [(2, 2), (5, 7)] {
        for n in 0..added {
            let key = format!("page-{total}-{n}");
            let order = paid_order(&app, &customer.token, &[2, 1], &key).await;
            let shipped = fulfil(&app, &admin.token, &order, json!({ "carrier": "DHL" })).await;
            assert_eq!(user_errors(&shipped), &json!([]));
            let noted = app
                .data_as(&admin.token, NOTE, json!({ "id": order, "body": "Packed" }))
                .await;
            assert_eq!(noted["orderNoteAdd"]["userErrors"], json!([]));
        }
        let response = app
            .graphql_as(Some(&admin.token), page, json!({ "n": total }))
            .await;
        assert_eq!(response["errors"], Value::Null, "{response}");
        let edges = response["data"]["orders"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), total);
        assert!(
            edges
                .iter()
                .all(|edge| edge["node"]["fulfillments"][0]["lines"][0]["line"]["sku"].is_string())
        );
        counts.push(statements(&response));
    }
    assert_eq!(counts[0], counts[1], "statements for 2 and 7 orders");
}

const REFUND: &str = "mutation($id: ID!, $key: String!, $amount: String) {
    orderRefund(id: $id, idempotencyKey: $key, amount: $amount) {
        order { status updatedAt } payment { kind status amount { minorUnits } }
        userErrors { field message code } } }";

async fn refund(
    app: &ApiClient,
    token: &str,
    order: &str,
    key: &str,
    amount: Option<&str>,
) -> Value {
    app.data_as(
        token,
        REFUND,
        json!({ "id": order, "key": key, "amount": amount }),
    )
    .await["orderRefund"]
        .clone()
}

#[actix_web::test]
async fn partial_refunds_pay_back_parts_until_the_order_is_refunded() {
    let app = spawn_app().await;
    let admin = app.account_with_role("admin@example.com", "ADMIN").await;
    let customer = app.register("customer@example.com").await;
    let order = paid_order(&app, &customer.token, &[2], "partial").await;
    let (variant, _) = a_variant(&app, 0).await;
    let total = app
        .data_as(
            &admin.token,
            "query($id: ID!) { node(id: $id) { ... on Order { totals { total { minorUnits } } } } }",
            json!({ "id": order }),
        )
        .await["node"]["totals"]["total"]["minorUnits"]
        .as_i64()
        .unwrap();
    assert!(
        total > 150,
        "the order costs more than the parts refunded here"
    );
    let on_shelf = stock_of(&app, &variant).await;

    let part = refund(&app, &admin.token, &order, "part-1", Some("1.00")).await;
    assert_eq!(part["userErrors"], json!([]), "{part}");
    assert_eq!(part["order"]["status"], "PAID");
    assert_eq!(
        part["payment"],
        json!({ "kind": "REFUND", "status": "SUCCEEDED", "amount": { "minorUnits": 100 } })
    );
    assert_eq!(
        stock_of(&app, &variant).await,
        on_shelf,
        "a part restocks nothing"
    );
    let again = refund(&app, &admin.token, &order, "part-1", Some("1.00")).await;
    assert_eq!(
        again["payment"], part["payment"],
        "the same key, the same attempt"
    );

    for (key, amount, field, code) in [
        ("part-1", "0.50", "idempotencyKey", "IDEMPOTENCY_KEY_REUSED"),
        (
            "too-much",
            &*format!("{}.00", total / 100 + 1),
            "amount",
            "INVALID",
        ),
        ("zero", "0", "amount", "INVALID"),
        ("negative", "-1.00", "amount", "INVALID"),
        ("words", "ten", "amount", "INVALID"),
        ("cents", "0.001", "amount", "INVALID"),
    ] {
        let refused = refund(&app, &admin.token, &order, key, Some(amount)).await;
        assert_eq!(
            refused["userErrors"][0]["field"],
            json!([field]),
            "{amount}: {refused}"
        );
        assert_eq!(
            refused["userErrors"][0]["code"], code,
            "{amount}: {refused}"
        );
    }

    // A message quoting the caller's input is cut short, as top-level errors are.
    let long = "9".repeat(5_000);
    let refused = refund(&app, &admin.token, &order, "long", Some(&long)).await;
    let message = refused["userErrors"][0]["message"].as_str().unwrap();
    assert!(
        message.ends_with("… (cut)") && message.chars().count() < 320,
        "{message}"
    );

    let second = refund(&app, &admin.token, &order, "part-2", Some("0.50")).await;
    assert_eq!(second["order"]["status"], "PAID", "{second}");
    let so_far = app
        .data_as(
            &admin.token,
            "query($id: ID!) { node(id: $id) { ... on Order { totalRefunded { minorUnits } } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(so_far["node"]["totalRefunded"]["minorUnits"], 150);
    let rest = refund(&app, &admin.token, &order, "rest", None).await;
    assert_eq!(rest["order"]["status"], "REFUNDED", "{rest}");
    assert_eq!(rest["payment"]["amount"]["minorUnits"], total - 150);
    assert_eq!(stock_of(&app, &variant).await, on_shelf + 2);
    let nothing_left = refund(&app, &admin.token, &order, "more", None).await;
    assert_eq!(nothing_left["userErrors"][0]["code"], "INVALID_TRANSITION");

    let payments = app
        .data_as(
            &admin.token,
            "query($id: ID!) { node(id: $id) { ... on Order { payments { kind status amount { minorUnits } } } } }",
            json!({ "id": order }),
        )
        .await;
    let refunded: i64 = payments["node"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "REFUND" && p["status"] == "SUCCEEDED")
        .map(|p| p["amount"]["minorUnits"].as_i64().unwrap())
        .sum();
    assert_eq!(refunded, total);
    let shown = app
        .data_as(
            &admin.token,
            "query($id: ID!) { node(id: $id) { ... on Order { totalRefunded { minorUnits } } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(shown["node"]["totalRefunded"]["minorUnits"], total);
    let events = all_events(&app, &admin.token, 100, None).await;
    let refunds = events
        .iter()
        .filter(|e| e["subjectId"] == json!(order) && e["name"] == "order.refunded")
        .count();
    assert_eq!(refunds, 1);
}
