//! Expected business failures a client can correct: which input, what is wrong, a stable code.
//! The API sends them as `userErrors` in mutation payloads.

/// Stable, machine-readable reasons for a [`Rejection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectionCode {
    /// The value is malformed or out of range.
    Invalid,
    /// The value is shorter than allowed.
    TooShort,
    /// The value is longer than allowed.
    TooLong,
    /// The value must be unique and is already in use.
    Taken,
    /// The referenced object does not exist or is not yours.
    NotFound,
    /// The email and password do not match an account.
    InvalidCredentials,
    /// The token is unknown, used or expired.
    InvalidToken,
    /// The current value is not the one the caller expected (someone changed it first).
    Stale,
    /// The change would leave the shop without an administrator.
    LastAdmin,
    /// A limit is reached (see `domain::bounds`).
    LimitReached,
    /// The object is still in use and cannot be removed.
    InUse,
    /// Not enough stock for the quantity asked.
    OutOfStock,
    /// The variant is no longer sold.
    Unavailable,
    /// The discount code does not apply (unknown, not yet or no longer valid, used up, minimum
    /// not met).
    DiscountNotApplicable,
    /// The idempotency key was used before with a different request.
    IdempotencyKeyReused,
    /// The order's status does not allow this.
    InvalidTransition,
    /// The payment was declined.
    PaymentDeclined,
    /// The payment gateway failed; retry with the same idempotency key.
    PaymentFailed,
    /// The cart has already been checked out.
    AlreadyCompleted,
}

/// One expected failure of a use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Path to the input field at fault (e.g. `["input", "email"]`); empty when no one field is.
    pub field: Vec<String>,
    /// A sentence a person can read.
    pub message: String,
    /// The stable reason.
    pub code: RejectionCode,
}

impl Rejection {
    /// A rejection of the input at `field`.
    pub fn new(field: &[&str], code: RejectionCode, message: impl Into<String>) -> Self {
        Self {
            field: field.iter().map(|part| (*part).to_owned()).collect(),
            message: message.into(),
            code,
        }
    }

    /// The same rejection, its field path under `prefix` (e.g. the argument name `input`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.field.insert(0, prefix.to_owned());
        self
    }
}
