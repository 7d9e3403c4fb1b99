//! `DiscountCode` for staff: a code, its rules and how often it was used; its list types.

use async_graphql::{Context, ID, Object, Result, SimpleObject, Union};
use chrono::{DateTime, Utc};

use super::{Decimal, Money};
use crate::db::models::discount::DiscountCode;
use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::discounts::DiscountKind;

/// A percentage taken off the subtotal.
#[derive(SimpleObject, Debug, Clone)]
pub struct DiscountPercentage {
    /// The percentage, 1 to 100, e.g. `"10"`.
    pub percent: Decimal,
}

/// What a discount code takes off: a percentage of the subtotal, or a fixed amount (`Money`).
#[derive(Union)]
pub enum DiscountValue {
    /// A percentage of the subtotal.
    Percentage(DiscountPercentage),
    /// A fixed amount in the store currency, at most the subtotal.
    Amount(Money),
}

/// A discount code and its rules (staff).
pub struct DiscountCodeNode(DiscountCode);

impl From<DiscountCode> for DiscountCodeNode {
    fn from(row: DiscountCode) -> Self {
        Self(row)
    }
}

fn utc(time: Option<chrono::NaiveDateTime>) -> Option<DateTime<Utc>> {
    time.map(|t| t.and_utc())
}

/// A discount code and its rules (staff).
#[Object(name = "DiscountCode")]
impl DiscountCodeNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::DiscountCode, self.0.id).into()
    }

    /// The code customers type, upper-case.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// Percentage or fixed amount.
    async fn kind(&self) -> DiscountKind {
        self.0.kind.into()
    }

    /// What it takes off: `DiscountPercentage { percent: "10" }` for a percentage, `Money` for
    /// a fixed amount.
    async fn value(&self, ctx: &Context<'_>) -> Result<DiscountValue> {
        Ok(match DiscountKind::from(self.0.kind) {
            DiscountKind::Percentage => DiscountValue::Percentage(DiscountPercentage {
                percent: Decimal(self.0.value.to_string()),
            }),
            DiscountKind::FixedAmount => {
                DiscountValue::Amount(Money::new(self.0.value, ctx.shop()?.currency))
            }
        })
    }

    /// Smallest subtotal it applies to (zero: any).
    async fn minimum_subtotal(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.0.minimum_subtotal, ctx.shop()?.currency))
    }

    /// How many orders may use it in all; null: unlimited.
    async fn usage_limit(&self) -> Option<i32> {
        self.0.usage_limit
    }

    /// How many orders have used it (a cancelled or refunded order gives its use back).
    async fn times_used(&self) -> i32 {
        self.0.times_used
    }

    /// Valid from; null: from its creation.
    async fn starts_at(&self) -> Option<DateTime<Utc>> {
        utc(self.0.starts_at)
    }

    /// Valid until (exclusive); null: no end.
    async fn ends_at(&self) -> Option<DateTime<Utc>> {
        utc(self.0.ends_at)
    }

    /// When staff disabled it (then it applies to no cart or checkout); null while enabled.
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        utc(self.0.disabled_at)
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}

crate::connection_types!(
    DiscountCodeConnection,
    DiscountCodeEdge,
    DiscountCodeNode,
    "A page of discount codes.",
    "A discount code in a list."
);
