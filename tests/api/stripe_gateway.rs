//! The Stripe adapter against `FakeStripe`: what goes on the wire, how each answer maps
//! (charged, declined, 3-D Secure, refused, unknown), that a lost answer is found again with the
//! same idempotency key without charging twice, refunds and their limits, and the webhook events
//! the fake signs.

use std::time::Duration;

use bazaar::services::payments::stripe::{
    DEFAULT_WEBHOOK_TOLERANCE_SECS, STRIPE_VERSION, StripeGateway, verify_webhook,
};
use bazaar::services::payments::{
    ChargeRequest, ChargeState, ChargeStatus, GatewayError, PaymentGateway, ProviderEvent,
    ProviderEventKind, RefundState, RefundStatus,
};

use crate::fake_stripe::{
    EventKind, FakeStripe, Fault, SECRET_KEY, WEBHOOK_SECRET, payment_methods,
};

const TIMEOUT: Duration = Duration::from_secs(2);

fn gateway(fake: &FakeStripe, timeout: Duration) -> StripeGateway {
    StripeGateway::new(fake.config(timeout)).expect("a gateway")
}

fn request(payment_method: &str, key: &str) -> ChargeRequest {
    ChargeRequest {
        amount: 1_000,
        currency: "USD".into(),
        payment_method: payment_method.into(),
        idempotency_key: key.into(),
        order_id: bazaar::domain::ids::OrderId(7),
        payment_id: 42,
    }
}

fn charged(state: &ChargeState) -> &str {
    assert_eq!(state.status, ChargeStatus::Succeeded, "{state:?}");
    assert!(state.reference.starts_with("pi_"), "{state:?}");
    &state.reference
}

#[actix_web::test]
async fn a_charge_creates_confirms_and_captures_one_payment_intent() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    assert_eq!(
        (gateway.name(), gateway.moves_real_money()),
        ("stripe", true)
    );
    let state = gateway
        .charge(&request(payment_methods::VISA, "order-7:pay:a"))
        .await
        .expect("charged");
    let pi = charged(&state).to_owned();
    assert_eq!(fake.captured(), vec![(pi.clone(), 1_000)]);

    let sent = fake.requests().pop().expect("a request");
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1/payment_intents")
    );
    assert_eq!(sent.idempotency_key.as_deref(), Some("order-7:pay:a"));
    assert_eq!(sent.stripe_version.as_deref(), Some(STRIPE_VERSION));
    for (key, value) in [
        ("amount", "1000"),
        ("currency", "usd"),
        ("payment_method", payment_methods::VISA),
        ("confirm", "true"),
        ("capture_method", "automatic"),
        ("automatic_payment_methods[enabled]", "true"),
        ("automatic_payment_methods[allow_redirects]", "never"),
        ("metadata[order_id]", "7"),
        ("metadata[payment_id]", "42"),
    ] {
        assert_eq!(sent.param(key), Some(value), "{key} in {:?}", sent.form);
    }
    let intents = fake.intents_for_order(7);
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["id"], pi.as_str());
    assert_eq!(intents[0]["metadata"]["payment_id"], "42");
    assert!(fake.intents_for_order(8).is_empty());

    assert_eq!(gateway.charge_status(&pi).await, Ok(state.clone()));
    // The same key is answered with the first answer; no second capture.
    let again = gateway
        .charge(&request(payment_methods::VISA, "order-7:pay:a"))
        .await;
    assert_eq!(again, Ok(state));
    assert_eq!(fake.captured().len(), 1);
}

#[actix_web::test]
async fn a_declined_card_is_declined_with_its_payment_intent() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    let state = gateway
        .charge(&request(payment_methods::DECLINED, "k-declined"))
        .await
        .expect("an answer");
    assert_eq!(
        state.status,
        ChargeStatus::Declined {
            message: "Your card was declined.".into()
        }
    );
    assert!(state.reference.starts_with("pi_"), "{state:?}");
    assert_eq!(
        fake.intents_for_order(7)[0]["status"],
        "requires_payment_method"
    );
    // Replayed as it was: the same intent, still declined.
    let again = gateway
        .charge(&request(payment_methods::DECLINED, "k-declined"))
        .await;
    assert_eq!(again, Ok(state.clone()));
    assert_eq!(
        gateway
            .charge_status(&state.reference)
            .await
            .map(|s| s.status),
        Ok(ChargeStatus::Declined {
            message: "Your card was declined.".into()
        })
    );
    let poor = gateway
        .charge(&request(payment_methods::INSUFFICIENT_FUNDS, "k-poor"))
        .await
        .map(|s| s.status);
    assert_eq!(
        poor,
        Ok(ChargeStatus::Declined {
            message: "Your card has insufficient funds.".into()
        })
    );
    assert!(fake.captured().is_empty());
}

#[actix_web::test]
async fn three_d_secure_waits_for_the_customer() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    let state = gateway
        .charge(&request(payment_methods::THREE_D_SECURE, "k-3ds"))
        .await
        .expect("an answer");
    let ChargeStatus::RequiresAction { client_secret } = &state.status else {
        panic!("requires action: {state:?}")
    };
    assert!(client_secret.starts_with(&format!("{}_secret_", state.reference)));
    assert_eq!(
        gateway.charge_status(&state.reference).await,
        Ok(state.clone())
    );
    assert!(fake.captured().is_empty());

    fake.complete_action(&state.reference);
    let now = gateway
        .charge_status(&state.reference)
        .await
        .expect("found");
    charged(&now);
    assert_eq!(fake.captured(), vec![(state.reference.clone(), 1_000)]);

    let other = gateway
        .charge(&request(payment_methods::THREE_D_SECURE, "k-3ds-2"))
        .await
        .expect("an answer");
    fake.fail_action(&other.reference);
    let failed = gateway
        .charge_status(&other.reference)
        .await
        .map(|s| s.status);
    assert!(
        matches!(&failed, Ok(ChargeStatus::Declined { message }) if message.contains("authentication")),
        "{failed:?}"
    );
    assert_eq!(fake.captured().len(), 1);
}

#[actix_web::test]
async fn a_server_error_is_unknown_and_the_retry_charges_once() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    let charge = request(payment_methods::VISA, "k-500");
    fake.fail_next(1, Fault::ServerError);
    let lost = gateway.charge(&charge).await;
    assert!(matches!(lost, Err(GatewayError::Unknown(_))), "{lost:?}");
    assert!(fake.captured().is_empty(), "nothing happened");
    charged(&gateway.charge(&charge).await.expect("charged"));

    // The work done, the answer replaced by a 500: the retry finds the first charge.
    let charge = request(payment_methods::VISA, "k-500-after");
    fake.fail_next(1, Fault::ProcessThenServerError);
    let lost = gateway.charge(&charge).await;
    assert!(matches!(lost, Err(GatewayError::Unknown(_))), "{lost:?}");
    let found = gateway.charge(&charge).await.expect("charged");
    assert_eq!(fake.captured()[1], (charged(&found).to_owned(), 1_000));
    assert_eq!(fake.captured().len(), 2);
}

#[actix_web::test]
async fn a_timeout_is_unknown_and_the_same_key_finds_the_charge() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, Duration::from_millis(300));
    let charge = request(payment_methods::VISA, "k-timeout");
    fake.fail_next(1, Fault::ProcessThenTimeout(Duration::from_millis(1_500)));
    let started = std::time::Instant::now();
    let lost = gateway.charge(&charge).await;
    assert!(
        matches!(&lost, Err(GatewayError::Unknown(text)) if text.contains("in time")),
        "{lost:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(1_200),
        "no wait for the answer"
    );
    assert_eq!(fake.captured().len(), 1, "the charge happened");
    let found = gateway.charge(&charge).await.expect("charged");
    assert_eq!(fake.captured(), vec![(charged(&found).to_owned(), 1_000)]);
}

#[actix_web::test]
async fn a_key_still_in_use_is_unknown_and_a_key_reused_for_another_request_is_refused() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    let charge = request(payment_methods::VISA, "k-busy");
    fake.fail_next(1, Fault::Slow(Duration::from_millis(800)));
    let second = async {
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
        gateway.charge(&charge).await
    };
    let (first, second) = futures_util::future::join(gateway.charge(&charge), second).await;
    charged(&first.expect("charged"));
    assert!(
        matches!(&second, Err(GatewayError::Unknown(text)) if text.contains("idempotency_key_in_use")),
        "{second:?}"
    );
    let other = ChargeRequest {
        amount: 2_000,
        ..charge
    };
    let reused = gateway.charge(&other).await;
    assert!(
        matches!(&reused, Err(GatewayError::Refused(text)) if text.contains("idempotency_error")),
        "{reused:?}"
    );
    assert_eq!(fake.captured().len(), 1);
}

#[actix_web::test]
async fn refunds_pay_back_at_most_what_was_charged() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    let state = gateway
        .charge(&request(payment_methods::VISA, "k-refund"))
        .await
        .expect("charged");
    let pi = charged(&state);
    let refund = gateway.refund(pi, 600, "r1").await.expect("refunded");
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert!(refund.reference.starts_with("re_"), "{refund:?}");
    assert_eq!(
        gateway.refund_status(&refund.reference).await,
        Ok(refund.clone())
    );
    assert_eq!(
        gateway.refund(pi, 600, "r1").await,
        Ok(refund.clone()),
        "replayed"
    );
    let sent = fake.requests().pop().expect("a request");
    assert_eq!(sent.param("payment_intent"), Some(pi));
    assert_eq!(sent.idempotency_key.as_deref(), Some("r1"));

    let too_much = gateway.refund(pi, 600, "r2").await;
    assert!(
        matches!(&too_much, Err(GatewayError::Refused(text)) if text.contains("amount_too_large")),
        "{too_much:?}"
    );
    let rest = gateway.refund(pi, 400, "r3").await;
    assert!(matches!(
        rest,
        Ok(RefundState {
            status: RefundStatus::Succeeded,
            ..
        })
    ));
    let more = gateway.refund(pi, 1, "r4").await;
    assert!(
        matches!(&more, Err(GatewayError::Refused(text)) if text.contains("already been refunded")),
        "{more:?}"
    );
    assert_eq!(
        fake.refunded(),
        vec![(pi.to_owned(), 600), (pi.to_owned(), 400)]
    );
    let unknown = gateway.refund("pi_nope", 1, "r5").await;
    assert!(
        matches!(unknown, Err(GatewayError::Refused(_))),
        "{unknown:?}"
    );
    let lookup = gateway.refund_status("re_nope").await;
    assert!(
        matches!(lookup, Err(GatewayError::Refused(_))),
        "{lookup:?}"
    );
}

#[actix_web::test]
async fn bad_credentials_bad_ids_and_an_unreachable_stripe_are_refused() {
    let fake = FakeStripe::start();
    let wrong = StripeGateway::new(bazaar::services::payments::stripe::StripeConfig {
        secret_key: "sk_test_wrong_key".into(),
        ..fake.config(TIMEOUT)
    })
    .expect("a gateway");
    let refused = wrong.charge(&request(payment_methods::VISA, "k")).await;
    assert!(
        matches!(&refused, Err(GatewayError::Refused(text))
            if text.contains("401") && !text.contains("sk_test_wrong_key") && !text.contains(SECRET_KEY)),
        "{refused:?}"
    );

    let gateway = gateway(&fake, TIMEOUT);
    let asked = fake.requests().len();
    for id in ["pi_1/../../v1/refunds", "", "pi 1", "pi_1?expand=x"] {
        let answer = gateway.charge_status(id).await;
        assert!(
            matches!(answer, Err(GatewayError::Refused(_))),
            "{id:?}: {answer:?}"
        );
    }
    assert_eq!(fake.requests().len(), asked, "nothing was sent");
    let missing = gateway.charge_status("pi_missing").await;
    assert!(
        matches!(&missing, Err(GatewayError::Refused(text)) if text.contains("resource_missing")),
        "{missing:?}"
    );
    assert!(fake.captured().is_empty());

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let unreachable = StripeGateway::new(bazaar::services::payments::stripe::StripeConfig {
        api_base: format!("http://127.0.0.1:{port}"),
        ..fake.config(TIMEOUT)
    })
    .expect("a gateway");
    let answer = unreachable
        .charge(&request(payment_methods::VISA, "k"))
        .await;
    assert!(
        matches!(answer, Err(GatewayError::Refused(_))),
        "{answer:?}"
    );
}

#[actix_web::test]
async fn the_fakes_webhook_events_verify_and_read_as_provider_events() {
    let fake = FakeStripe::start();
    let gateway = gateway(&fake, TIMEOUT);
    let secret = gateway.webhook_secret().expect("a webhook secret");
    assert_eq!(secret, WEBHOOK_SECRET);
    let now = chrono::Utc::now().timestamp();
    let verify = |(body, signature): (String, String)| {
        verify_webhook(
            secret,
            &signature,
            body.as_bytes(),
            now,
            DEFAULT_WEBHOOK_TOLERANCE_SECS,
        )
    };

    let paid = gateway
        .charge(&request(payment_methods::VISA, "k-paid"))
        .await
        .expect("charged");
    let event = verify(fake.event_for(&paid.reference, EventKind::PaymentIntentSucceeded))
        .expect("verified");
    assert!(event.id.starts_with("evt_"), "{event:?}");
    assert_eq!(
        event.kind,
        ProviderEventKind::ChargeSucceeded {
            reference: paid.reference.clone(),
            payment_id: Some(42),
        }
    );
    let again = verify(fake.event_for(&paid.reference, EventKind::PaymentIntentSucceeded));
    assert!(matches!(again, Ok(ProviderEvent { id, .. }) if id != event.id));

    let declined = gateway
        .charge(&request(payment_methods::DECLINED, "k-failed"))
        .await
        .expect("an answer");
    let failed = verify(fake.event_for(&declined.reference, EventKind::PaymentIntentPaymentFailed));
    assert_eq!(
        failed.map(|event| event.kind),
        Ok(ProviderEventKind::ChargeFailed {
            reference: declined.reference.clone(),
            payment_id: Some(42),
            message: "Your card was declined.".into(),
        })
    );

    gateway
        .refund(&paid.reference, 250, "r-paid")
        .await
        .expect("refunded");
    let refunded = verify(fake.event_for(&paid.reference, EventKind::ChargeRefunded));
    assert_eq!(
        refunded.map(|event| event.kind),
        Ok(ProviderEventKind::ChargeRefunded {
            reference: paid.reference.clone(),
            amount_refunded: 250,
        })
    );

    let late = fake.event_for_at(
        &paid.reference,
        EventKind::PaymentIntentSucceeded,
        now - 3_600,
    );
    assert!(matches!(
        verify(late),
        Err(bazaar::services::payments::stripe::WebhookError::StaleTimestamp { .. })
    ));
}
