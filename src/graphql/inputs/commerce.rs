//! Inputs of carts, checkout, orders and discount codes.

use async_graphql::{Enum, ID, InputObject};
use chrono::{DateTime, Utc};

use crate::domain::ids::VariantId;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::accounts::AddressInput;
use crate::graphql::types::Decimal;
use crate::graphql::types::order::OrderStatus;
use crate::services::cart::LineChange;

/// A variant and a quantity.
#[derive(InputObject)]
pub struct CartLineInput {
    /// The variant.
    pub variant_id: ID,
    /// Units (1–99 when adding; 0 removes the line when updating).
    pub quantity: i32,
}

impl CartLineInput {
    /// The checked change.
    pub fn change(&self) -> Result<LineChange, AppError> {
        Ok(LineChange {
            variant: VariantId(GlobalId::parse_kind(&self.variant_id, NodeKind::Variant)?),
            quantity: self.quantity,
        })
    }
}

/// What checkout needs besides the cart.
#[derive(InputObject)]
pub struct CheckoutInput {
    /// The cart to check out.
    pub cart_id: ID,
    /// Where the confirmation goes.
    pub email: String,
    /// Where the goods go.
    pub shipping_address: AddressInput,
    /// A key the client makes up for this checkout (a UUID, say) and sends again on retry: the
    /// same key returns the same order; reusing it for another checkout is an error.
    pub idempotency_key: String,
}

/// Filters of the order list.
#[derive(InputObject, Default)]
pub struct OrdersWhere {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
}

/// How a discount code takes money off.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum DiscountKind {
    /// `value` percent (1–100) of the subtotal.
    Percentage,
    /// `value` in the store currency, at most the subtotal.
    FixedAmount,
}

/// A new discount code.
#[derive(InputObject)]
pub struct DiscountCodeInput {
    /// The code customers type; stored upper-cased, unique.
    pub code: String,
    /// Percentage or fixed amount.
    pub kind: DiscountKind,
    /// The percentage (e.g. `"10"`) or the amount (e.g. `"5.00"`).
    pub value: Decimal,
    /// Smallest subtotal it applies to.
    pub minimum_subtotal: Option<Decimal>,
    /// How many orders may use it; unlimited when omitted.
    pub usage_limit: Option<i32>,
    /// Valid from.
    pub starts_at: Option<DateTime<Utc>>,
    /// Valid until (exclusive).
    pub ends_at: Option<DateTime<Utc>>,
}
