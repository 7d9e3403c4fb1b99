//! Money for real, with the built-in test gateway: guest orders followed, paid and cancelled
//! with their access token; payments whose answer is lost settle exactly once; a charge that
//! lands on a cancelled order is refunded; unpaid orders expire once, also with two instances;
//! idempotency keys belong to their owner; production refuses to take test payments.

use std::sync::Arc;

use bazaar::services::orders;
use bazaar::services::payments::flow;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::commerce::{a_variant, address, cart_with, set_stock, stock_of};
use crate::helpers::{ApiClient, TestApp, error_codes, spawn_app, spawn_app_with};

const PAY: &str = "mutation($id: ID!, $method: String!, $key: String!, $token: String) {
    orderPay(id: $id, paymentToken: $method, idempotencyKey: $key, accessToken: $token) {
        order { id status events { type fromStatus toStatus } }
        payment { kind status amount { minorUnits } }
        nextAction { clientSecret }
        userErrors { field message code } } }";

const CANCEL: &str = "mutation($id: ID!, $token: String) {
    orderCancel(id: $id, accessToken: $token) {
        order { id status } userErrors { message code } } }";

/// Checks a cart out; returns the payload.
async fn place(app: &ApiClient, token: Option<&str>, cart: &str, key: &str, email: &str) -> Value {
    let response = app
        .graphql_as(
            token,
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                order { id number status totals { total { minorUnits } } }
                orderAccessToken userErrors { field message code } } }",
            json!({ "input": { "cartId": cart, "email": email, "shippingAddress": address(),
                               "idempotencyKey": key } }),
        )
        .await;
    response["data"]["checkoutComplete"].clone()
}

/// A sellable variant with 100 units in stock.
async fn stocked_variant(app: &TestApp, index: usize) -> String {
    let (variant, _) = a_variant(app, index).await;
    set_stock(app, &variant, 100).await;
    variant
}

/// A guest order of `quantity` units of the first sellable variant: (order id, access token).
async fn guest_order(app: &TestApp, quantity: i32, key: &str) -> (String, String) {
    let variant = stocked_variant(app, 0).await;
    let cart = cart_with(app, None, &variant, quantity).await;
    let placed = place(app, None, &cart, key, "guest@example.com").await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    (
        placed["order"]["id"].as_str().unwrap().to_owned(),
        placed["orderAccessToken"].as_str().unwrap().to_owned(),
    )
}

async fn pay(
    app: &ApiClient,
    session: Option<&str>,
    order: &str,
    method: &str,
    key: &str,
    access_token: Option<&str>,
) -> Value {
    let response = app
        .graphql_as(
            session,
            PAY,
            json!({ "id": order, "method": method, "key": key, "token": access_token }),
        )
        .await;
    response["data"]["orderPay"].clone()
}

fn status(payload: &Value) -> &str {
    payload["order"]["status"].as_str().unwrap_or("")
}

#[actix_web::test]
async fn a_guest_follows_pays_and_cancels_their_order_with_its_token_and_nobody_else_can() {
    let app = spawn_app().await;
    let (order, token) = guest_order(&app, 1, "guest-1").await;
    assert!(token.starts_with("bzo_") && token.len() > 40, "{token}");

    // The confirmation mail carries the link with the token.
    let mail = app.mailer.sent();
    let confirmation = mail
        .iter()
        .find(|m| m.to == "guest@example.com")
        .expect("a confirmation mail");
    assert!(confirmation.body.contains(&token), "{}", confirmation.body);

    // Read with the token; an unknown token reads nothing.
    let read = "query($t: String!) { orderByToken(token: $t) { id status email } }";
    let found = app.data(read, json!({ "t": token })).await;
    assert_eq!(found["orderByToken"]["id"], order);
    let unknown = app.data(read, json!({ "t": "bzo_nope" })).await;
    assert_eq!(unknown["orderByToken"], Value::Null);

    // Nobody else pays or cancels it: anonymous without the token, a wrong token, another
    // customer's session.
    let anonymous = app
        .graphql(
            PAY,
            json!({ "id": order, "method": "tok_success", "key": "k" }),
        )
        .await;
    assert_eq!(error_codes(&anonymous), ["UNAUTHENTICATED"], "{anonymous}");
    let wrong = pay(&app, None, &order, "tok_success", "k", Some("bzo_wrong")).await;
    assert_eq!(wrong["userErrors"][0]["code"], "NOT_FOUND", "{wrong}");
    let stranger = app.register("stranger@example.com").await;
    let theirs = pay(
        &app,
        Some(&stranger.token),
        &order,
        "tok_success",
        "k",
        None,
    )
    .await;
    assert_eq!(theirs["userErrors"][0]["code"], "NOT_FOUND", "{theirs}");
    let cancel_by_stranger = app
        .graphql_as(Some(&stranger.token), CANCEL, json!({ "id": order }))
        .await;
    assert_eq!(
        cancel_by_stranger["data"]["orderCancel"]["userErrors"][0]["code"],
        "NOT_FOUND"
    );
    assert!(app.gateway.money_moved().is_empty());

    // The guest pays with the token.
    let paid = pay(&app, None, &order, "tok_success", "k", Some(&token)).await;
    assert_eq!(paid["userErrors"], json!([]), "{paid}");
    assert_eq!(status(&paid), "PAID");
    assert_eq!(app.gateway.money_moved().len(), 1);

    // A second guest order, cancelled by its guest: the stock comes back.
    let variant = stocked_variant(&app, 1).await;
    let before = stock_of(&app, &variant).await;
    let cart = cart_with(&app, None, &variant, 2).await;
    let placed = place(&app, None, &cart, "guest-2", "guest@example.com").await;
    let (second, second_token) = (
        placed["order"]["id"].as_str().unwrap(),
        placed["orderAccessToken"].as_str().unwrap(),
    );
    assert_eq!(stock_of(&app, &variant).await, before - 2);
    let cancelled = app
        .graphql(CANCEL, json!({ "id": second, "token": second_token }))
        .await;
    assert_eq!(
        cancelled["data"]["orderCancel"]["order"]["status"],
        "CANCELLED"
    );
    assert_eq!(stock_of(&app, &variant).await, before);
}

/// The verification code mailed to `to` (waits for the server's background mail task).
async fn verification_code_mailed_to(app: &TestApp, to: &str) -> String {
    for _ in 0..100 {
        let code = app.mailer.sent().into_iter().rev().find_map(|mail| {
            (mail.to == to && mail.subject == "Confirm your email").then(|| {
                mail.body
                    .lines()
                    .find_map(|line| line.strip_prefix("Your confirmation code: "))
                    .expect("the mail carries the code")
                    .trim()
                    .to_owned()
            })
        });
        if let Some(code) = code {
            return code;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no verification mail to {to}");
}

/// Marks the account of `email` unverified, behind the API.
async fn unverify(app: &TestApp, email: &'static str) {
    use bazaar::db::schema::users;
    use diesel::prelude::*;
    app.db
        .run(move |conn| {
            diesel::update(users::table.filter(users::email.eq(email)))
                .set(users::email_verified_at.eq(None::<chrono::NaiveDateTime>))
                .execute(conn)?;
            Ok(())
        })
        .await
        .expect("unverify");
}

#[actix_web::test]
async fn guest_orders_join_the_account_that_verifies_their_email() {
    let app = spawn_app().await;
    let variant = stocked_variant(&app, 0).await;
    let my_orders = "{ me { emailVerified } orders(first: 10) { edges { node { id } } } }";
    let ids = |data: &Value| -> Vec<Value> {
        data["orders"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["node"]["id"].clone())
            .collect()
    };

    // An account whose email is not verified (made before sign-ups were confirmed by mail, or
    // by staff): someone typing another's email gets nothing.
    let ada = app.register("ada@example.com").await;
    unverify(&app, "ada@example.com").await;
    let cart = cart_with(&app, None, &variant, 1).await;
    let before = place(&app, None, &cart, "before-verify", "ada@example.com").await;
    let before_id = before["order"]["id"].clone();
    let unverified = app.data_as(&ada.token, my_orders, json!({})).await;
    assert_eq!(unverified["me"]["emailVerified"], false);
    assert!(ids(&unverified).is_empty());
    let signed_in = app.login("ada@example.com", crate::helpers::PASSWORD).await;
    let session = signed_in["data"]["login"]["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ids(&app.data_as(&session, my_orders, json!({})).await).is_empty());

    let verify = "mutation($t: String!) { accountEmailVerify(token: $t) {
        account { email emailVerified } adoptedOrders userErrors { field code } } }";
    let wrong = app.data(verify, json!({ "t": "bzv_wrong" })).await;
    assert_eq!(
        wrong["accountEmailVerify"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
    let huge = app.data(verify, json!({ "t": "x".repeat(5_000) })).await;
    assert_eq!(
        huge["accountEmailVerify"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );
    app.data_as(
        &ada.token,
        "mutation { accountEmailVerificationRequest { userErrors { code } } }",
        json!({}),
    )
    .await;
    let code = verification_code_mailed_to(&app, "ada@example.com").await;
    let verified = app.data(verify, json!({ "t": code })).await;
    assert_eq!(
        verified["accountEmailVerify"]["userErrors"],
        json!([]),
        "{verified}"
    );
    assert_eq!(
        verified["accountEmailVerify"]["account"]["emailVerified"],
        true
    );
    assert_eq!(verified["accountEmailVerify"]["adoptedOrders"], 1);
    assert_eq!(
        ids(&app.data_as(&ada.token, my_orders, json!({})).await),
        std::slice::from_ref(&before_id)
    );
    let again = app.data(verify, json!({ "t": code })).await;
    assert_eq!(
        again["accountEmailVerify"]["userErrors"][0]["code"],
        "INVALID_TOKEN"
    );

    // A guest order placed later joins at the next sign-in; another customer never sees them.
    let cart = cart_with(&app, None, &variant, 1).await;
    let after = place(&app, None, &cart, "after-verify", "ada@example.com").await;
    app.login("ada@example.com", crate::helpers::PASSWORD).await;
    let mine = ids(&app.data_as(&ada.token, my_orders, json!({})).await);
    assert_eq!(mine, [after["order"]["id"].clone(), before_id]);
    let bob = app.register("bob@example.com").await;
    assert!(ids(&app.data_as(&bob.token, my_orders, json!({})).await).is_empty());

    // A verified account asks for no more links.
    let mails = app.mailer.sent().len();
    let request = app
        .data_as(
            &ada.token,
            "mutation { accountEmailVerificationRequest { account { emailVerified } userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        request["accountEmailVerificationRequest"]["account"]["emailVerified"],
        true
    );
    actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(app.mailer.sent().len(), mails);

    // A sign-up confirmed by mail proves the email: its guest orders are its own at once.
    let cart = cart_with(&app, None, &variant, 1).await;
    let guest = place(&app, None, &cart, "before-signup", "carol@example.com").await;
    let carol = app.register("carol@example.com").await;
    assert_eq!(
        ids(&app.data_as(&carol.token, my_orders, json!({})).await),
        [guest["order"]["id"].clone()]
    );
}

#[actix_web::test]
async fn a_payment_whose_answer_is_lost_stays_pending_and_settles_once_on_retry() {
    let app = spawn_app().await;
    let (order, token) = guest_order(&app, 1, "lost-1").await;
    let lost = pay(&app, None, &order, "tok_timeout", "pay-1", Some(&token)).await;
    assert_eq!(lost["userErrors"], json!([]), "{lost}");
    assert_eq!(lost["payment"]["status"], "PENDING");
    assert_eq!(status(&lost), "PENDING_PAYMENT");
    // The money moved at the gateway, though nobody knows yet.
    assert_eq!(app.gateway.money_moved().len(), 1);

    // Another key is refused while the first attempt is unsettled: no second charge.
    let other = pay(&app, None, &order, "tok_success", "pay-2", Some(&token)).await;
    assert_eq!(
        other["userErrors"][0]["code"], "INVALID_TRANSITION",
        "{other}"
    );

    // The same key with another payment method is a different request.
    let reused = pay(&app, None, &order, "tok_success", "pay-1", Some(&token)).await;
    assert_eq!(
        reused["userErrors"][0]["code"], "IDEMPOTENCY_KEY_REUSED",
        "{reused}"
    );

    // Retries with the same key (several at once) ask again with the same key and settle it.
    let retries =
        join_all((0..5).map(|_| pay(&app, None, &order, "tok_timeout", "pay-1", Some(&token))))
            .await;
    for retry in &retries {
        assert_eq!(retry["userErrors"], json!([]), "{retry}");
        assert_eq!(retry["payment"]["status"], "SUCCEEDED", "{retry}");
        assert_eq!(status(retry), "PAID");
    }
    assert_eq!(app.gateway.money_moved().len(), 1, "charged exactly once");
    let paid_events = retries[0]["order"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "PAID")
        .count();
    assert_eq!(paid_events, 1);
}

#[actix_web::test]
async fn a_charge_that_lands_after_a_cancel_is_refunded_and_the_stock_comes_back() {
    let app = spawn_app().await;
    let variant = stocked_variant(&app, 0).await;
    let before = stock_of(&app, &variant).await;
    let cart = cart_with(&app, None, &variant, 3).await;
    let placed = place(&app, None, &cart, "late-1", "late@example.com").await;
    let order = placed["order"]["id"].as_str().unwrap();
    let token = placed["orderAccessToken"].as_str().unwrap();

    // The charge goes through, but its answer is lost; meanwhile the guest cancels.
    let lost = pay(&app, None, order, "tok_timeout", "late-pay", Some(token)).await;
    assert_eq!(lost["payment"]["status"], "PENDING", "{lost}");
    let cancelled = app
        .graphql(CANCEL, json!({ "id": order, "token": token }))
        .await;
    assert_eq!(
        cancelled["data"]["orderCancel"]["order"]["status"],
        "CANCELLED"
    );
    assert_eq!(stock_of(&app, &variant).await, before);

    // The reconcile job learns that the charge succeeded and pays it back.
    flow::make_all_due(&app.db).await.unwrap();
    let gateway: Arc<dyn bazaar::services::payments::PaymentGateway> =
        Arc::new(app.gateway.clone());
    flow::reconcile_due(&app.db, &gateway).await.unwrap();
    let moved = app.gateway.money_moved();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(moved.iter().map(|(_, amount)| amount).sum::<i64>(), 0);

    let read = app
        .data(
            "query($t: String!) { orderByToken(token: $t) { status totalRefunded { minorUnits }
                payments { kind status } events { type fromStatus toStatus } } }",
            json!({ "t": token }),
        )
        .await;
    let order = &read["orderByToken"];
    assert_eq!(order["status"], "CANCELLED");
    // The automatic refund paid back a charge that never paid for the order.
    assert_eq!(order["totalRefunded"]["minorUnits"], 0);
    assert_eq!(
        order["payments"],
        json!([{ "kind": "CHARGE", "status": "SUCCEEDED" }, { "kind": "REFUND", "status": "SUCCEEDED" }])
    );
    assert!(
        order["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "PAYMENT_REVERSED"),
        "{order}"
    );
    // Running the job again changes nothing.
    flow::make_all_due(&app.db).await.unwrap();
    assert_eq!(flow::reconcile_due(&app.db, &gateway).await.unwrap(), 0);
    assert_eq!(app.gateway.money_moved().len(), 2);
    assert_eq!(stock_of(&app, &variant).await, before);
}

#[actix_web::test]
async fn a_refused_payment_fails_at_once_and_may_be_tried_again_with_a_new_key() {
    let app = spawn_app().await;
    let (order, token) = guest_order(&app, 1, "refused-1").await;
    let failed = pay(&app, None, &order, "tok_error", "r-1", Some(&token)).await;
    assert_eq!(
        failed["userErrors"][0]["code"], "PAYMENT_FAILED",
        "{failed}"
    );
    let again = pay(&app, None, &order, "tok_error", "r-1", Some(&token)).await;
    assert_eq!(
        again["userErrors"][0]["code"], "PAYMENT_FAILED",
        "same key, same answer"
    );
    let declined = pay(&app, None, &order, "tok_decline", "r-2", Some(&token)).await;
    assert_eq!(
        declined["userErrors"][0]["code"], "PAYMENT_DECLINED",
        "{declined}"
    );
    // Hostile keys and tokens are refused, never stored (PostgreSQL refuses NUL in text): a
    // control character or a string past 64 KiB by the rule every string obeys, before anything
    // runs (BAD_USER_INPUT); a key or token too long for its field as a user error.
    let long_key = "k".repeat(201);
    let huge_key = "k".repeat(200_000);
    for (method, key, expected) in [
        ("tok_success", "nul\u{0}key", "BAD_USER_INPUT"),
        ("tok\u{0}success", "r-nul", "BAD_USER_INPUT"),
        ("tok_success", huge_key.as_str(), "BAD_USER_INPUT"),
        ("tok_success", long_key.as_str(), "INVALID"),
        ("", "r-empty", "INVALID"),
    ] {
        let response = app
            .graphql(
                PAY,
                json!({ "id": order, "method": method, "key": key, "token": token }),
            )
            .await;
        let code = match error_codes(&response).first() {
            Some(code) => code.clone(),
            None => response["data"]["orderPay"]["userErrors"][0]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        };
        assert_eq!(code, expected, "{response}");
        assert!(response.to_string().len() < 2_000, "input not echoed back");
    }
    let paid = pay(&app, None, &order, "tok_success", "r-3", Some(&token)).await;
    assert_eq!(status(&paid), "PAID", "{paid}");
    assert_eq!(app.gateway.money_moved().len(), 1);
}

#[actix_web::test]
async fn an_order_with_nothing_to_pay_is_paid_without_asking_the_provider() {
    let app = spawn_app_with(1, &["--shipping-flat-rate", "0"]).await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    app.data_as(
        &staff.token,
        "mutation { discountCodeCreate(input: { code: \"FREE\", kind: PERCENTAGE, value: \"100\" }) { userErrors { code } } }",
        json!({}),
    )
    .await;
    let variant = stocked_variant(&app, 0).await;
    let cart = cart_with(&app, None, &variant, 1).await;
    app.data(
        "mutation($cart: ID!) { cartDiscountCodeApply(cartId: $cart, code: \"FREE\") { userErrors { code } } }",
        json!({ "cart": cart }),
    )
    .await;
    let placed = place(&app, None, &cart, "free-1", "free@example.com").await;
    assert_eq!(
        placed["order"]["totals"]["total"]["minorUnits"], 0,
        "{placed}"
    );
    let order = placed["order"]["id"].as_str().unwrap();
    let token = placed["orderAccessToken"].as_str().unwrap();
    let paid = pay(&app, None, order, "tok_decline", "free-pay", Some(token)).await;
    assert_eq!(paid["userErrors"], json!([]), "{paid}");
    assert_eq!(status(&paid), "PAID");
    assert_eq!(paid["payment"]["status"], "SUCCEEDED");
    assert!(app.gateway.money_moved().is_empty());
}

#[actix_web::test]
async fn checkout_keys_belong_to_their_owner() {
    let app = spawn_app().await;
    let variant = stocked_variant(&app, 0).await;
    let ada = app.register("ada@example.com").await;
    let bob = app.register("bob@example.com").await;
    let ada_cart = cart_with(&app, Some(&ada.token), &variant, 1).await;
    let bob_cart = cart_with(&app, Some(&bob.token), &variant, 1).await;
    let ada_order = place(
        &app,
        Some(&ada.token),
        &ada_cart,
        "same-key",
        "ada@example.com",
    )
    .await;
    let bob_order = place(
        &app,
        Some(&bob.token),
        &bob_cart,
        "same-key",
        "bob@example.com",
    )
    .await;
    assert_eq!(ada_order["userErrors"], json!([]), "{ada_order}");
    assert_eq!(bob_order["userErrors"], json!([]), "{bob_order}");
    assert_ne!(ada_order["order"]["id"], bob_order["order"]["id"]);
    // Two guests' carts with the same key are two orders too.
    let one = cart_with(&app, None, &variant, 1).await;
    let two = cart_with(&app, None, &variant, 1).await;
    let first = place(&app, None, &one, "guest-key", "g1@example.com").await;
    let second = place(&app, None, &two, "guest-key", "g2@example.com").await;
    assert_ne!(first["order"]["id"], second["order"]["id"]);
    // A retry is the same order, without the token again (it was shown once and mailed).
    let retry = place(
        &app,
        Some(&ada.token),
        &ada_cart,
        "same-key",
        "ada@example.com",
    )
    .await;
    assert_eq!(retry["order"]["id"], ada_order["order"]["id"]);
    assert_eq!(retry["orderAccessToken"], Value::Null);
}

#[actix_web::test]
async fn a_checkout_that_fails_leaves_no_order_stock_or_key_behind() {
    let app = spawn_app().await;
    let plenty = stocked_variant(&app, 0).await;
    let (scarce, _) = a_variant(&app, 1).await;
    set_stock(&app, &scarce, 5).await;
    let cart = cart_with(&app, None, &plenty, 2).await;
    app.data(
        "mutation($cart: ID!, $v: ID!) { cartLinesAdd(cartId: $cart, lines: [{ variantId: $v, quantity: 3 }]) { userErrors { code } } }",
        json!({ "cart": cart, "v": scarce }),
    )
    .await;
    set_stock(&app, &scarce, 1).await;
    let short = place(&app, None, &cart, "short-1", "s@example.com").await;
    assert_eq!(short["userErrors"][0]["code"], "OUT_OF_STOCK", "{short}");
    assert_eq!(
        stock_of(&app, &plenty).await,
        100,
        "the first line's stock is untouched"
    );
    let before_retry: i64 = app
        .db
        .run(|conn| {
            use diesel::prelude::*;
            Ok(bazaar::db::schema::orders::table.count().get_result(conn)?)
        })
        .await
        .unwrap();
    // Once restocked, the same key places the order: nothing of the failed attempt was kept.
    set_stock(&app, &scarce, 3).await;
    let placed = place(&app, None, &cart, "short-1", "s@example.com").await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let after: i64 = app
        .db
        .run(|conn| {
            use diesel::prelude::*;
            Ok(bazaar::db::schema::orders::table.count().get_result(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(after, before_retry + 1);
    assert_eq!(stock_of(&app, &plenty).await, 98);
    assert_eq!(stock_of(&app, &scarce).await, 0);
}

#[actix_web::test]
async fn a_cancelled_order_gives_its_discount_use_back() {
    let app = spawn_app().await;
    let staff = app.account_with_role("staff@example.com", "STAFF").await;
    let created = app
        .data_as(
            &staff.token,
            "mutation { discountCodeCreate(input: { code: \"ONCE\", kind: PERCENTAGE, value: \"10\", usageLimit: 1 }) { code userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(created["discountCodeCreate"]["code"], "ONCE");
    let variant = stocked_variant(&app, 0).await;
    let apply = "mutation($cart: ID!) { cartDiscountCodeApply(cartId: $cart, code: \"ONCE\") { userErrors { code } } }";
    let first_cart = cart_with(&app, None, &variant, 1).await;
    app.data(apply, json!({ "cart": first_cart })).await;
    let first = place(&app, None, &first_cart, "d-1", "d@example.com").await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    let second_cart = cart_with(&app, None, &variant, 1).await;
    let used_up = app.data(apply, json!({ "cart": second_cart })).await;
    assert_eq!(
        used_up["cartDiscountCodeApply"]["userErrors"][0]["code"], "DISCOUNT_NOT_APPLICABLE",
        "{used_up}"
    );
    let cancelled = app
        .graphql(
            CANCEL,
            json!({ "id": first["order"]["id"], "token": first["orderAccessToken"] }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["orderCancel"]["order"]["status"],
        "CANCELLED"
    );
    let applied = app.data(apply, json!({ "cart": second_cart })).await;
    assert_eq!(applied["cartDiscountCodeApply"]["userErrors"], json!([]));
    let again = place(&app, None, &second_cart, "d-3", "d@example.com").await;
    assert_eq!(again["userErrors"], json!([]), "{again}");
}

#[actix_web::test]
async fn guest_checkouts_are_limited_per_address() {
    let app = spawn_app_with(
        1,
        &["--guest-checkouts-per-hour", "3", "--rate-limits", "true"],
    )
    .await;
    let variant = stocked_variant(&app, 0).await;
    for attempt in 0..3 {
        let cart = cart_with(&app, None, &variant, 1).await;
        let placed = place(&app, None, &cart, &format!("g-{attempt}"), "g@example.com").await;
        assert_eq!(placed["userErrors"], json!([]), "{placed}");
    }
    let cart = cart_with(&app, None, &variant, 1).await;
    let refused = app
        .graphql(
            "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) { order { id } } }",
            json!({ "input": { "cartId": cart, "email": "g@example.com",
                               "shippingAddress": address(), "idempotencyKey": "g-4" } }),
        )
        .await;
    assert_eq!(error_codes(&refused), ["RATE_LIMITED"], "{refused}");
    // A signed-in customer is not a guest.
    let ada = app.register("ada@example.com").await;
    let cart = cart_with(&app, Some(&ada.token), &variant, 1).await;
    let placed = place(&app, Some(&ada.token), &cart, "a-1", "ada@example.com").await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
}

/// Orders placed now expire once the cut-off is in the future.
fn cutoff_after_now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc() + chrono::Duration::minutes(1)
}

#[actix_web::test]
async fn fifty_unpaid_orders_across_two_instances_expire_once_and_return_their_stock_once() {
    let app = spawn_app().await;
    let gateway: Arc<dyn bazaar::services::payments::PaymentGateway> =
        Arc::new(app.gateway.clone());
    let second = app.another_instance(&[], gateway).await;
    let (variant, _) = a_variant(&app, 0).await;
    set_stock(&app, &variant, 500).await;
    let mut orders = Vec::new();
    for index in 0..50 {
        let client: &ApiClient = if index % 2 == 0 { &app } else { &second };
        let cart = cart_with(client, None, &variant, 2).await;
        let placed = place(client, None, &cart, &format!("x-{index}"), "x@example.com").await;
        assert_eq!(placed["userErrors"], json!([]), "{placed}");
        orders.push(placed["orderAccessToken"].as_str().unwrap().to_owned());
    }
    // The reservations of all fifty run out now; one order's payment starts just after: it
    // keeps its stock.
    let cutoff = chrono::Utc::now().naive_utc();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let paying = &orders[0];
    let read = "query($t: String!) { orderByToken(token: $t) { id status events { type note } } }";
    let paying_id = app.data(read, json!({ "t": paying })).await["orderByToken"]["id"].clone();
    let lost = pay(
        &app,
        None,
        paying_id.as_str().unwrap(),
        "tok_timeout",
        "p",
        Some(paying),
    )
    .await;
    assert_eq!(lost["payment"]["status"], "PENDING");
    assert_eq!(stock_of(&app, &variant).await, 400);

    // Both instances sweep at once, several times over.
    let sweeps = join_all((0..4).map(|i| {
        let db = if i % 2 == 0 {
            app.db.clone()
        } else {
            second.db.clone()
        };
        async move { orders::expire_unpaid(&db, cutoff).await.unwrap() }
    }))
    .await;
    assert_eq!(
        sweeps.iter().sum::<usize>(),
        49,
        "each order expired once: {sweeps:?}"
    );
    assert_eq!(
        stock_of(&app, &variant).await,
        498,
        "stock returned once per order"
    );
    for token in &orders[1..] {
        let order = app.data(read, json!({ "t": token })).await;
        let order = &order["orderByToken"];
        assert_eq!(order["status"], "CANCELLED");
        let cancels: Vec<&Value> = order["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "CANCELLED")
            .collect();
        assert_eq!(cancels.len(), 1, "{order}");
        assert_eq!(cancels[0]["note"], "unpaid when its reservation ran out");
    }
    // A charge whose outcome is unknown holds the stock however long it takes (the money may
    // have moved); once settled, the order is paid and keeps it.
    let later = orders::expire_unpaid(&app.db, cutoff_after_now())
        .await
        .unwrap();
    assert_eq!(later, 0);
    flow::make_all_due(&app.db).await.unwrap();
    let settle_with: Arc<dyn bazaar::services::payments::PaymentGateway> =
        Arc::new(app.gateway.clone());
    flow::reconcile_due(&app.db, &settle_with).await.unwrap();
    let paid = app.data(read, json!({ "t": paying })).await;
    assert_eq!(paid["orderByToken"]["status"], "PAID");
    let after_paid = orders::expire_unpaid(&app.db, cutoff_after_now());
    assert_eq!(after_paid.await.unwrap(), 0);
    assert_eq!(stock_of(&app, &variant).await, 498);
}

#[test]
fn production_without_a_payment_provider_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("prod.db").display());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args([
            "serve",
            "--environment",
            "production",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("DATABASE_URL", &url)
        .env_remove("BAZAAR_PAYMENT_PROVIDER")
        .env_remove("BAZAAR_ALLOW_TEST_PAYMENTS")
        .output()
        .expect("run bazaar");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].contains("production needs a real payment provider"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("prod.db").exists(),
        "nothing touched before the check"
    );

    // Stripe without its keys is refused the same way.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_bazaar"))
        .env("BAZAAR_SEALING_KEYS", crate::helpers::TEST_SEALING_KEYS)
        .args([
            "serve",
            "--environment",
            "production",
            "--payment-provider",
            "stripe",
        ])
        .env("DATABASE_URL", &url)
        .env_remove("STRIPE_SECRET_KEY")
        .output()
        .expect("run bazaar");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("STRIPE_SECRET_KEY"));
}
