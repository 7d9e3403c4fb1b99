//! Bazaar taking payments through the Stripe adapter against `FakeStripe`: a charge whose answer
//! is lost is taken exactly once whatever the interleaving of client retries, webhooks
//! (duplicated, delayed) and reconcile runs; a charge landing after a cancel is refunded; 3-D
//! Secure settles by webhook; the webhook endpoint refuses what Stripe did not sign; refund
//! attempts stop at five.

use std::sync::Arc;
use std::time::Duration;

use bazaar::services::payments::stripe::StripeGateway;
use bazaar::services::payments::{PaymentGateway, flow};
use futures_util::future::join_all;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use crate::commerce::{a_variant, address, cart_with, set_stock, stock_of};
use crate::fake_stripe::{EventKind, FakeStripe, Fault, WEBHOOK_SECRET, payment_methods};
use crate::helpers::{TestApp, spawn_app_with_gateway};

/// The adapter's timeout in these tests: a fault answering later looks like a lost answer.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);

struct Shop {
    app: TestApp,
    fake: FakeStripe,
    gateway: Arc<dyn PaymentGateway>,
    variant: String,
}

async fn shop() -> Shop {
    let fake = FakeStripe::start();
    let gateway: Arc<dyn PaymentGateway> =
        Arc::new(StripeGateway::new(fake.config(CLIENT_TIMEOUT)).expect("a Stripe gateway"));
    let app = spawn_app_with_gateway(
        &["--stripe-webhook-secret", WEBHOOK_SECRET],
        gateway.clone(),
    )
    .await;
    let (variant, _) = a_variant(&app, 0).await;
    set_stock(&app, &variant, 10_000).await;
    Shop {
        app,
        fake,
        gateway,
        variant,
    }
}

impl Shop {
    /// A guest order: (global id, numeric id, access token).
    async fn order(&self, key: &str) -> (String, i64, String) {
        let cart = cart_with(&self.app, None, &self.variant, 1).await;
        let placed = self
            .app
            .data(
                "mutation($input: CheckoutInput!) { checkoutComplete(input: $input) {
                    order { id } orderAccessToken userErrors { code } } }",
                json!({ "input": { "cartId": cart, "email": "g@example.com",
                                   "shippingAddress": address(), "idempotencyKey": key } }),
            )
            .await;
        let id = placed["checkoutComplete"]["order"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let number = id.rsplit('/').next().unwrap().parse().unwrap();
        let token = placed["checkoutComplete"]["orderAccessToken"]
            .as_str()
            .unwrap()
            .to_owned();
        (id, number, token)
    }

    async fn pay(&self, order: &str, token: &str, method: &str, key: &str) -> Value {
        let response = self
            .app
            .graphql(
                "mutation($id: ID!, $m: String!, $k: String!, $t: String) {
                    orderPay(id: $id, paymentToken: $m, idempotencyKey: $k, accessToken: $t) {
                        order { status } payment { status } nextAction { clientSecret }
                        userErrors { code message } } }",
                json!({ "id": order, "m": method, "k": key, "t": token }),
            )
            .await;
        response["data"]["orderPay"].clone()
    }

    /// Posts a webhook body with its signature; the HTTP status.
    async fn deliver(&self, body: &str, signature: &str) -> u16 {
        let response = self
            .app
            .client()
            .post(format!("{}/webhooks/stripe", self.app.address))
            .insert_header(("Stripe-Signature", signature))
            .insert_header(("Content-Type", "application/json"))
            .send_body(body.to_owned())
            .await
            .expect("deliver the webhook");
        response.status().as_u16()
    }

    async fn reconcile(&self) {
        flow::make_all_due(&self.app.db).await.unwrap();
        flow::reconcile_due(&self.app.db, &self.gateway)
            .await
            .unwrap();
    }

    /// The order as its guest reads it.
    async fn read(&self, token: &str) -> Value {
        self.app
            .data(
                "query($t: String!) { orderByToken(token: $t) { status payments { kind status } } }",
                json!({ "t": token }),
            )
            .await["orderByToken"]
            .clone()
    }

    /// The PaymentIntents Stripe holds for the order.
    fn intents(&self, order: i64) -> Vec<String> {
        self.fake
            .intents_for_order(order)
            .iter()
            .map(|intent| intent["id"].as_str().unwrap().to_owned())
            .collect()
    }

    fn captured_for(&self, intents: &[String]) -> Vec<(String, i64)> {
        self.fake
            .captured()
            .into_iter()
            .filter(|(pi, _)| intents.contains(pi))
            .collect()
    }
}

/// One step a random interleaving may take.
#[derive(Debug, Clone, Copy)]
enum Step {
    RetrySameKey,
    RetryNewKey,
    WebhookSucceeded,
    WebhookRedelivered,
    Reconcile,
    Pause,
}

const STEPS: [Step; 6] = [
    Step::RetrySameKey,
    Step::RetryNewKey,
    Step::WebhookSucceeded,
    Step::WebhookRedelivered,
    Step::Reconcile,
    Step::Pause,
];

#[actix_web::test]
async fn a_charge_whose_answer_is_lost_is_taken_exactly_once_in_any_interleaving() {
    let shop = shop().await;
    let seed: u64 = std::env::var("BAZAAR_INTERLEAVING_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..12 {
        let (order, number, token) = shop.order(&format!("case-{case}")).await;
        // The first call charges, and its answer is lost.
        shop.fake
            .fail_next(1, Fault::ProcessThenTimeout(CLIENT_TIMEOUT * 2));
        let first = shop.pay(&order, &token, payment_methods::VISA, "k").await;
        assert_eq!(
            first["payment"]["status"], "PENDING",
            "seed {seed} case {case}: {first}"
        );
        let intents = shop.intents(number);
        assert_eq!(intents.len(), 1, "seed {seed}");
        let (body, signature) = shop
            .fake
            .event_for(&intents[0], EventKind::PaymentIntentSucceeded);
        let steps: Vec<Step> = (0..rng.random_range(2..8))
            .map(|_| STEPS[rng.random_range(0..STEPS.len())])
            .collect();
        // Sometimes two steps run at once.
        let concurrent = rng.random_bool(0.5);
        let run = |step: Step| {
            let (shop, order, token, body, signature) = (&shop, &order, &token, &body, &signature);
            async move {
                match step {
                    Step::RetrySameKey => {
                        shop.pay(order, token, payment_methods::VISA, "k").await;
                    }
                    Step::RetryNewKey => {
                        let other = shop.pay(order, token, payment_methods::VISA, "k2").await;
                        assert_eq!(
                            other["userErrors"][0]["code"], "INVALID_TRANSITION",
                            "seed {seed}: {other}"
                        );
                    }
                    Step::WebhookSucceeded => {
                        let (fresh, fresh_signature) = shop
                            .fake
                            .event_for(&shop.intents(number)[0], EventKind::PaymentIntentSucceeded);
                        assert_eq!(shop.deliver(&fresh, &fresh_signature).await, 200);
                    }
                    Step::WebhookRedelivered => {
                        assert_eq!(shop.deliver(body, signature).await, 200);
                    }
                    Step::Reconcile => shop.reconcile().await,
                    Step::Pause => actix_web::rt::time::sleep(Duration::from_millis(30)).await,
                }
            }
        };
        if concurrent {
            for pair in steps.chunks(2) {
                join_all(pair.iter().map(|step| run(*step))).await;
            }
        } else {
            for step in &steps {
                run(*step).await;
            }
        }
        // Whatever happened, the late webhook and a reconcile round leave it settled.
        assert_eq!(shop.deliver(&body, &signature).await, 200);
        shop.reconcile().await;
        let settled = shop.read(&token).await;
        assert_eq!(
            settled["status"], "PAID",
            "seed {seed} case {case} {steps:?}: {settled}"
        );
        assert_eq!(
            settled["payments"],
            json!([{ "kind": "CHARGE", "status": "SUCCEEDED" }]),
            "seed {seed} case {case} {steps:?}"
        );
        let intents = shop.intents(number);
        assert_eq!(
            shop.captured_for(&intents).len(),
            1,
            "charged exactly once: seed {seed} case {case} {steps:?}"
        );
        assert!(shop.fake.refunded().is_empty(), "seed {seed}");
        let again = shop.pay(&order, &token, payment_methods::VISA, "k").await;
        assert_eq!(
            again["payment"]["status"], "SUCCEEDED",
            "seed {seed}: {again}"
        );
    }
}

#[actix_web::test]
async fn cancelling_while_a_charge_is_in_flight_ends_refunded_cancelled_and_restocked() {
    let shop = shop().await;
    let before = stock_of(&shop.app, &shop.variant).await;
    let (order, number, token) = shop.order("cancel-1").await;
    shop.fake
        .fail_next(1, Fault::ProcessThenTimeout(CLIENT_TIMEOUT * 2));
    let first = shop.pay(&order, &token, payment_methods::VISA, "k").await;
    assert_eq!(first["payment"]["status"], "PENDING", "{first}");
    let cancelled = shop
        .app
        .graphql(
            "mutation($id: ID!, $t: String) { orderCancel(id: $id, accessToken: $t) {
                order { status } userErrors { code } } }",
            json!({ "id": order, "t": token }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["orderCancel"]["order"]["status"],
        "CANCELLED"
    );
    assert_eq!(stock_of(&shop.app, &shop.variant).await, before);

    // Stripe tells that the charge went through: Bazaar pays it back at once.
    let intent = shop.intents(number).pop().unwrap();
    let (body, signature) = shop
        .fake
        .event_for(&intent, EventKind::PaymentIntentSucceeded);
    assert_eq!(shop.deliver(&body, &signature).await, 200);
    assert_eq!(
        shop.deliver(&body, &signature).await,
        200,
        "a redelivery is fine"
    );
    shop.reconcile().await;
    let amount = shop.captured_for(std::slice::from_ref(&intent))[0].1;
    assert_eq!(shop.fake.refunded(), vec![(intent.clone(), amount)]);
    let read = shop.read(&token).await;
    assert_eq!(read["status"], "CANCELLED");
    assert_eq!(
        read["payments"],
        json!([{ "kind": "CHARGE", "status": "SUCCEEDED" }, { "kind": "REFUND", "status": "SUCCEEDED" }])
    );
    // Stripe's own refund event changes nothing more.
    let (body, signature) = shop.fake.event_for(&intent, EventKind::ChargeRefunded);
    assert_eq!(shop.deliver(&body, &signature).await, 200);
    assert_eq!(shop.fake.refunded().len(), 1);
    assert_eq!(stock_of(&shop.app, &shop.variant).await, before);
}

#[actix_web::test]
async fn three_d_secure_hands_the_client_secret_over_and_settles_by_webhook() {
    let shop = shop().await;
    let (order, number, token) = shop.order("3ds-1").await;
    let started = shop
        .pay(&order, &token, payment_methods::THREE_D_SECURE, "k")
        .await;
    assert_eq!(started["payment"]["status"], "PENDING", "{started}");
    let secret = started["nextAction"]["clientSecret"].as_str().unwrap();
    assert!(secret.contains("_secret_"), "{secret}");
    // The same key tells the same.
    let again = shop
        .pay(&order, &token, payment_methods::THREE_D_SECURE, "k")
        .await;
    assert_eq!(again["nextAction"]["clientSecret"], secret);

    let intent = shop.intents(number).pop().unwrap();
    shop.fake.complete_action(&intent);
    let (body, signature) = shop
        .fake
        .event_for(&intent, EventKind::PaymentIntentSucceeded);
    assert_eq!(shop.deliver(&body, &signature).await, 200);
    assert_eq!(shop.read(&token).await["status"], "PAID");
    assert_eq!(shop.captured_for(&[intent]).len(), 1);

    // A customer who fails 3-D Secure is declined by the webhook and may try again.
    let (order, number, token) = shop.order("3ds-2").await;
    shop.pay(&order, &token, payment_methods::THREE_D_SECURE, "k")
        .await;
    let intent = shop.intents(number).pop().unwrap();
    shop.fake.fail_action(&intent);
    let (body, signature) = shop
        .fake
        .event_for(&intent, EventKind::PaymentIntentPaymentFailed);
    assert_eq!(shop.deliver(&body, &signature).await, 200);
    let declined = shop
        .pay(&order, &token, payment_methods::THREE_D_SECURE, "k")
        .await;
    assert_eq!(
        declined["userErrors"][0]["code"], "PAYMENT_DECLINED",
        "{declined}"
    );
    let paid = shop.pay(&order, &token, payment_methods::VISA, "k2").await;
    assert_eq!(paid["order"]["status"], "PAID", "{paid}");
}

#[actix_web::test]
async fn the_webhook_endpoint_refuses_what_stripe_did_not_sign() {
    let shop = shop().await;
    let (order, number, token) = shop.order("sig-1").await;
    shop.pay(&order, &token, payment_methods::THREE_D_SECURE, "k")
        .await;
    let intent = shop.intents(number).pop().unwrap();
    let (body, signature) = shop
        .fake
        .event_for(&intent, EventKind::PaymentIntentSucceeded);
    let tampered = body.replace("\"amount\":", "\"amount\": 1, \"was\":");
    assert_ne!(tampered, body);
    assert_eq!(shop.deliver(&tampered, &signature).await, 400);
    assert_eq!(shop.deliver(&body, "t=1,v1=00").await, 400);
    assert_eq!(shop.deliver(&body, "").await, 400);
    let stale = chrono::Utc::now().timestamp() - 3_600;
    let (old_body, old_signature) =
        shop.fake
            .event_for_at(&intent, EventKind::PaymentIntentSucceeded, stale);
    assert_eq!(shop.deliver(&old_body, &old_signature).await, 400);
    assert_eq!(shop.read(&token).await["status"], "PENDING_PAYMENT");
    // The genuine event settles it.
    assert_eq!(shop.deliver(&body, &signature).await, 200);
    assert_eq!(shop.read(&token).await["status"], "PAID");

    // A server without Stripe has no such endpoint.
    let plain = crate::helpers::spawn_app().await;
    let status = plain
        .client()
        .post(format!("{}/webhooks/stripe", plain.address))
        .insert_header(("Stripe-Signature", signature.as_str()))
        .send_body(body)
        .await
        .expect("post")
        .status()
        .as_u16();
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn an_abandoned_three_d_secure_charge_gives_way_and_is_refunded_if_finished_later() {
    let shop = shop().await;
    let (order, number, token) = shop.order("abandoned-1").await;
    let waiting = shop
        .pay(&order, &token, payment_methods::THREE_D_SECURE, "k")
        .await;
    assert_eq!(waiting["payment"]["status"], "PENDING", "{waiting}");
    let abandoned = shop.intents(number).pop().unwrap();

    // The customer gives up on 3-D Secure and pays with another card.
    let paid = shop.pay(&order, &token, payment_methods::VISA, "k2").await;
    assert_eq!(paid["userErrors"], json!([]), "{paid}");
    assert_eq!(paid["order"]["status"], "PAID");

    // They finish the old challenge after all: that money goes back.
    shop.fake.complete_action(&abandoned);
    let (body, signature) = shop
        .fake
        .event_for(&abandoned, EventKind::PaymentIntentSucceeded);
    assert_eq!(shop.deliver(&body, &signature).await, 200);
    shop.reconcile().await;
    let amount = shop.captured_for(std::slice::from_ref(&abandoned))[0].1;
    assert_eq!(shop.fake.refunded(), vec![(abandoned, amount)]);
    let read = shop.read(&token).await;
    assert_eq!(read["status"], "PAID");
    assert_eq!(
        read["payments"],
        json!([{ "kind": "CHARGE", "status": "SUCCEEDED" },
               { "kind": "CHARGE", "status": "SUCCEEDED" },
               { "kind": "REFUND", "status": "SUCCEEDED" }])
    );
    assert_eq!(shop.captured_for(&shop.intents(number)).len(), 2);

    // Staff refund the order: the charge that paid it goes back, not the one already refunded.
    let staff = shop
        .app
        .account_with_role("staff@example.com", "STAFF")
        .await;
    let refunded = shop
        .app
        .data_as(
            &staff.token,
            "mutation($id: ID!) { orderRefund(id: $id, idempotencyKey: \"r\") {
                order { status } payment { status } userErrors { code message } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(
        refunded["orderRefund"]["userErrors"],
        json!([]),
        "{refunded}"
    );
    assert_eq!(refunded["orderRefund"]["order"]["status"], "REFUNDED");
    let refunded_intents: Vec<String> =
        shop.fake.refunded().into_iter().map(|(pi, _)| pi).collect();
    let mut charged: Vec<String> = shop.intents(number);
    charged.sort();
    let mut refunded_sorted = refunded_intents.clone();
    refunded_sorted.sort();
    assert_eq!(refunded_sorted, charged, "each charge refunded once");
}

#[actix_web::test]
async fn staff_get_five_refund_attempts_per_order() {
    let shop = shop().await;
    let (order, number, token) = shop.order("refund-attempts").await;
    let paid = shop.pay(&order, &token, payment_methods::VISA, "k").await;
    assert_eq!(paid["order"]["status"], "PAID", "{paid}");
    // Refunded in Stripe's dashboard: Stripe refuses every refund Bazaar asks for, each
    // attempt fails and the order stays paid.
    shop.fake.refund_in_dashboard(&shop.intents(number)[0]);
    let staff = shop
        .app
        .account_with_role("staff@example.com", "STAFF")
        .await;
    let refund = "mutation($id: ID!, $k: String!) { orderRefund(id: $id, idempotencyKey: $k) {
        order { status } payment { status } userErrors { code } } }";
    for attempt in 0..5 {
        let answer = shop
            .app
            .data_as(
                &staff.token,
                refund,
                json!({ "id": order, "k": format!("r-{attempt}") }),
            )
            .await;
        assert_eq!(
            answer["orderRefund"]["userErrors"][0]["code"], "PAYMENT_FAILED",
            "{answer}"
        );
    }
    let sixth = shop
        .app
        .data_as(&staff.token, refund, json!({ "id": order, "k": "r-5" }))
        .await;
    assert_eq!(
        sixth["orderRefund"]["userErrors"][0]["code"], "LIMIT_REACHED",
        "{sixth}"
    );
    assert_eq!(
        shop.read(&token).await["payments"]
            .as_array()
            .unwrap()
            .len(),
        1 + 5,
        "the charge and five refund attempts"
    );
}
