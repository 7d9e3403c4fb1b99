//! `userErrors`: how mutations report expected failures, and the payload types that carry them.

use async_graphql::{Enum, SimpleObject};

use crate::domain::bounds::MAX_USER_ERRORS;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::AppError;
use crate::graphql::pipeline::cut_short;

/// Why a mutation's input was refused.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "RejectionCode")]
pub enum UserErrorCode {
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
    /// The current value is not the one you expected: someone changed it first. Reload and retry.
    Stale,
    /// The change would leave the shop without an administrator.
    LastAdmin,
    /// A limit is reached: addresses per account, variants or images per product, lines per
    /// cart, categories per parent, payment attempts per order.
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

/// An expected failure of a mutation, which the caller can correct.
#[derive(SimpleObject, Clone, Debug)]
pub struct UserError {
    /// Path to the input field at fault, e.g. `["input", "email"]`; null when no one field is.
    pub field: Option<Vec<String>>,
    /// What is wrong, for people.
    pub message: String,
    /// What is wrong, for programs.
    pub code: UserErrorCode,
}

impl From<Rejection> for UserError {
    /// The rejection as callers see it, its message cut as top-level errors' are (a message may
    /// quote the caller's input).
    fn from(rejection: Rejection) -> Self {
        let mut message = rejection.message;
        cut_short(&mut message);
        Self {
            field: (!rejection.field.is_empty()).then_some(rejection.field),
            message,
            code: rejection.code.into(),
        }
    }
}

/// A mutation payload: the result fields plus `userErrors`.
pub trait Payload: Sized {
    /// The payload of a refused mutation.
    fn rejected(errors: Vec<UserError>) -> Self;
}

/// Shapes a use case's result as a payload: success through `ok`, rejections as `userErrors`
/// (at most [`MAX_USER_ERRORS`]), anything else as a top-level error.
pub fn respond<T, P: Payload>(
    result: Result<T, AppError>,
    ok: impl FnOnce(T) -> P,
) -> async_graphql::Result<P> {
    match result {
        Ok(value) => Ok(ok(value)),
        Err(AppError::Rejected(rejections)) => Ok(P::rejected(
            rejections
                .into_iter()
                .take(MAX_USER_ERRORS)
                .map(UserError::from)
                .collect(),
        )),
        Err(other) => Err(other.into()),
    }
}

/// Declares a payload type: its documented result fields (all nullable or defaulted) plus
/// `userErrors`.
#[macro_export]
macro_rules! payload {
    ($(#[doc = $doc:literal])* $name:ident { $($(#[doc = $field_doc:literal])* $field:ident: $ty:ty),* $(,)? }) => {
        $(#[doc = $doc])*
        #[derive(async_graphql::SimpleObject, Default)]
        pub struct $name {
            $($(#[doc = $field_doc])* pub $field: $ty,)*
            /// Why the mutation did not happen; empty when it did. At most 10.
            pub user_errors: Vec<$crate::graphql::user_errors::UserError>,
        }

        impl $crate::graphql::user_errors::Payload for $name {
            fn rejected(errors: Vec<$crate::graphql::user_errors::UserError>) -> Self {
                Self { user_errors: errors, ..Self::default() }
            }
        }
    };
}
