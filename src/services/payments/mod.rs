//! Payments: the [`PaymentGateway`] trait every provider implements (charge, look up, refund),
//! the provider events its webhooks deliver, and the providers Bazaar ships: [`stripe`] (Stripe's
//! PaymentIntents, for real money) and [`test_gateway`] (deterministic, for development and
//! tests). The use cases that drive them (pay, settle, reconcile, refund) are in [`flow`].
//!
//! A charge is one PaymentIntent confirmed and captured in one step: every extra step (a separate
//! capture) would be one more call whose outcome can be lost. An answer that is lost (a timeout,
//! a 5xx, a dropped connection) is [`GatewayError::Unknown`]: the attempt stays PENDING and is
//! settled later by the provider's webhook, by a retry of the same attempt or by the reconcile
//! job, each asking with the same idempotency key, so money moves at most once.

pub mod flow;
pub mod stripe;
pub mod test_gateway;

use futures_util::future::BoxFuture;

use crate::domain::ids::OrderId;

pub use test_gateway::{TestGateway, test_tokens};

/// What is asked of a provider to take a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// Minor units of `currency`.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
    /// The payment method as the provider tokenised it in the browser (Stripe: `pm_…`).
    pub payment_method: String,
    /// The provider-side idempotency key: the same key never charges twice.
    pub idempotency_key: String,
    /// Bazaar's order, recorded with the charge (Stripe: `metadata.order_id`).
    pub order_id: OrderId,
    /// Bazaar's payment attempt, recorded with the charge (Stripe: `metadata.payment_id`): how a
    /// webhook finds an attempt whose first answer was lost.
    pub payment_id: i64,
}

/// Where a charge stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeStatus {
    /// The money is taken.
    Succeeded,
    /// The customer must act (3-D Secure): the front end completes it with the provider's
    /// client library and this secret; the webhook then settles the payment.
    RequiresAction {
        /// Stripe's `client_secret`: only for the customer paying.
        client_secret: String,
    },
    /// The provider is still working on it (a bank debit); a webhook settles it.
    Processing,
    /// Refused (insufficient funds, fraud check, authentication failed): no money moved.
    Declined {
        /// Why, as the provider says it.
        message: String,
    },
}

/// A charge at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeState {
    /// The provider's id of the charge (Stripe: the PaymentIntent `pi_…`).
    pub reference: String,
    /// Where it stands.
    pub status: ChargeStatus,
}

/// Where a refund stands at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStatus {
    /// The money is on its way back.
    Succeeded,
    /// The provider is still working on it.
    Pending,
    /// The provider could not refund.
    Failed {
        /// Why, as the provider says it.
        message: String,
    },
}

/// A refund at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundState {
    /// The provider's id of the refund (Stripe: `re_…`).
    pub reference: String,
    /// Where it stands.
    pub status: RefundStatus,
}

/// A call to the provider that did not give an answer about the money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The provider refused the request before acting on it (a bad request, bad credentials,
    /// a connection that was never made): nothing happened.
    #[error("the payment provider refused the request: {0}")]
    Refused(String),
    /// The request may or may not have been acted on (a timeout, a 5xx, a lost connection, a
    /// request with the same key still running): ask again with the same key.
    #[error("the payment provider's answer is unknown: {0}")]
    Unknown(String),
}

/// The provider's answer to one call.
pub type GatewayResult<T> = Result<T, GatewayError>;

/// A payment service provider. Every call that moves money carries an idempotency key, and the
/// provider answers a repeated key with the first call's result without moving money again.
pub trait PaymentGateway: Send + Sync + 'static {
    /// The provider's name, as stored with each attempt (`stripe`, `test`).
    fn name(&self) -> &'static str;

    /// Whether real money moves through this provider (production refuses one that does not,
    /// unless told).
    fn moves_real_money(&self) -> bool;

    /// Takes `request.amount` from the payment method: created, confirmed and captured in one
    /// step.
    fn charge(&self, request: &ChargeRequest) -> BoxFuture<'static, GatewayResult<ChargeState>>;

    /// Where the charge `reference` stands now.
    fn charge_status(&self, reference: &str) -> BoxFuture<'static, GatewayResult<ChargeState>>;

    /// Pays `amount` of the charge `charge_reference` back.
    fn refund(
        &self,
        charge_reference: &str,
        amount: i64,
        idempotency_key: &str,
    ) -> BoxFuture<'static, GatewayResult<RefundState>>;

    /// Where the refund `reference` stands now.
    fn refund_status(&self, reference: &str) -> BoxFuture<'static, GatewayResult<RefundState>>;
}

/// A provider event, as its webhook delivered it and once its signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's event id: an event is applied once, however often it is delivered.
    pub id: String,
    /// What happened.
    pub kind: ProviderEventKind,
}

/// What a provider event says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEventKind {
    /// A charge took the money (Stripe: `payment_intent.succeeded`).
    ChargeSucceeded {
        /// The charge.
        reference: String,
        /// Bazaar's payment attempt, from the charge's metadata.
        payment_id: Option<i64>,
    },
    /// A charge was refused (Stripe: `payment_intent.payment_failed`).
    ChargeFailed {
        /// The charge.
        reference: String,
        /// Bazaar's payment attempt, from the charge's metadata.
        payment_id: Option<i64>,
        /// Why.
        message: String,
    },
    /// Money of a charge was paid back (Stripe: `charge.refunded`).
    ChargeRefunded {
        /// The charge (Stripe: the PaymentIntent of the refunded charge).
        reference: String,
        /// How much of it has been refunded in all, in minor units.
        amount_refunded: i64,
    },
    /// An event Bazaar does not act on.
    Ignored {
        /// Its type, for the log.
        kind: String,
    },
}
