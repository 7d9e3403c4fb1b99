//! Payment attempts: their kinds and statuses, and when the reconcile job asks the provider
//! again about an attempt whose outcome is not known yet.

use std::time::Duration;

/// What an attempt does with money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentKind {
    /// Takes money from the customer.
    Charge,
    /// Pays money of a charge back.
    Refund,
}

/// Where an attempt stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// The provider has not given its final answer: in flight, lost, waiting for the customer
    /// (3-D Secure) or processing. Settled by the webhook, a retry or the reconcile job.
    Pending,
    /// The money moved.
    Succeeded,
    /// The provider refused: no money moved.
    Declined,
    /// The request never reached the provider, or was refused before it acted: no money moved.
    Failed,
}

crate::domain::text_enum!(PaymentKind { Charge => "CHARGE", Refund => "REFUND" });
crate::domain::text_enum!(PaymentStatus {
    Pending => "PENDING",
    Succeeded => "SUCCEEDED",
    Declined => "DECLINED",
    Failed => "FAILED",
});

/// How long after its creation a pending attempt is first checked: long enough for the request
/// that made it to finish on its own.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(60);

/// How long after an attempt's creation its charge may be asked for again with the same key:
/// Stripe keeps idempotency keys for 24 hours; past this, a repeated request could charge anew.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(23 * 3_600);

/// Whether a pending charge keeps its order's stock past the reservation that started before
/// `placed_before`: one in flight or processing always does (its outcome may be money taken); one
/// waiting for the customer's action (3-D Secure) only while it is younger than the reservation.
pub fn holds_reservation(
    waiting_for_customer: bool,
    created_at: chrono::NaiveDateTime,
    placed_before: chrono::NaiveDateTime,
) -> bool {
    !waiting_for_customer || created_at >= placed_before
}

/// How long the reconcile job waits before asking the provider about a pending attempt again,
/// after it has asked `checks` times: 1, 2, 4 … minutes, at most an hour. Stripe keeps
/// idempotency keys for 24 hours, and an attempt is asked about 8 times in its first 4 hours.
pub fn next_check_delay(checks: i32) -> Duration {
    let minutes = 1_u64 << checks.clamp(0, 6);
    Duration::from_secs((minutes * 60).min(3_600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_text() {
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Succeeded,
            PaymentStatus::Declined,
            PaymentStatus::Failed,
        ] {
            assert_eq!(status.as_str().parse::<PaymentStatus>(), Ok(status));
        }
        assert_eq!("REFUND".parse::<PaymentKind>(), Ok(PaymentKind::Refund));
        assert!("refund".parse::<PaymentKind>().is_err());
    }

    #[test]
    fn checks_back_off_to_an_hour() {
        assert_eq!(next_check_delay(0), Duration::from_secs(60));
        assert_eq!(next_check_delay(1), Duration::from_secs(120));
        assert_eq!(next_check_delay(5), Duration::from_secs(1_920));
        assert_eq!(next_check_delay(6), Duration::from_secs(3_600));
        assert_eq!(next_check_delay(1_000), Duration::from_secs(3_600));
        assert_eq!(next_check_delay(-3), Duration::from_secs(60));
    }
}
