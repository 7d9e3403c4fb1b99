//! `Fulfillment` (a part of an order shipped together) with its lines, and `OrderNote` (a staff
//! note on an order).

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use crate::db::models::fulfillment::{
    Fulfillment, FulfillmentLine, FulfillmentWithLines, OrderNote,
};
use crate::domain::ids::{AccountId, OrderId};
use crate::domain::money::Currency;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::{LinesOf, Loader};
use crate::graphql::types::AccountNode;
use crate::graphql::types::order::OrderLineNode;

/// A part of an order shipped together: which units of which lines, and how it travels.
pub struct FulfillmentNode {
    row: Fulfillment,
    lines: Vec<FulfillmentLine>,
    currency: Currency,
}

impl FulfillmentNode {
    /// A fulfilment of an order in `currency`.
    pub fn new((row, lines): FulfillmentWithLines, currency: Currency) -> Self {
        Self {
            row,
            lines,
            currency,
        }
    }
}

/// A part of an order shipped together: which units of which lines, and how it travels.
#[Object(name = "Fulfillment")]
impl FulfillmentNode {
    /// Globally unique id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Fulfillment, self.row.id).into()
    }

    /// Who carries it (`DHL`, `La Poste`); empty when not given.
    async fn carrier(&self) -> &str {
        &self.row.carrier
    }

    /// The carrier's tracking number; empty when not given.
    async fn tracking_number(&self) -> &str {
        &self.row.tracking_number
    }

    /// Where the customer follows the parcel, if given.
    async fn tracking_url(&self) -> Option<&str> {
        self.row.tracking_url.as_deref()
    }

    /// When it shipped.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// The units shipped, per order line. At most 50 (an order's lines).
    async fn lines(&self) -> Vec<FulfillmentLineNode> {
        self.lines
            .iter()
            .map(|line| FulfillmentLineNode {
                row: line.clone(),
                order_id: self.row.order_id,
                currency: self.currency,
            })
            .collect()
    }
}

/// Units of one order line in a fulfilment.
pub struct FulfillmentLineNode {
    row: FulfillmentLine,
    order_id: OrderId,
    currency: Currency,
}

/// Units of one order line in a fulfilment.
#[Object(name = "FulfillmentLine")]
impl FulfillmentLineNode {
    /// Units of the line shipped in this fulfilment.
    async fn quantity(&self) -> i32 {
        self.row.quantity
    }

    /// The order line.
    async fn line(&self, ctx: &Context<'_>) -> Result<Option<OrderLineNode>> {
        let loader = ctx.data::<Loader>()?;
        let Some(lines) = loader.load_one(LinesOf(self.order_id)).await? else {
            return Ok(None);
        };
        let index = lines
            .iter()
            .position(|line| line.id == self.row.order_line_id);
        Ok(index.map(|index| OrderLineNode::plain(lines, index, self.currency)))
    }
}

/// A staff note on an order; never shown to its customer.
pub struct OrderNoteNode(OrderNote);

impl From<OrderNote> for OrderNoteNode {
    fn from(row: OrderNote) -> Self {
        Self(row)
    }
}

/// A staff note on an order; never shown to its customer.
#[Object(name = "OrderNote")]
impl OrderNoteNode {
    /// Globally unique id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::OrderNote, self.0.id).into()
    }

    /// What the note says.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// The staff account that wrote it; null when a partner app did, or the account is gone.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<AccountNode>> {
        let Some(author) = self.0.author_id else {
            return Ok(None);
        };
        let loader = ctx.data::<Loader>()?;
        Ok(loader
            .load_one(AccountId(author))
            .await?
            .map(AccountNode::from))
    }

    /// The partner app whose key wrote it, if one did (a global id).
    async fn app_id(&self) -> Option<ID> {
        self.0
            .app_id
            .map(|id| GlobalId::new(NodeKind::App, id).into())
    }

    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}
