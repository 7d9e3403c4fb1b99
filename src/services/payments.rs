//! Payments behind the [`PaymentGateway`] trait (authorize, capture, refund), and the built-in
//! deterministic [`TestGateway`]. Every call carries an idempotency key: a gateway answers a
//! repeated key with its first answer and never moves money twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

/// A gateway's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayOutcome {
    /// Done; the gateway's reference for it.
    Succeeded {
        /// Names the authorization, capture or refund at the gateway.
        reference: String,
    },
    /// Refused (insufficient funds, fraud check…); retrying will not help.
    Declined {
        /// Why, as the gateway says it.
        message: String,
    },
}

/// A gateway failure (network, outage): the outcome is unknown; retry with the same key.
pub type GatewayResult = Result<GatewayOutcome, String>;

/// A payment service provider.
pub trait PaymentGateway: Send + Sync + 'static {
    /// Reserves `amount` (minor units) on the payment method `token`.
    fn authorize(
        &self,
        amount: i64,
        currency: &str,
        token: &str,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult>;

    /// Takes the money of an authorization.
    fn capture(
        &self,
        authorization: &str,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult>;

    /// Pays `amount` of a capture back.
    fn refund(
        &self,
        capture: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult>;
}

/// Payment tokens the [`TestGateway`] understands.
pub mod test_tokens {
    /// Authorizes and captures.
    pub const SUCCESS: &str = "tok_success";
    /// Declined at authorization.
    pub const DECLINE: &str = "tok_decline";
    /// The gateway fails (as if unreachable); a retry with the same key fails the same way.
    pub const ERROR: &str = "tok_error";
}

/// A deterministic in-memory gateway for development and tests: `tok_success` succeeds,
/// `tok_decline` is declined, `tok_error` fails; any other token is declined. Repeated keys get
/// their first answer; [`TestGateway::money_moved`] counts the captures and refunds that
/// actually happened.
#[derive(Default, Clone)]
pub struct TestGateway {
    answers: Arc<Mutex<HashMap<String, GatewayResult>>>,
    moved: Arc<Mutex<Vec<(String, i64)>>>,
    amounts: Arc<Mutex<HashMap<String, i64>>>,
}

impl TestGateway {
    /// Every capture (positive) and refund (negative) performed, with its reference.
    pub fn money_moved(&self) -> Vec<(String, i64)> {
        self.moved.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn once(
        &self,
        key: &str,
        work: impl FnOnce() -> GatewayResult,
    ) -> BoxFuture<'static, GatewayResult> {
        let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
        let answer = answers.entry(key.to_owned()).or_insert_with(work).clone();
        Box::pin(async move { answer })
    }

    fn record(&self, reference: &str, amount: i64) {
        self.moved
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((reference.to_owned(), amount));
    }

    fn amount_of(&self, reference: &str) -> i64 {
        let amounts = self.amounts.lock().unwrap_or_else(|e| e.into_inner());
        amounts.get(reference).copied().unwrap_or(0)
    }
}

impl PaymentGateway for TestGateway {
    fn authorize(
        &self,
        amount: i64,
        _currency: &str,
        token: &str,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult> {
        let reference = format!("auth_{idempotency_key}");
        let amounts = self.amounts.clone();
        let token = token.to_owned();
        self.once(idempotency_key, move || match token.as_str() {
            test_tokens::SUCCESS => {
                amounts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(reference.clone(), amount);
                Ok(GatewayOutcome::Succeeded { reference })
            }
            test_tokens::ERROR => Err("the test gateway is unavailable (tok_error)".to_owned()),
            _ => Ok(GatewayOutcome::Declined {
                message: "the card was declined".to_owned(),
            }),
        })
    }

    fn capture(
        &self,
        authorization: &str,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult> {
        let amount = self.amount_of(authorization);
        let reference = format!("cap_{idempotency_key}");
        let this = self.clone();
        let amounts = self.amounts.clone();
        self.once(idempotency_key, move || {
            amounts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(reference.clone(), amount);
            this.record(&reference, amount);
            Ok(GatewayOutcome::Succeeded { reference })
        })
    }

    fn refund(
        &self,
        capture: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult> {
        let captured = self.amount_of(capture);
        let reference = format!("ref_{idempotency_key}");
        let this = self.clone();
        self.once(idempotency_key, move || {
            if amount > captured {
                return Ok(GatewayOutcome::Declined {
                    message: "refund larger than the capture".to_owned(),
                });
            }
            this.record(&reference, -amount);
            Ok(GatewayOutcome::Succeeded { reference })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_move_money_once() {
        let gateway = TestGateway::default();
        let run = |f: BoxFuture<'static, GatewayResult>| {
            futures_util::FutureExt::now_or_never(f).unwrap()
        };
        let auth = run(gateway.authorize(1_000, "USD", test_tokens::SUCCESS, "k1"));
        let Ok(GatewayOutcome::Succeeded { reference }) = auth else {
            panic!("authorized")
        };
        let first = run(gateway.capture(&reference, "k1c"));
        let second = run(gateway.capture(&reference, "k1c"));
        assert_eq!(first, second);
        assert_eq!(gateway.money_moved().len(), 1);
        assert!(matches!(
            run(gateway.authorize(1_000, "USD", test_tokens::DECLINE, "k2")),
            Ok(GatewayOutcome::Declined { .. })
        ));
        assert!(run(gateway.authorize(1_000, "USD", test_tokens::ERROR, "k3")).is_err());
    }
}
