//! Inputs of carts, checkout and orders.

use async_graphql::{ID, InputObject};
use chrono::{DateTime, Utc};

use crate::db::models::order::OrderSearch;
use crate::domain::feeds::RowSort;
use crate::domain::ids::OrderId;
use crate::domain::money::Currency;
use crate::domain::orders::order_id_from_number;
use crate::error::AppError;
use crate::graphql::ids::GlobalId;
use crate::graphql::inputs::accounts::AddressInput;
use crate::graphql::inputs::feeds::{OrderSortBy, since};
use crate::graphql::inputs::metadata::{MetadataFilter, conditions};
use crate::graphql::types::order::OrderStatus;
use crate::services::cart::{BuyerIdentityChange, LineChange};
use crate::services::orders::OrderQuery;

/// What a new cart starts with.
#[derive(InputObject, Default)]
pub struct CartInput {
    /// Its first lines (at most 100), as `cartLinesAdd` adds them.
    #[graphql(default)]
    pub lines: Vec<CartLineInput>,
}

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
            variant: GlobalId::parse_as(&self.variant_id)?,
            quantity: self.quantity,
        })
    }
}

/// Who buys a cart and where it goes; a field left out keeps its value.
#[derive(InputObject)]
pub struct CartBuyerIdentityInput {
    /// Where the order confirmation goes.
    pub email: Option<String>,
    /// Where the goods go: it decides the delivery options and the taxes.
    pub shipping_address: Option<AddressInput>,
    /// Where the invoice goes.
    pub billing_address: Option<AddressInput>,
}

impl From<CartBuyerIdentityInput> for BuyerIdentityChange {
    fn from(input: CartBuyerIdentityInput) -> Self {
        Self {
            email: input.email,
            shipping_address: input.shipping_address.map(Into::into),
            billing_address: input.billing_address.map(Into::into),
        }
    }
}

/// What checkout needs besides the cart.
#[derive(InputObject)]
pub struct CheckoutInput {
    /// The cart to check out.
    pub cart_id: ID,
    /// Where the confirmation goes; by default the cart's buyer email.
    pub email: Option<String>,
    /// Where the goods go; by default the cart's shipping address. The cart is priced for it:
    /// its delivery option and taxes.
    pub shipping_address: Option<AddressInput>,
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
    /// Only the order with this number (`#1042`; the `#` may be left out).
    pub number: Option<String>,
    /// Only orders placed with this email address (compared without regard to case).
    pub email: Option<String>,
    /// Only orders placed at or after this time (`createdAt >= placedFrom`).
    pub placed_from: Option<DateTime<Utc>>,
    /// Only orders placed before this time (`createdAt < placedBefore`).
    pub placed_before: Option<DateTime<Utc>>,
    /// Only orders whose total is at least this amount of the shop's currency (`"50.00"`).
    pub total_at_least: Option<String>,
    /// Only orders whose total is at most this amount of the shop's currency.
    pub total_at_most: Option<String>,
    /// Only orders with these metadata entries (at most 5 conditions, all to hold; public or
    /// private).
    pub metadata: Option<Vec<MetadataFilter>>,
}

impl OrdersWhere {
    /// The service query, sorted by `sort_by` (newest first when not given); amounts are read
    /// in `currency`. A malformed number or amount is `BAD_USER_INPUT`.
    pub fn into_query(
        self,
        sort_by: Option<OrderSortBy>,
        currency: Currency,
    ) -> Result<OrderQuery, AppError> {
        let amount = |text: Option<String>, field: &str| {
            text.map(|text| {
                currency
                    .parse_amount(&text)
                    .map_err(|message| AppError::bad_input(format!("{field}: {message}")))
            })
            .transpose()
        };
        Ok(OrderQuery {
            status: self.status.map(Into::into),
            updated_since: since(self.updated_since),
            search: OrderSearch {
                id: self
                    .number
                    .map(|number| order_id_from_number(&number).map(OrderId))
                    .transpose()
                    .map_err(|message| AppError::bad_input(format!("number: {message}")))?,
                email: self.email.map(|email| email.trim().to_lowercase()),
                placed_from: since(self.placed_from),
                placed_before: since(self.placed_before),
                total_at_least: amount(self.total_at_least, "totalAtLeast")?,
                total_at_most: amount(self.total_at_most, "totalAtMost")?,
                // Whoever may list orders reads their private metadata.
                metadata: conditions(self.metadata, true)?,
            },
            sort: sort_by.map_or(RowSort::NEWEST_FIRST, RowSort::from),
        })
    }
}
