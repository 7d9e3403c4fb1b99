//! Finding orders and customers: staff search orders by number, email, status, date range and
//! total; `order(number:)` opens an order for its customer and staff only; customers carry their
//! order count and what they spent, read in a constant number of statements.

use serde_json::{Value, json};

use crate::commerce::{a_variant, address, cart_with, set_stock};
use crate::helpers::{ApiClient, TestApp, error_codes, spawn_app, statements};

/// An order placed by `session` with `email`, of `quantity` units of `variant`: its id,
/// number and total (decimal, and in minor units).
struct Placed {
    id: String,
    number: String,
    total: String,
    total_minor: i64,
}

async fn place(
    app: &ApiClient,
    session: &str,
    variant: &str,
    quantity: i32,
    email: &str,
) -> Placed {
    let cart = cart_with(app, Some(session), variant, quantity).await;
    let placed = app
        .data_as(
            session,
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                order { id number totals { total { amount minorUnits } } }
                userErrors { field message code } } }",
            json!({ "input": { "cartId": cart, "email": email, "shippingAddress": address(),
                               "idempotencyKey": format!("{email}-{quantity}") } }),
        )
        .await;
    let payload = &placed["checkoutComplete"];
    assert_eq!(payload["userErrors"], json!([]), "{placed}");
    let order = &payload["order"];
    Placed {
        id: order["id"].as_str().unwrap().to_owned(),
        number: order["number"].as_str().unwrap().to_owned(),
        total: order["totals"]["total"]["amount"]
            .as_str()
            .unwrap()
            .to_owned(),
        total_minor: order["totals"]["total"]["minorUnits"].as_i64().unwrap(),
    }
}

/// Ada's three orders of 1, 2 and 3 units: the second paid, the third cancelled.
async fn adas_orders(app: &TestApp, ada: &str) -> [Placed; 3] {
    let (variant, _) = a_variant(app, 0).await;
    set_stock(app, &variant, 100).await;
    let first = place(app, ada, &variant, 1, "Ada@Example.com").await;
    let second = place(app, ada, &variant, 2, "Ada@Example.com").await;
    let third = place(app, ada, &variant, 3, "Ada@Example.com").await;
    let paid = app
        .data_as(
            ada,
            "mutation($id: ID!) { orderPay(id: $id, paymentToken: \"tok_success\",
                idempotencyKey: \"pay-2\") { order { status } userErrors { code } } }",
            json!({ "id": second.id }),
        )
        .await;
    assert_eq!(paid["orderPay"]["order"]["status"], "PAID", "{paid}");
    let cancelled = app
        .data_as(
            ada,
            "mutation($id: ID!) { orderCancel(id: $id) { order { status } userErrors { code } } }",
            json!({ "id": third.id }),
        )
        .await;
    assert_eq!(
        cancelled["orderCancel"]["order"]["status"], "CANCELLED",
        "{cancelled}"
    );
    [first, second, third]
}

const SEARCH: &str = "query($where: OrdersWhere) {
    orders(first: 50, where: $where) { edges { node { id number email status } } } }";

/// The numbers of the orders `session` finds with `filter`.
async fn found(app: &ApiClient, session: &str, filter: Value) -> Vec<String> {
    let data = app
        .data_as(session, SEARCH, json!({ "where": filter }))
        .await;
    data["orders"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{data}"))
        .iter()
        .map(|edge| edge["node"]["number"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn staff_find_orders_by_number_email_status_placing_time_and_total() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await.token;
    let [first, second, third] = adas_orders(&app, &ada).await;
    assert!(first.total_minor < second.total_minor && second.total_minor < third.total_minor);
    let staff = app
        .account_with_role("clerk@example.com", "STAFF")
        .await
        .token;
    let numbers =
        |orders: &[&Placed]| -> Vec<String> { orders.iter().map(|o| o.number.clone()).collect() };
    let email = "  ADA@example.COM ";

    // Newest first, as every order list.
    assert_eq!(
        found(&app, &staff, json!({ "email": email })).await,
        numbers(&[&third, &second, &first])
    );
    assert_eq!(
        found(&app, &staff, json!({ "email": email, "status": "PAID" })).await,
        numbers(&[&second])
    );
    assert_eq!(
        found(&app, &staff, json!({ "number": first.number })).await,
        numbers(&[&first])
    );
    assert_eq!(
        found(
            &app,
            &staff,
            json!({ "number": first.number.trim_start_matches('#') })
        )
        .await,
        numbers(&[&first])
    );
    assert_eq!(
        found(&app, &staff, json!({ "number": "#99999999" })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(
            &app,
            &staff,
            json!({ "email": email, "totalAtLeast": second.total })
        )
        .await,
        numbers(&[&third, &second])
    );
    assert_eq!(
        found(
            &app,
            &staff,
            json!({ "email": email, "totalAtMost": second.total, "totalAtLeast": second.total })
        )
        .await,
        numbers(&[&second])
    );
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let in_an_hour = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(
        found(
            &app,
            &staff,
            json!({ "email": email, "placedFrom": hour_ago, "placedBefore": in_an_hour })
        )
        .await,
        numbers(&[&third, &second, &first])
    );
    assert_eq!(
        found(
            &app,
            &staff,
            json!({ "email": email, "placedFrom": in_an_hour })
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(
            &app,
            &staff,
            json!({ "email": email, "placedBefore": hour_ago })
        )
        .await,
        Vec::<String>::new()
    );

    // A customer's search stays within their own orders.
    let bob = app.register("bob@example.com").await.token;
    assert_eq!(
        found(&app, &bob, json!({ "number": first.number })).await,
        Vec::<String>::new()
    );
    assert_eq!(
        found(&app, &ada, json!({ "number": first.number })).await,
        numbers(&[&first])
    );

    // Malformed numbers and amounts are the caller's error, said in a few words.
    for filter in [
        json!({ "number": "#10x2" }),
        json!({ "number": "#1000" }),
        json!({ "totalAtLeast": "1.234" }),
        json!({ "totalAtMost": "ten" }),
    ] {
        let answer = app
            .graphql_as(Some(&staff), SEARCH, json!({ "where": filter }))
            .await;
        assert_eq!(error_codes(&answer), ["BAD_USER_INPUT"], "{answer}");
        let message = answer["errors"][0]["message"].as_str().unwrap();
        assert!(message.len() < 120, "{message}");
    }
}

const BY_NUMBER: &str = "query($number: String!) { order(number: $number) { id number status } }";

#[actix_web::test]
async fn an_order_by_number_opens_for_its_customer_and_staff_only() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await.token;
    let [first, ..] = adas_orders(&app, &ada).await;
    let bob = app.register("bob@example.com").await.token;
    let staff = app
        .account_with_role("clerk@example.com", "STAFF")
        .await
        .token;
    let number = json!({ "number": first.number });

    let own = app.data_as(&ada, BY_NUMBER, number.clone()).await;
    assert_eq!(own["order"]["id"], json!(first.id));
    let bare = app
        .data_as(
            &staff,
            BY_NUMBER,
            json!({ "number": first.number.trim_start_matches('#') }),
        )
        .await;
    assert_eq!(bare["order"]["id"], json!(first.id));
    let other = app.data_as(&bob, BY_NUMBER, number.clone()).await;
    assert_eq!(other["order"], Value::Null);
    let unknown = app
        .data_as(&staff, BY_NUMBER, json!({ "number": "#987654" }))
        .await;
    assert_eq!(unknown["order"], Value::Null);

    let anonymous = app.graphql(BY_NUMBER, number).await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"], "{anonymous}");
    let malformed = app
        .graphql_as(Some(&staff), BY_NUMBER, json!({ "number": "order 12" }))
        .await;
    assert_eq!(error_codes(&malformed), ["BAD_USER_INPUT"], "{malformed}");
}

const CUSTOMERS: &str = "query($first: Int!, $where: CustomersWhere) {
    customers(first: $first, where: $where) {
        edges { node { email orderCount totalSpent { minorUnits currencyCode } } } } }";

#[actix_web::test]
async fn customers_carry_their_order_count_and_spending_in_constant_statements() {
    let app = spawn_app().await;
    let ada = app.register("ada@example.com").await.token;
    let [_, second, _] = adas_orders(&app, &ada).await;
    let staff = app
        .account_with_role("clerk@example.com", "STAFF")
        .await
        .token;

    let ada_row = app
        .data_as(
            &staff,
            CUSTOMERS,
            json!({ "first": 5, "where": { "search": "ada@example" } }),
        )
        .await;
    let node = &ada_row["customers"]["edges"][0]["node"];
    assert_eq!(node["email"], "ada@example.com");
    // Three placed; only the paid one's money was kept (the first is unpaid, the third
    // cancelled).
    assert_eq!(node["orderCount"], 3);
    assert_eq!(node["totalSpent"]["minorUnits"], second.total_minor);

    // The customer sees the same on their own account; a new account has nothing.
    let me = app
        .data_as(
            &ada,
            "{ me { orderCount totalSpent { minorUnits } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["orderCount"], 3);
    let bob = app.register("bob@example.com").await.token;
    let fresh = app
        .data_as(
            &bob,
            "{ me { orderCount totalSpent { minorUnits } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        fresh["me"],
        json!({ "orderCount": 0, "totalSpent": { "minorUnits": 0 } })
    );

    // One statement for every account's figures, however many accounts the page holds.
    for n in 0..10 {
        app.register(&format!("shopper{n}@example.com")).await;
    }
    let mut counts = Vec::new();
    for first in [2, 12] {
        let page = app
            .graphql_as(Some(&staff), CUSTOMERS, json!({ "first": first }))
            .await;
        let edges = page["data"]["customers"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first as usize, "{page}");
        counts.push(statements(&page));
    }
    assert_eq!(counts[0], counts[1], "{counts:?}");
}
