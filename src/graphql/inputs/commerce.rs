//! Inputs of carts, checkout and orders.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::domain::feeds::RowSort;
use crate::domain::ids::VariantId;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::accounts::AddressInput;
use crate::graphql::inputs::feeds::{OrderSortBy, since};
use crate::graphql::types::order::OrderStatus;
use crate::services::cart::LineChange;
use crate::services::orders::OrderQuery;

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
    /// Only orders changed at or after this time (`updatedAt >= updatedSince`; a year from 1 to
    /// 9999). For a first sync with `sortBy: {field: UPDATED_AT}`; afterwards continue from the
    /// last cursor.
    pub updated_since: Option<DateTime<Utc>>,
}

impl OrdersWhere {
    /// The service query, sorted by `sort_by` (newest first when not given).
    pub fn into_query(self, sort_by: Option<OrderSortBy>) -> OrderQuery {
        OrderQuery {
            status: self.status.map(Into::into),
            updated_since: since(self.updated_since),
            sort: sort_by.map_or(RowSort::NEWEST_FIRST, RowSort::from),
        }
    }
}
