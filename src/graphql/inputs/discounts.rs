//! Inputs of the staff discount code administration: a new code, changes to one, the list's
//! filters.

use async_graphql::{Enum, InputObject, MaybeUndefined};
use chrono::{DateTime, Utc};

use crate::graphql::types::Decimal;
use crate::services::discounts::{CodeChanges, CodeQuery};

/// How a discount code takes money off.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::pricing::DiscountType")]
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
    /// Valid from (a year from 1 to 9999).
    pub starts_at: Option<DateTime<Utc>>,
    /// Valid until (exclusive; a year from 1 to 9999).
    pub ends_at: Option<DateTime<Utc>>,
}

/// Changes to a discount code's rules (its text and kind stay). An omitted field keeps its
/// value; `usageLimit`, `startsAt` and `endsAt` sent as null are cleared. The result is checked
/// as a new code is.
#[derive(InputObject, Default)]
pub struct DiscountCodeUpdateInput {
    /// The new percentage (e.g. `"15"`) or amount (e.g. `"7.50"`), in the code's kind.
    pub value: Option<Decimal>,
    /// The new smallest subtotal it applies to (`"0"` for none).
    pub minimum_subtotal: Option<Decimal>,
    /// How many orders may use it in all; null: unlimited.
    pub usage_limit: MaybeUndefined<i32>,
    /// Valid from (a year from 1 to 9999); null: at once.
    pub starts_at: MaybeUndefined<DateTime<Utc>>,
    /// Valid until (exclusive; a year from 1 to 9999); null: no end.
    pub ends_at: MaybeUndefined<DateTime<Utc>>,
}

impl From<DiscountCodeUpdateInput> for CodeChanges {
    fn from(input: DiscountCodeUpdateInput) -> Self {
        let time = |t: DateTime<Utc>| t.naive_utc();
        Self {
            value: input.value.map(|v| v.0),
            minimum_subtotal: input.minimum_subtotal.map(|v| v.0),
            usage_limit: input.usage_limit.into(),
            starts_at: input.starts_at.map_value(time).into(),
            ends_at: input.ends_at.map_value(time).into(),
        }
    }
}

/// Filters of the staff list of discount codes.
#[derive(InputObject, Default)]
pub struct DiscountCodesWhere {
    /// Text the code contains (case-insensitive).
    pub search: Option<String>,
    /// `true`: only codes that can apply now as far as the code itself goes (enabled, started,
    /// not ended, not used up); `false`: only those that cannot.
    pub active: Option<bool>,
}

impl From<DiscountCodesWhere> for CodeQuery {
    fn from(input: DiscountCodesWhere) -> Self {
        Self {
            search: input.search,
            active: input.active,
        }
    }
}
