//! Carts, checkout, orders and payments through the API, including what must hold under
//! concurrency: no oversold stock, no discount used past its limit, one order per idempotency
//! key, money moved at most once.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{
    ApiClient, TestApp, calls, error_codes, spawn_app, spawn_app_with, statements,
};

const CART_FIELDS: &str = "id itemCount readyForCheckout discountCode discountProblem
    lines { quantity sku availability unitPrice { minorUnits } lineTotal { minorUnits } }
    totals { subtotal { minorUnits } discount { minorUnits } shipping { minorUnits }
             tax { minorUnits } total { minorUnits } }";

const ORDER_FIELDS: &str = "id number status email
    totals { subtotal { minorUnits } discount { minorUnits } total { minorUnits } }
    lines { quantity sku unitPrice { minorUnits } }
    events { type fromStatus toStatus }";

/// A sellable variant: its id and price in minor units.
pub(crate) async fn a_variant(app: &ApiClient, index: usize) -> (String, i64) {
    let data = app
        .data(
            "{ products(first: 10, where: { inStock: true }) { edges { node { variants { id price { minorUnits } } } } } }",
            json!({}),
        )
        .await;
    let variant = &data["products"]["edges"][index]["node"]["variants"][0];
    (
        variant["id"].as_str().unwrap().to_owned(),
        variant["price"]["minorUnits"].as_i64().unwrap(),
    )
}

pub(crate) async fn set_stock(app: &TestApp, variant: &str, stock: i32) {
    use bazaar::db::schema::variants;
    use diesel::prelude::*;
    let id: i64 = variant.rsplit('/').next().unwrap().parse().unwrap();
    app.db
        .run(move |conn| {
            diesel::update(variants::table.find(id))
                .set(variants::stock.eq(stock))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

pub(crate) async fn stock_of(app: &TestApp, variant: &str) -> i32 {
    use bazaar::db::schema::variants;
    use diesel::prelude::*;
    let id: i64 = variant.rsplit('/').next().unwrap().parse().unwrap();
    app.db
        .run(move |conn| {
            Ok(variants::table
                .find(id)
                .select(variants::stock)
                .first(conn)?)
        })
        .await
        .unwrap()
}

/// A new empty cart's id.
pub(crate) async fn empty_cart(app: &ApiClient, token: Option<&str>) -> String {
    let created = app
        .graphql_as(token, "mutation { cartCreate { cart { id } } }", json!({}))
        .await;
    created["data"]["cartCreate"]["cart"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A cart holding `quantity` of `variant`; its id.
pub(crate) async fn cart_with(
    app: &ApiClient,
    token: Option<&str>,
    variant: &str,
    quantity: i32,
) -> String {
    let cart = empty_cart(app, token).await;
    let added = app
        .graphql_as(
            token,
            "mutation($cart: ID!, $lines: [CartLineInput!]!) { cartLinesAdd(cartId: $cart, lines: $lines) {
                cart { id } userErrors { field message code } } }",
            json!({ "cart": cart, "lines": [{ "variantId": variant, "quantity": quantity }] }),
        )
        .await;
    assert_eq!(
        added["data"]["cartLinesAdd"]["userErrors"],
        json!([]),
        "{added}"
    );
    cart
}

pub(crate) fn address() -> Value {
    json!({ "firstName": "Ada", "lastName": "Lovelace", "line1": "12 St James's Square",
            "city": "London", "postalCode": "SW1Y 4JH", "countryCode": "GB" })
}

pub(crate) async fn checkout(app: &ApiClient, token: Option<&str>, cart: &str, key: &str) -> Value {
    let query = format!(
        "mutation($input: CheckoutInput!) {{ checkoutComplete(input: $input) {{
            order {{ {ORDER_FIELDS} }} userErrors {{ field message code }} }} }}"
    );
    let mut request = app
        .client()
        .post(format!("{}/graphql", app.address))
        .insert_header(("Accept", "application/graphql-response+json"))
        .timeout(Duration::from_secs(60));
    if let Some(token) = token {
        request = request.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut response = request
        .send_json(&json!({ "query": query, "variables": { "input": {
            "cartId": cart, "email": "ada@example.com", "shippingAddress": address(),
            "idempotencyKey": key } } }))
        .await
        .expect("send the checkout");
    response.json::<Value>().await.expect("a JSON body")
}

/// The first user error code of `field`, from a whole response or from its `data`.
pub(crate) fn user_error_code(response: &Value, field: &str) -> Option<String> {
    let data = response.get("data").unwrap_or(response);
    data[field]["userErrors"][0]["code"]
        .as_str()
        .map(str::to_owned)
}

#[actix_web::test]
async fn a_whole_shopping_flow_from_cart_to_a_fulfilled_order() {
    let app = spawn_app_with(
        1,
        &[
            "--tax-rate-percent",
            "10",
            "--shipping-flat-rate",
            "4.00",
            "--free-shipping-from",
            "none",
        ],
    )
    .await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let (variant, price) = a_variant(&app, 0).await;
    set_stock(&app, &variant, 50).await;
    let code = app
        .data_as(
            &staff.token,
            "mutation { discountCodeCreate(input: { code: \"welcome10\", kind: PERCENTAGE, value: \"10\" }) {
                code userErrors { field code } } }",
            json!({}),
        )
        .await;
    assert_eq!(code["discountCodeCreate"]["code"], "WELCOME10");

    // An anonymous shopper fills a cart.
    let cart = cart_with(&app, None, &variant, 2).await;
    let applied = app
        .data(
            &format!("mutation($cart: ID!) {{ cartDiscountCodeApply(cartId: $cart, code: \"Welcome10\") {{
                cart {{ {CART_FIELDS} }} userErrors {{ code }} }} }}"),
            json!({ "cart": cart }),
        )
        .await;
    let view = &applied["cartDiscountCodeApply"]["cart"];
    let subtotal = price * 2;
    let discount = (subtotal * 10 + 50) / 100;
    let tax = ((subtotal - discount) * 1_000 + 5_000) / 10_000;
    let total = subtotal - discount + 400 + tax;
    assert_eq!(
        view["totals"],
        json!({ "subtotal": { "minorUnits": subtotal }, "discount": { "minorUnits": discount },
                "shipping": { "minorUnits": 400 }, "tax": { "minorUnits": tax },
                "total": { "minorUnits": total } })
    );
    assert_eq!(view["readyForCheckout"], true);

    // A price sent by the client is not even accepted by the schema.
    let forged = app
        .graphql(
            "mutation($cart: ID!, $variant: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $variant, quantity: 1, price: \"0.01\" }]) { cart { id } } }",
            json!({ "cart": cart, "variant": variant }),
        )
        .await;
    assert_eq!(error_codes(&forged), ["BAD_USER_INPUT"]);

    // Signing in brings the anonymous cart along.
    let ada = app.register("ada@example.com").await;
    let login = app
        .graphql(
            &format!("mutation($cart: ID!) {{ login(email: \"ada@example.com\", password: \"correct horse battery\", cartId: $cart) {{
                session {{ token }} cart {{ {CART_FIELDS} }} userErrors {{ code }} }} }}"),
            json!({ "cart": cart }),
        )
        .await;
    assert_eq!(login["data"]["login"]["cart"]["id"], cart.as_str());
    assert_eq!(login["data"]["login"]["cart"]["itemCount"], 2);
    // Now the cart is Ada's: anonymous callers no longer see it.
    let anonymous = app
        .data(
            "query($cart: ID!) { cart(id: $cart) { id } }",
            json!({ "cart": cart }),
        )
        .await;
    assert_eq!(anonymous["cart"], Value::Null);

    let placed = checkout(&app, Some(&ada.token), &cart, "flow-1").await;
    let order = &placed["data"]["checkoutComplete"]["order"];
    assert_eq!(
        placed["data"]["checkoutComplete"]["userErrors"],
        json!([]),
        "{placed}"
    );
    assert_eq!(order["status"], "PENDING_PAYMENT");
    assert_eq!(order["totals"]["total"]["minorUnits"], total);
    assert_eq!(order["lines"][0]["unitPrice"]["minorUnits"], price);
    assert!(order["number"].as_str().unwrap().starts_with('#'));
    let order_id = order["id"].as_str().unwrap().to_owned();

    let pay = "mutation($id: ID!, $token: String!, $key: String!) {
        orderPay(id: $id, paymentToken: $token, idempotencyKey: $key) {
            order { status } payment { kind status amount { minorUnits } } userErrors { field code } } }";
    let declined = app
        .data_as(
            &ada.token,
            pay,
            json!({ "id": order_id, "token": "tok_decline", "key": "p1" }),
        )
        .await;
    assert_eq!(
        user_error_code(&declined, "orderPay").as_deref(),
        Some("PAYMENT_DECLINED")
    );
    let paid = app
        .data_as(
            &ada.token,
            pay,
            json!({ "id": order_id, "token": "tok_success", "key": "p2" }),
        )
        .await;
    assert_eq!(paid["orderPay"]["order"]["status"], "PAID", "{paid}");
    assert_eq!(paid["orderPay"]["payment"]["amount"]["minorUnits"], total);
    assert_eq!(app.gateway.money_moved().len(), 1);

    let fulfil = app
        .data_as(
            &staff.token,
            "mutation($id: ID!) { orderFulfill(id: $id) { order { status events { type fromStatus toStatus } } userErrors { code } } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(
        fulfil["orderFulfill"]["order"]["events"],
        json!([
            { "type": "CREATED", "fromStatus": null, "toStatus": "PENDING_PAYMENT" },
            { "type": "PAID", "fromStatus": "PENDING_PAYMENT", "toStatus": "PAID" },
            { "type": "FULFILLED", "fromStatus": "PAID", "toStatus": "FULFILLED" },
        ])
    );
    // Illegal transitions are user errors.
    let cancel = app
        .data_as(
            &ada.token,
            "mutation($id: ID!) { orderCancel(id: $id) { order { status } userErrors { code } } }",
            json!({ "id": order_id }),
        )
        .await;
    assert_eq!(
        user_error_code(&cancel, "orderCancel").as_deref(),
        Some("INVALID_TRANSITION")
    );
    // A checked-out cart takes no more changes.
    let late = app
        .data_as(
            &ada.token,
            "mutation($cart: ID!, $variant: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $variant, quantity: 1 }]) { userErrors { code } } }",
            json!({ "cart": cart, "variant": variant }),
        )
        .await;
    assert_eq!(
        user_error_code(&late, "cartLinesAdd").as_deref(),
        Some("ALREADY_COMPLETED")
    );
}

#[actix_web::test]
async fn two_hundred_concurrent_checkouts_never_oversell_ten_units() {
    let app = spawn_app_with(1, &["--pool-timeout-secs", "30"]).await;
    let (variant, _) = a_variant(&app, 1).await;
    let mut carts = Vec::new();
    for _ in 0..200 {
        carts.push(cart_with(&app, None, &variant, 1).await);
    }
    set_stock(&app, &variant, 10).await;
    let responses = join_all(carts.iter().enumerate().map(|(i, cart)| {
        checkout(
            &app,
            None,
            cart,
            Box::leak(format!("oversell-{i}").into_boxed_str()),
        )
    }))
    .await;
    let placed = responses
        .iter()
        .filter(|r| r["data"]["checkoutComplete"]["order"].is_object())
        .count();
    let out_of_stock = responses
        .iter()
        .filter(|r| user_error_code(r, "checkoutComplete").as_deref() == Some("OUT_OF_STOCK"))
        .count();
    assert_eq!(placed, 10);
    assert_eq!(
        out_of_stock, 190,
        "every other checkout is a clear out-of-stock error"
    );
    assert_eq!(stock_of(&app, &variant).await, 0);
}

/// A cart holding `first` then `second`, one unit each.
async fn cart_of_two(app: &ApiClient, first: &str, second: &str) -> String {
    let cart = cart_with(app, None, first, 1).await;
    let added = app
        .data(
            "mutation($cart: ID!, $variant: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $variant, quantity: 1 }]) { userErrors { code } } }",
            json!({ "cart": cart, "variant": second }),
        )
        .await;
    assert_eq!(added["cartLinesAdd"]["userErrors"], json!([]), "{added}");
    cart
}

#[actix_web::test]
async fn checkouts_holding_the_same_variants_in_opposite_orders_never_wait_on_each_other() {
    // Each checkout takes both variants' stock: were the rows locked in cart order, a checkout
    // holding the first while another holds the second would deadlock, and PostgreSQL would end
    // one of them (an error to its client).
    let app = spawn_app_with(1, &["--pool-timeout-secs", "30"]).await;
    let (a, _) = a_variant(&app, 0).await;
    let (b, _) = a_variant(&app, 1).await;
    let mut carts = Vec::new();
    for i in 0..60 {
        carts.push(if i % 2 == 0 {
            cart_of_two(&app, &a, &b).await
        } else {
            cart_of_two(&app, &b, &a).await
        });
    }
    set_stock(&app, &a, 1_000).await;
    set_stock(&app, &b, 1_000).await;
    let responses = join_all(carts.iter().enumerate().map(|(i, cart)| {
        checkout(
            &app,
            None,
            cart,
            Box::leak(format!("crossed-{i}").into_boxed_str()),
        )
    }))
    .await;
    for response in &responses {
        assert!(
            response["data"]["checkoutComplete"]["order"].is_object(),
            "{response}"
        );
    }
    assert_eq!(stock_of(&app, &a).await, 940);
    assert_eq!(stock_of(&app, &b).await, 940);
}

#[actix_web::test]
async fn a_cart_with_one_line_short_takes_no_stock_from_the_others() {
    let app = spawn_app().await;
    let (a, _) = a_variant(&app, 0).await;
    let (b, _) = a_variant(&app, 1).await;
    let cart = cart_of_two(&app, &a, &b).await;
    set_stock(&app, &a, 5).await;
    set_stock(&app, &b, 0).await;
    let response = checkout(&app, None, &cart, "one-short").await;
    assert_eq!(
        user_error_code(&response, "checkoutComplete").as_deref(),
        Some("OUT_OF_STOCK"),
        "{response}"
    );
    assert_eq!(stock_of(&app, &a).await, 5);
    assert_eq!(stock_of(&app, &b).await, 0);
    set_stock(&app, &b, 1).await;
    let retried = checkout(&app, None, &cart, "one-short-again").await;
    assert!(
        retried["data"]["checkoutComplete"]["order"].is_object(),
        "{retried}"
    );
    assert_eq!(stock_of(&app, &a).await, 4);
    assert_eq!(stock_of(&app, &b).await, 0);
}

#[actix_web::test]
async fn a_discount_limited_to_five_uses_is_used_five_times_under_fifty_checkouts() {
    let app = spawn_app_with(1, &["--pool-timeout-secs", "30"]).await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    app.data_as(
        &staff.token,
        "mutation { discountCodeCreate(input: { code: \"FIVE\", kind: FIXED_AMOUNT, value: \"1.00\", usageLimit: 5 }) { code } }",
        json!({}),
    )
    .await;
    let (variant, _) = a_variant(&app, 2).await;
    set_stock(&app, &variant, 1_000).await;
    let mut carts = Vec::new();
    for _ in 0..50 {
        let cart = cart_with(&app, None, &variant, 1).await;
        let applied = app
            .data(
                "mutation($cart: ID!) { cartDiscountCodeApply(cartId: $cart, code: \"FIVE\") { userErrors { code } } }",
                json!({ "cart": cart }),
            )
            .await;
        assert_eq!(applied["cartDiscountCodeApply"]["userErrors"], json!([]));
        carts.push(cart);
    }
    let responses = join_all(carts.iter().enumerate().map(|(i, cart)| {
        checkout(
            &app,
            None,
            cart,
            Box::leak(format!("five-{i}").into_boxed_str()),
        )
    }))
    .await;
    let discounted = responses
        .iter()
        .filter(|r| {
            r["data"]["checkoutComplete"]["order"]["totals"]["discount"]["minorUnits"] == 100
        })
        .count();
    let refused = responses
        .iter()
        .filter(|r| {
            user_error_code(r, "checkoutComplete").as_deref() == Some("DISCOUNT_NOT_APPLICABLE")
        })
        .count();
    assert_eq!(discounted, 5);
    assert_eq!(refused, 45);
    use bazaar::db::schema::discount_codes;
    use diesel::prelude::*;
    let used: i32 = app
        .db
        .run(|conn| {
            Ok(discount_codes::table
                .select(discount_codes::times_used)
                .first(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(used, 5);
}

#[actix_web::test]
async fn one_idempotency_key_places_one_order_and_charges_once() {
    let app = spawn_app_with(1, &["--pool-timeout-secs", "30"]).await;
    let ada = app.register("ada@example.com").await;
    let (variant, _) = a_variant(&app, 3).await;
    set_stock(&app, &variant, 100).await;
    let cart = cart_with(&app, Some(&ada.token), &variant, 2).await;
    let responses =
        join_all((0..20).map(|_| checkout(&app, Some(&ada.token), &cart, "same-key"))).await;
    for response in &responses {
        assert_eq!(
            response["data"], responses[0]["data"],
            "every retry gets the same answer: {response}"
        );
    }
    let order = &responses[0]["data"]["checkoutComplete"]["order"];
    assert!(order.is_object(), "{}", responses[0]);
    assert_eq!(stock_of(&app, &variant).await, 98, "stock taken once");

    // The same key for another checkout is refused.
    let other_cart = cart_with(&app, Some(&ada.token), &variant, 1).await;
    let reused = checkout(&app, Some(&ada.token), &other_cart, "same-key").await;
    assert_eq!(
        user_error_code(&reused, "checkoutComplete").as_deref(),
        Some("IDEMPOTENCY_KEY_REUSED")
    );
    // Also when that other cart would be refused for itself (here: empty): the key is what is
    // wrong, and saying so first tells the client what to change.
    let empty = empty_cart(&app, Some(&ada.token)).await;
    let reused_on_empty = checkout(&app, Some(&ada.token), &empty, "same-key").await;
    assert_eq!(
        user_error_code(&reused_on_empty, "checkoutComplete").as_deref(),
        Some("IDEMPOTENCY_KEY_REUSED"),
        "{reused_on_empty}"
    );

    // Paying: 20 concurrent attempts with one key, and 5 with other keys: one capture.
    let pay = "mutation($id: ID!, $key: String!) { orderPay(id: $id, paymentToken: \"tok_success\", idempotencyKey: $key) {
        order { status } userErrors { code } } }";
    let id = order["id"].as_str().unwrap();
    let attempts = join_all((0..25).map(|i| {
        let key = if i < 20 {
            "pay-1".to_owned()
        } else {
            format!("pay-other-{i}")
        };
        let ada = &ada;
        let app = &app;
        async move {
            app.graphql_as(Some(&ada.token), pay, json!({ "id": id, "key": key }))
                .await
        }
    }))
    .await;
    for attempt in &attempts[..20] {
        assert_eq!(
            attempt["data"]["orderPay"],
            json!({ "order": { "status": "PAID" }, "userErrors": [] }),
            "every request with the key sees the payment"
        );
    }
    for attempt in &attempts[20..] {
        assert!(attempt["errors"].is_null(), "{attempt}");
    }
    assert_eq!(app.gateway.money_moved().len(), 1, "money moved once");
}

#[actix_web::test]
async fn cancelling_and_refunding_return_stock_as_the_rules_say() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let (variant, _) = a_variant(&app, 4).await;
    set_stock(&app, &variant, 10).await;
    let place = |key: &'static str| {
        let (app, ada, variant) = (&app, &ada, &variant);
        async move {
            let cart = cart_with(app, Some(&ada.token), variant, 3).await;
            let placed = checkout(app, Some(&ada.token), &cart, key).await;
            placed["data"]["checkoutComplete"]["order"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let cancelled = place("c1").await;
    assert_eq!(stock_of(&app, &variant).await, 7);
    let cancel = app
        .data_as(
            &ada.token,
            "mutation($id: ID!) { orderCancel(id: $id) { order { status } userErrors { code } } }",
            json!({ "id": cancelled }),
        )
        .await;
    assert_eq!(cancel["orderCancel"]["order"]["status"], "CANCELLED");
    assert_eq!(stock_of(&app, &variant).await, 10, "cancelling restocks");

    let refunded = place("c2").await;
    app.data_as(&ada.token, "mutation($id: ID!) { orderPay(id: $id, paymentToken: \"tok_success\", idempotencyKey: \"k\") { order { status } } }", json!({ "id": refunded }))
        .await;
    let refund = "mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: \"r\") { order { status } payment { kind status } userErrors { code } } }";
    let as_customer = app
        .graphql_as(Some(&ada.token), refund, json!({ "id": refunded }))
        .await;
    assert_eq!(error_codes(&as_customer), ["FORBIDDEN"]);
    let done = app
        .data_as(&staff.token, refund, json!({ "id": refunded }))
        .await;
    assert_eq!(done["orderRefund"]["order"]["status"], "REFUNDED");
    assert_eq!(
        done["orderRefund"]["payment"],
        json!({ "kind": "REFUND", "status": "SUCCEEDED" })
    );
    assert_eq!(
        stock_of(&app, &variant).await,
        10,
        "refunding an unshipped order restocks"
    );
    let again = app
        .data_as(&staff.token, refund, json!({ "id": refunded }))
        .await;
    assert_eq!(again, done, "the same refund key replays");
    let moved: i64 = app
        .gateway
        .money_moved()
        .iter()
        .map(|(_, amount)| amount)
        .sum();
    assert_eq!(moved, 0, "charged once, refunded once");
}

#[actix_web::test]
async fn customers_see_their_own_orders_and_staff_see_all_in_bounded_statements() {
    let app = spawn_app_with(1, &["--pool-timeout-secs", "30"]).await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    // 500 past orders of three lines from 50 seeded customers.
    app.db
        .run(|conn| bazaar::services::seed::seed_shoppers_blocking(conn, 1))
        .await
        .unwrap();
    // The session is looked up once; the counts below are of the requests after that.
    app.data_as(&staff.token, "{ me { id } }", json!({})).await;
    let query = "query($n: Int) { orders(first: $n) { edges { node { number customer { email }
        lines { quantity variant { sku product { name } } } events { type } } } } }";
    let mut counts = Vec::new();
    for n in [5, 50] {
        let response = app
            .graphql_as(Some(&staff.token), query, json!({ "n": n }))
            .await;
        assert!(response["errors"].is_null(), "{response}");
        let edges = response["data"]["orders"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), n);
        assert_eq!(edges[0]["node"]["lines"].as_array().unwrap().len(), 3);
        counts.push((statements(&response), calls(&response)));
    }
    // Orders with their customers, lines with their variants and products, events: whatever
    // the page size. The lines are read in the same call as the page.
    assert_eq!(counts[0], counts[1], "{counts:?}");
    assert_eq!(counts[0], (3, 2), "{counts:?}");
    // The products' categories, when asked for, take one statement more, for every line at once.
    let with_categories = "{ orders(first: 50) { edges { node { lines { variant {
        product { slug category { slug } } } } } } } }";
    let response = app
        .graphql_as(Some(&staff.token), with_categories, json!({}))
        .await;
    assert!(response["errors"].is_null(), "{response}");
    assert_eq!(statements(&response), 3, "{response}");
    // Lines read with the page belong to their own orders: each order's lines as read by id.
    let page = app
        .data_as(
            &staff.token,
            "{ orders(first: 20) { edges { node { id lines { sku quantity lineTotal { amount } } } } } }",
            json!({}),
        )
        .await;
    for edge in page["orders"]["edges"].as_array().unwrap() {
        let by_id = app
            .data_as(
                &staff.token,
                "query($id: ID!) { node(id: $id) { ... on Order { lines { sku quantity lineTotal { amount } } } } }",
                json!({ "id": edge["node"]["id"] }),
            )
            .await;
        assert_eq!(edge["node"]["lines"], by_id["node"]["lines"]);
    }
    let products: Vec<&Value> = response["data"]["orders"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["node"]["lines"].as_array().unwrap())
        .map(|line| &line["variant"]["product"])
        .collect();
    assert_eq!(products.len(), 150);
    for product in products {
        let slug = product["slug"].as_str().unwrap();
        let filed_under = app
            .data(
                "query($slug: String!) { product(slug: $slug) { category { slug } } }",
                json!({ "slug": slug }),
            )
            .await;
        assert_eq!(product["category"], filed_under["product"]["category"]);
        assert!(product["category"]["slug"].is_string(), "{product}");
    }

    let (variant, _) = a_variant(&app, 5).await;
    set_stock(&app, &variant, 1_000).await;
    for (n, who) in [&ada, &bob, &ada, &bob, &ada, &bob].into_iter().enumerate() {
        let cart = cart_with(&app, Some(&who.token), &variant, 1).await;
        let response = checkout(&app, Some(&who.token), &cart, &format!("mine-{n}")).await;
        assert!(
            response["data"]["checkoutComplete"]["order"].is_object(),
            "{response}"
        );
    }

    // Customers see their own orders only, also by id.
    let own = app
        .data_as(
            &ada.token,
            "{ orders(first: 50) { edges { node { id email customer { email } } } } }",
            json!({}),
        )
        .await;
    let edges = own["orders"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 3);
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["customer"]["email"] == "ada@example.com")
    );
    // A customer's orders with their lines and the lines' variants: one database call.
    let with_lines = app
        .graphql_as(
            Some(&ada.token),
            "{ orders(first: 50) { edges { node { lines { sku variant { sku } } } } } }",
            json!({}),
        )
        .await;
    let lines = with_lines["data"]["orders"]["edges"][0]["node"]["lines"].clone();
    assert_eq!(lines[0]["sku"], lines[0]["variant"]["sku"], "{with_lines}");
    assert_eq!(
        (statements(&with_lines), calls(&with_lines)),
        (2, 1),
        "{with_lines}"
    );
    let adas_order = edges[0]["node"]["id"].clone();
    let by_bob = app
        .data_as(
            &bob.token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": adas_order }),
        )
        .await;
    assert_eq!(by_bob["node"], Value::Null);
    let bob_pays = app
        .data_as(&bob.token, "mutation($id: ID!) { orderPay(id: $id, paymentToken: \"tok_success\", idempotencyKey: \"x\") { userErrors { code } } }", json!({ "id": adas_order }))
        .await;
    assert_eq!(
        user_error_code(&bob_pays, "orderPay").as_deref(),
        Some("NOT_FOUND"),
        "{bob_pays}"
    );
    let anonymous = app
        .graphql("{ orders { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"]);
}

#[actix_web::test]
async fn lines_that_cannot_be_bought_are_flagged_not_dropped() {
    let app = spawn_app().await;
    let (variant, _) = a_variant(&app, 7).await;
    set_stock(&app, &variant, 5).await;
    let cart = cart_with(&app, None, &variant, 3).await;
    let read = |app: &TestApp, cart: String| {
        let app = app.api.address.clone();
        async move {
            ApiClient::new(&app)
                .data(
                    &format!("query($cart: ID!) {{ cart(id: $cart) {{ {CART_FIELDS} }} }}"),
                    json!({ "cart": cart }),
                )
                .await
        }
    };
    assert_eq!(
        read(&app, cart.clone()).await["cart"]["lines"][0]["availability"],
        "AVAILABLE"
    );
    set_stock(&app, &variant, 2).await;
    let view = read(&app, cart.clone()).await;
    assert_eq!(
        view["cart"]["lines"][0]["availability"],
        "INSUFFICIENT_STOCK"
    );
    assert_eq!(view["cart"]["readyForCheckout"], false);
    set_stock(&app, &variant, 0).await;
    assert_eq!(
        read(&app, cart.clone()).await["cart"]["lines"][0]["availability"],
        "OUT_OF_STOCK"
    );
    let refused = checkout(&app, None, &cart, "flagged").await;
    assert_eq!(
        user_error_code(&refused, "checkoutComplete").as_deref(),
        Some("OUT_OF_STOCK")
    );
    let bounds = app
        .data(
            "mutation($cart: ID!, $v: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $v, quantity: 100 }]) { userErrors { field code } } }",
            json!({ "cart": cart, "v": variant }),
        )
        .await;
    assert_eq!(
        bounds["cartLinesAdd"]["userErrors"],
        json!([{ "field": ["lines", "0", "quantity"], "code": "INVALID" }])
    );
}

#[actix_web::test]
async fn order_lines_keep_their_snapshot_when_the_variant_is_archived() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let ada = app.register("ada@example.com").await;
    let (variant, price) = a_variant(&app, 3).await;
    set_stock(&app, &variant, 10).await;
    let cart = cart_with(&app, Some(&ada.token), &variant, 2).await;
    let placed = checkout(&app, Some(&ada.token), &cart, "archived-later").await;
    let sku = placed["data"]["checkoutComplete"]["order"]["lines"][0]["sku"].clone();
    assert!(sku.is_string(), "{placed}");

    let archived = app
        .data_as(
            &staff.token,
            "mutation($id: ID!) { variantArchive(id: $id) { userErrors { code } } }",
            json!({ "id": variant }),
        )
        .await;
    assert_eq!(archived["variantArchive"]["userErrors"], json!([]));

    let with_variant = "{ orders(first: 5) { edges { node { lines { sku quantity
        unitPrice { minorUnits } variant { sku product { name } } } } } } }";
    let lines = |data: &Value| data["orders"]["edges"][0]["node"]["lines"].clone();
    // The customer still sees what was bought; the variant itself is hidden from the storefront.
    let customer_view = app.data_as(&ada.token, with_variant, json!({})).await;
    assert_eq!(
        lines(&customer_view),
        json!([{ "sku": sku, "quantity": 2, "unitPrice": { "minorUnits": price },
                 "variant": null }])
    );
    let snapshot_only = app
        .data_as(
            &ada.token,
            "{ orders(first: 5) { edges { node { lines { sku quantity } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        lines(&snapshot_only),
        json!([{ "sku": sku, "quantity": 2 }])
    );
    // Staff see the archived variant and its product.
    let staff_view = app.data_as(&staff.token, with_variant, json!({})).await;
    let staff_lines = lines(&staff_view);
    assert_eq!(staff_lines[0]["variant"]["sku"], sku, "{staff_view}");
    assert!(staff_lines[0]["variant"]["product"]["name"].is_string());
}

#[actix_web::test]
async fn a_cart_opens_with_its_lines_and_each_step_takes_few_statements() {
    let app = spawn_app().await;
    let (first, first_price) = a_variant(&app, 2).await;
    let (second, second_price) = a_variant(&app, 3).await;
    let create = "mutation($lines: [CartLineInput!]!) { cartCreate(input: { lines: $lines }) {
        cart { id lines { sku quantity } totals { subtotal { minorUnits } } }
        userErrors { field code } } }";

    // Two entries for one variant add up, as two cartLinesAdd calls would.
    let lines =
        json!([{ "variantId": first, "quantity": 2 }, { "variantId": first, "quantity": 1 }]);
    let created = app.graphql(create, json!({ "lines": lines })).await;
    let payload = &created["data"]["cartCreate"];
    assert_eq!(payload["userErrors"], json!([]), "{created}");
    assert_eq!(payload["cart"]["lines"].as_array().unwrap().len(), 1);
    assert_eq!(payload["cart"]["lines"][0]["quantity"], 3);
    assert_eq!(
        payload["cart"]["totals"]["subtotal"]["minorUnits"],
        3 * first_price
    );
    // BEGIN, the cart, a line for each entry, the lines read back, the shop's zones, COMMIT.
    assert_eq!(statements(&created), 7, "{created}");
    let cart = payload["cart"]["id"].as_str().unwrap().to_owned();

    let add = "mutation($cart: ID!, $lines: [CartLineInput!]!) { cartLinesAdd(cartId: $cart, lines: $lines) {
        cart { lines { quantity } totals { subtotal { minorUnits } } } userErrors { field code } } }";
    let added = app
        .graphql(
            add,
            json!({ "cart": cart, "lines": [{ "variantId": second, "quantity": 1 }] }),
        )
        .await;
    let payload = &added["data"]["cartLinesAdd"];
    assert_eq!(payload["userErrors"], json!([]), "{added}");
    assert_eq!(
        payload["cart"]["totals"]["subtotal"]["minorUnits"],
        3 * first_price + second_price
    );
    // BEGIN, the cart with the shop's zones, its row locked, the line, the lines, COMMIT.
    assert_eq!(statements(&added), 6, "{added}");
    let read = app
        .graphql(
            "query($cart: ID!) { cart(id: $cart) { totals { total { minorUnits } } lines { quantity } } }",
            json!({ "cart": cart }),
        )
        .await;
    assert_eq!(statements(&read), 2, "{read}");
    let opened = app
        .graphql(
            "mutation { cartCreate { cart { id itemCount } } }",
            json!({}),
        )
        .await;
    assert_eq!(opened["data"]["cartCreate"]["cart"]["itemCount"], 0);
    assert_eq!(statements(&opened), 2, "{opened}");

    // A line past 99 units, in one call or across two entries, is refused at the entry that
    // passes it; the cart stays as it was.
    let over = app
        .graphql(
            add,
            json!({ "cart": cart, "lines": [
                { "variantId": second, "quantity": 50 }, { "variantId": second, "quantity": 49 }] }),
        )
        .await;
    assert_eq!(
        over["data"]["cartLinesAdd"]["userErrors"],
        json!([{ "field": ["lines", "1", "quantity"], "code": "INVALID" }]),
        "{over}"
    );
    let after = app.data(
        "query($cart: ID!) { cart(id: $cart) { lines { quantity } } }",
        json!({ "cart": cart }),
    );
    assert_eq!(
        after.await["cart"]["lines"],
        json!([{ "quantity": 3 }, { "quantity": 1 }])
    );

    // A variant that is not for sale is refused where it is named, and no cart is opened.
    let missing = format!("{}999999", first.trim_end_matches(char::is_numeric));
    let refused = app
        .graphql(
            create,
            json!({ "lines": [{ "variantId": second, "quantity": 1 }, { "variantId": missing, "quantity": 1 }] }),
        )
        .await;
    assert_eq!(
        refused["data"]["cartCreate"],
        json!({ "cart": null, "userErrors": [
            { "field": ["input", "lines", "1", "variantId"], "code": "UNAVAILABLE" }] }),
        "{refused}"
    );
    let carts = app
        .db
        .run(|conn| {
            use bazaar::db::schema::carts;
            use diesel::prelude::*;
            Ok(carts::table.count().get_result::<i64>(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(carts, 2, "the refused cart was not kept");
}
