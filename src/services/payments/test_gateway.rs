//! The built-in deterministic [`TestGateway`], for development and tests: no money moves. The
//! payment method decides the answer (see [`test_tokens`]); repeated idempotency keys get their
//! first answer, as a real provider's do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::BoxFuture;

use super::{
    ChargeRequest, ChargeState, ChargeStatus, GatewayError, GatewayResult, PaymentGateway,
    RefundState, RefundStatus,
};

/// Payment methods the [`TestGateway`] understands; any other is declined.
pub mod test_tokens {
    /// Charged.
    pub const SUCCESS: &str = "tok_success";
    /// Declined.
    pub const DECLINE: &str = "tok_decline";
    /// Refused before anything happened (as if the provider were unreachable): the attempt
    /// fails and a new one may be made.
    pub const ERROR: &str = "tok_error";
    /// Charged, but the answer is lost (as after a timeout): the attempt stays pending until a
    /// retry with the same key, or the reconcile job, learns that it succeeded.
    pub const TIMEOUT: &str = "tok_timeout";
}

#[derive(Default)]
struct Ledger {
    /// First answer per idempotency key.
    charges_by_key: HashMap<String, GatewayResult<ChargeState>>,
    refunds_by_key: HashMap<String, GatewayResult<RefundState>>,
    /// Amount of each successful charge, by reference.
    charged: HashMap<String, i64>,
    /// Amount refunded of each charge, by charge reference.
    refunded: HashMap<String, i64>,
    /// Every capture (positive) and refund (negative), with its reference.
    moved: Vec<(String, i64)>,
}

/// A deterministic in-memory gateway. [`TestGateway::money_moved`] lists the money that moved.
#[derive(Default, Clone)]
pub struct TestGateway {
    ledger: Arc<Mutex<Ledger>>,
}

impl TestGateway {
    /// Every charge (positive) and refund (negative) performed, with its reference.
    pub fn money_moved(&self) -> Vec<(String, i64)> {
        self.ledger().moved.clone()
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn ready<T: Send + 'static>(value: T) -> BoxFuture<'static, T> {
    Box::pin(async move { value })
}

impl PaymentGateway for TestGateway {
    fn name(&self) -> &'static str {
        "test"
    }

    fn moves_real_money(&self) -> bool {
        false
    }

    fn charge(&self, request: &ChargeRequest) -> BoxFuture<'static, GatewayResult<ChargeState>> {
        let mut ledger = self.ledger();
        if let Some(first) = ledger.charges_by_key.get(&request.idempotency_key) {
            // A replay tells what the first call did: a lost answer is found again.
            let replayed = match first {
                Err(GatewayError::Unknown(_)) => Ok(ChargeState {
                    reference: format!("ch_{}", request.idempotency_key),
                    status: ChargeStatus::Succeeded,
                }),
                other => other.clone(),
            };
            return ready(replayed);
        }
        let reference = format!("ch_{}", request.idempotency_key);
        let answer = match request.payment_method.as_str() {
            test_tokens::SUCCESS | test_tokens::TIMEOUT => {
                ledger.charged.insert(reference.clone(), request.amount);
                ledger.moved.push((reference.clone(), request.amount));
                if request.payment_method == test_tokens::TIMEOUT {
                    Err(GatewayError::Unknown(
                        "the test gateway timed out (tok_timeout)".into(),
                    ))
                } else {
                    Ok(ChargeState {
                        reference,
                        status: ChargeStatus::Succeeded,
                    })
                }
            }
            test_tokens::ERROR => Err(GatewayError::Refused(
                "the test gateway is unavailable (tok_error)".into(),
            )),
            _ => Ok(ChargeState {
                reference,
                status: ChargeStatus::Declined {
                    message: "the card was declined".into(),
                },
            }),
        };
        ledger
            .charges_by_key
            .insert(request.idempotency_key.clone(), answer.clone());
        ready(answer)
    }

    fn charge_status(&self, reference: &str) -> BoxFuture<'static, GatewayResult<ChargeState>> {
        let ledger = self.ledger();
        let answer = if ledger.charged.contains_key(reference) {
            Ok(ChargeState {
                reference: reference.to_owned(),
                status: ChargeStatus::Succeeded,
            })
        } else {
            Err(GatewayError::Refused(format!(
                "no such charge: {reference}"
            )))
        };
        ready(answer)
    }

    fn refund(
        &self,
        charge_reference: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult<RefundState>> {
        let mut ledger = self.ledger();
        if let Some(first) = ledger.refunds_by_key.get(idempotency_key) {
            return ready(first.clone());
        }
        let reference = format!("re_{idempotency_key}");
        let charged = ledger.charged.get(charge_reference).copied();
        let refunded = ledger.refunded.get(charge_reference).copied().unwrap_or(0);
        let answer = match charged {
            None => Err(GatewayError::Refused(format!(
                "no such charge: {charge_reference}"
            ))),
            Some(charged) if refunded + amount > charged => Ok(RefundState {
                reference,
                status: RefundStatus::Failed {
                    message: "refund larger than what is left of the charge".into(),
                },
            }),
            Some(_) => {
                *ledger
                    .refunded
                    .entry(charge_reference.to_owned())
                    .or_default() += amount;
                ledger.moved.push((reference.clone(), -amount));
                Ok(RefundState {
                    reference,
                    status: RefundStatus::Succeeded,
                })
            }
        };
        ledger
            .refunds_by_key
            .insert(idempotency_key.to_owned(), answer.clone());
        ready(answer)
    }

    fn refund_status(&self, reference: &str) -> BoxFuture<'static, GatewayResult<RefundState>> {
        let ledger = self.ledger();
        let known = ledger
            .refunds_by_key
            .values()
            .find_map(|answer| answer.as_ref().ok().filter(|r| r.reference == reference));
        ready(
            known
                .cloned()
                .ok_or_else(|| GatewayError::Refused(format!("no such refund: {reference}"))),
        )
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;
    use crate::domain::ids::OrderId;

    fn request(method: &str, key: &str) -> ChargeRequest {
        ChargeRequest {
            amount: 1_000,
            currency: "USD".into(),
            payment_method: method.into(),
            idempotency_key: key.into(),
            order_id: OrderId(1),
            payment_id: 1,
        }
    }

    #[test]
    fn repeated_keys_move_money_once() {
        let gateway = TestGateway::default();
        let first = gateway
            .charge(&request(test_tokens::SUCCESS, "k1"))
            .now_or_never();
        let again = gateway
            .charge(&request(test_tokens::SUCCESS, "k1"))
            .now_or_never();
        assert_eq!(first, again);
        assert_eq!(gateway.money_moved().len(), 1);
        let declined = gateway
            .charge(&request(test_tokens::DECLINE, "k2"))
            .now_or_never();
        assert!(matches!(
            declined,
            Some(Ok(ChargeState {
                status: ChargeStatus::Declined { .. },
                ..
            }))
        ));
        let refused = gateway
            .charge(&request(test_tokens::ERROR, "k3"))
            .now_or_never();
        assert!(matches!(refused, Some(Err(GatewayError::Refused(_)))));
        assert_eq!(gateway.money_moved().len(), 1);
    }

    #[test]
    fn a_lost_answer_is_found_by_asking_again_with_the_same_key() {
        let gateway = TestGateway::default();
        let lost = gateway
            .charge(&request(test_tokens::TIMEOUT, "k"))
            .now_or_never();
        assert!(matches!(lost, Some(Err(GatewayError::Unknown(_)))));
        let found = gateway
            .charge(&request(test_tokens::TIMEOUT, "k"))
            .now_or_never();
        assert!(matches!(
            found,
            Some(Ok(ChargeState {
                status: ChargeStatus::Succeeded,
                ..
            }))
        ));
        assert_eq!(gateway.money_moved(), vec![("ch_k".to_owned(), 1_000)]);
    }

    #[test]
    fn refunds_never_exceed_the_charge() {
        let gateway = TestGateway::default();
        let charged = gateway
            .charge(&request(test_tokens::SUCCESS, "k"))
            .now_or_never();
        let Some(Ok(ChargeState { reference, .. })) = charged else {
            panic!("charged")
        };
        let refund = |key| gateway.refund(&reference, 600, key).now_or_never();
        assert!(matches!(
            refund("r1"),
            Some(Ok(RefundState {
                status: RefundStatus::Succeeded,
                ..
            }))
        ));
        assert!(matches!(
            refund("r2"),
            Some(Ok(RefundState {
                status: RefundStatus::Failed { .. },
                ..
            }))
        ));
        assert_eq!(gateway.money_moved().iter().map(|m| m.1).sum::<i64>(), 400);
    }
}
