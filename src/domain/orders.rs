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

use crate::domain::rejection::{Rejection, RejectionCode};

/// Most staff notes on one order.
pub const MAX_NOTES_PER_ORDER: usize = 100;
/// Longest staff note, in characters.
pub const MAX_NOTE_CHARS: usize = 5_000;

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

crate::domain::text_enum!(OrderStatus {
    PendingPayment => "PENDING_PAYMENT",
    Paid => "PAID",
    Fulfilled => "FULFILLED",
    Cancelled => "CANCELLED",
    Refunded => "REFUNDED",
});

/// An entry of an order's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderEventType {
    /// Placed.
    Created,
    /// Paid.
    Paid,
    /// Shipped.
    Fulfilled,
    /// Cancelled.
    Cancelled,
    /// Refunded in full.
    Refunded,
    /// A charge succeeded after the order stopped waiting for payment and is refunded
    /// automatically; the status does not change.
    PaymentReversed,
}

crate::domain::text_enum!(OrderEventType {
    Created => "CREATED",
    Paid => "PAID",
    Fulfilled => "FULFILLED",
    Cancelled => "CANCELLED",
    Refunded => "REFUNDED",
    PaymentReversed => "PAYMENT_REVERSED",
});

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
    /// The entry the action leaves in the order's history.
    pub fn event(self) -> OrderEventType {
        match self {
            Self::Pay => OrderEventType::Paid,
            Self::Fulfil => OrderEventType::Fulfilled,
            Self::Cancel => OrderEventType::Cancelled,
            Self::Refund => OrderEventType::Refunded,
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

/// The number customers see: `#1001` for the first order.
pub fn order_number(id: impl Into<i64>) -> String {
    format!("#{}", ORDER_NUMBER_OFFSET + id.into())
}

/// A customer's orders in two figures, as staff see them beside the account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerOrderStats {
    /// Orders placed, in any status.
    pub placed: i64,
    /// The totals of the orders whose money the shop kept (paid or fulfilled), in minor units.
    pub spent: i64,
}

impl CustomerOrderStats {
    /// Adds `orders` orders in `status` that total `total` minor units. Saturates: a sum past
    /// `i64::MAX` is no real shop's.
    pub fn add(&mut self, status: OrderStatus, orders: i64, total: i64) {
        self.placed = self.placed.saturating_add(orders);
        if matches!(status, OrderStatus::Paid | OrderStatus::Fulfilled) {
            self.spent = self.spent.saturating_add(total);
        }
    }
}

/// What order numbers add to order ids: the first order is #1001.
const ORDER_NUMBER_OFFSET: i64 = 1000;

/// The id of the order `number` names (`#1042`, or `1042` without the `#`), as [`order_number`]
/// makes them; an error for text that is no order number.
pub fn order_id_from_number(number: &str) -> Result<i64, &'static str> {
    const INVALID: &str = "an order number looks like #1042";
    let trimmed = number.trim();
    let digits = trimmed.strip_prefix('#').unwrap_or(trimmed);
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(INVALID);
    }
    let value: i64 = digits.parse().map_err(|_| INVALID)?;
    if value <= ORDER_NUMBER_OFFSET {
        return Err(INVALID);
    }
    Ok(value - ORDER_NUMBER_OFFSET)
}

/// A note's text, trimmed: 1 to [`MAX_NOTE_CHARS`] characters.
pub fn checked_note(body: &str) -> Result<String, Rejection> {
    let body = body.trim();
    let length = body.chars().count();
    if length == 0 {
        return Err(Rejection::new(
            &["body"],
            RejectionCode::TooShort,
            "a note says something",
        ));
    }
    if length > MAX_NOTE_CHARS {
        return Err(Rejection::new(
            &["body"],
            RejectionCode::TooLong,
            format!("a note has at most {MAX_NOTE_CHARS} characters"),
        ));
    }
    Ok(body.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_and_says_something_within_the_limit() {
        assert_eq!(
            checked_note("  Called the customer.\n").unwrap(),
            "Called the customer."
        );
        assert_eq!(
            checked_note(" \n ").unwrap_err().code,
            RejectionCode::TooShort
        );
        let long = "é".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            checked_note(&long).unwrap_err().code,
            RejectionCode::TooLong
        );
        assert!(checked_note(&"é".repeat(MAX_NOTE_CHARS)).is_ok());
    }

    #[test]
    fn a_customer_spent_what_paid_and_fulfilled_orders_total() {
        let mut stats = CustomerOrderStats::default();
        stats.add(OrderStatus::Paid, 2, 5_000);
        stats.add(OrderStatus::Fulfilled, 1, 1_250);
        stats.add(OrderStatus::Cancelled, 3, 9_999);
        stats.add(OrderStatus::Refunded, 1, 700);
        stats.add(OrderStatus::PendingPayment, 1, 300);
        assert_eq!(
            stats,
            CustomerOrderStats {
                placed: 8,
                spent: 6_250
            }
        );
        stats.add(OrderStatus::Paid, 1, i64::MAX);
        assert_eq!(stats.spent, i64::MAX);
    }

    #[test]
    fn an_order_number_names_its_order_with_or_without_the_hash() {
        for id in [1, 42, 1_000_000] {
            assert_eq!(order_id_from_number(&order_number(id)), Ok(id));
            assert_eq!(order_id_from_number(&order_number(id)[1..]), Ok(id));
        }
        assert_eq!(order_id_from_number(" #1042 "), Ok(42));
        for invalid in [
            "",
            "#",
            "#1000",
            "#0",
            "#-5",
            "#10a",
            "##1042",
            "#+1042",
            "#99999999999999999999",
        ] {
            assert!(order_id_from_number(invalid).is_err(), "{invalid}");
        }
    }
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
