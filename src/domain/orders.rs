//! The order state machine: which transitions exist, which restock, and the events they leave.
//!
//! ```text
//! PENDING_PAYMENT ──pay──▶ PAID ──fulfil──▶ FULFILLED
//!        │                  │                   │
//!      cancel             refund              refund
//!        ▼                  ▼                   ▼
//!    CANCELLED           REFUNDED            REFUNDED
//! (restocks)            (restocks)        (goods shipped: no restock)
//! ```

use std::fmt;
use std::str::FromStr;

use crate::domain::rejection::{Rejection, RejectionCode};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Placed; stock reserved; waiting for payment.
    PendingPayment,
    /// Paid.
    Paid,
    /// Shipped.
    Fulfilled,
    /// Cancelled before payment; stock returned.
    Cancelled,
    /// Paid back.
    Refunded,
}

/// What can happen to an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderAction {
    /// A successful payment.
    Pay,
    /// Shipping it.
    Fulfil,
    /// Calling it off before payment.
    Cancel,
    /// Paying the customer back.
    Refund,
}

/// The result of a legal transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The status after.
    pub to: OrderStatus,
    /// Whether the reserved stock goes back on the shelf.
    pub restocks: bool,
}

impl OrderStatus {
    /// The value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingPayment => "PENDING_PAYMENT",
            Self::Paid => "PAID",
            Self::Fulfilled => "FULFILLED",
            Self::Cancelled => "CANCELLED",
            Self::Refunded => "REFUNDED",
        }
    }

    /// Where `action` takes an order in this status, or why it cannot.
    pub fn apply(self, action: OrderAction) -> Result<Transition, Rejection> {
        use OrderAction::{Cancel, Fulfil, Pay, Refund};
        use OrderStatus::{Cancelled, Fulfilled, Paid, PendingPayment, Refunded};
        let transition = |to, restocks| Ok(Transition { to, restocks });
        match (self, action) {
            (PendingPayment, Pay) => transition(Paid, false),
            (PendingPayment, Cancel) => transition(Cancelled, true),
            (Paid, Fulfil) => transition(Fulfilled, false),
            (Paid, Refund) => transition(Refunded, true),
            (Fulfilled, Refund) => transition(Refunded, false),
            (from, action) => Err(Rejection::new(
                &["id"],
                RejectionCode::InvalidTransition,
                format!(
                    "an order that is {} cannot be {}",
                    from.as_str(),
                    action.past_tense()
                ),
            )),
        }
    }
}

impl OrderAction {
    /// The event type the action records.
    pub fn event(self) -> &'static str {
        match self {
            Self::Pay => "PAID",
            Self::Fulfil => "FULFILLED",
            Self::Cancel => "CANCELLED",
            Self::Refund => "REFUNDED",
        }
    }

    /// The event-log entry this action raises.
    pub fn event_type(self) -> crate::domain::events::EventType {
        use crate::domain::events::EventType;
        match self {
            Self::Pay => EventType::OrderPaid,
            Self::Fulfil => EventType::OrderFulfilled,
            Self::Cancel => EventType::OrderCancelled,
            Self::Refund => EventType::OrderRefunded,
        }
    }

    fn past_tense(self) -> &'static str {
        match self {
            Self::Pay => "paid",
            Self::Fulfil => "fulfilled",
            Self::Cancel => "cancelled",
            Self::Refund => "refunded",
        }
    }
}

impl FromStr for OrderStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::PendingPayment,
            Self::Paid,
            Self::Fulfilled,
            Self::Cancelled,
            Self::Refunded,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
        .ok_or_else(|| format!("unknown order status {s:?}"))
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The number customers see: `#1001` for the first order.
pub fn order_number(id: i64) -> String {
    format!("#{}", 1000 + id)
}

/// The parts of an order's shipping address that are no one's personal data: what a fulfilment
/// or tax system needs.
pub const IMPERSONAL_ADDRESS_PARTS: [&str; 3] = ["countryCode", "postalCode", "city"];

/// An order's stored shipping address (a JSON object of parts) as a caller sees it: whole when
/// `personal_data`, else only its [`IMPERSONAL_ADDRESS_PARTS`].
pub fn shipping_address(stored: &str, personal_data: bool) -> serde_json::Value {
    let mut address: serde_json::Value = serde_json::from_str(stored).unwrap_or_default();
    if !personal_data && let Some(parts) = address.as_object_mut() {
        parts.retain(|name, _| IMPERSONAL_ADDRESS_PARTS.contains(&name.as_str()));
    }
    address
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderAction::*;
    use OrderStatus::*;

    #[test]
    fn the_legal_paths() {
        assert_eq!(PendingPayment.apply(Pay).unwrap().to, Paid);
        assert!(PendingPayment.apply(Cancel).unwrap().restocks);
        assert_eq!(Paid.apply(Fulfil).unwrap().to, Fulfilled);
        assert!(Paid.apply(Refund).unwrap().restocks);
        assert!(!Fulfilled.apply(Refund).unwrap().restocks);
    }

    #[test]
    fn everything_else_is_refused() {
        let legal = [
            (PendingPayment, Pay),
            (PendingPayment, Cancel),
            (Paid, Fulfil),
            (Paid, Refund),
            (Fulfilled, Refund),
        ];
        for status in [PendingPayment, Paid, Fulfilled, Cancelled, Refunded] {
            for action in [Pay, Fulfil, Cancel, Refund] {
                let result = status.apply(action);
                assert_eq!(
                    result.is_ok(),
                    legal.contains(&(status, action)),
                    "{status} {action:?}"
                );
                if let Err(rejection) = result {
                    assert_eq!(rejection.code, RejectionCode::InvalidTransition);
                }
            }
        }
        assert_eq!("PAID".parse::<OrderStatus>().unwrap(), Paid);
        assert_eq!(order_number(1), "#1001");
    }
}
