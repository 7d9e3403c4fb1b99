//! `fulfillmentCreate` (ship an order in parts, with tracking) and `orderNoteAdd` (a staff note
//! on an order): staff, and partner keys with `WRITE_ORDERS`.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::domain::bounds::MAX_CART_LINES;
use crate::domain::ids::OrderId;
use crate::domain::partners::Scope;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::StaffOr;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::OrderNode;
use crate::graphql::types::fulfillment::{FulfillmentNode, OrderNoteNode};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::fulfillments::{self, FulfillmentRequest};

/// Units of one order line to ship.
#[derive(Debug, InputObject)]
pub struct FulfillmentLineInput {
    /// The order line (`OrderLine.id`).
    pub line_id: ID,
    /// Units to ship: 1 to the line's units not yet shipped.
    pub quantity: i32,
}

/// What a fulfilment ships and how it travels.
#[derive(Debug, InputObject)]
pub struct FulfillmentInput {
    /// The lines and units to ship (at most 50, each line once); leave it out to ship every
    /// unit not yet shipped.
    pub lines: Option<Vec<FulfillmentLineInput>>,
    /// Who carries it (`DHL`, `La Poste`): at most 100 characters.
    #[graphql(default)]
    pub carrier: String,
    /// The carrier's tracking number: at most 100 characters.
    #[graphql(default)]
    pub tracking_number: String,
    /// Where the customer follows the parcel: an `https://` or `http://` URL of at most 2,000
    /// characters.
    pub tracking_url: Option<String>,
}

impl FulfillmentInput {
    fn request(self) -> Result<FulfillmentRequest> {
        let lines = match self.lines {
            None => None,
            Some(lines) if lines.len() > MAX_CART_LINES => {
                return Err(
                    AppError::bad_input(format!("name at most {MAX_CART_LINES} lines")).into(),
                );
            }
            Some(lines) => Some(
                lines
                    .iter()
                    .map(|line| {
                        let id = GlobalId::parse_kind(&line.line_id, NodeKind::OrderLine)?;
                        Ok((id, line.quantity))
                    })
                    .collect::<Result<Vec<_>, AppError>>()?,
            ),
        };
        Ok(FulfillmentRequest {
            lines,
            carrier: self.carrier,
            tracking_number: self.tracking_number,
            tracking_url: self.tracking_url,
        })
    }
}

payload!(
    /// The result of `fulfillmentCreate`.
    FulfillmentCreatePayload {
        /// The order as it is now: `FULFILLED` once every unit has shipped.
        order: Option<OrderNode>,
        /// The new fulfilment.
        fulfillment: Option<FulfillmentNode>,
    }
);

payload!(
    /// The result of `orderNoteAdd`.
    OrderNoteAddPayload {
        /// The order.
        order: Option<OrderNode>,
        /// The new note.
        note: Option<OrderNoteNode>,
    }
);

/// Fulfilment and note writes.
#[derive(Default)]
pub struct FulfillmentMutation;

#[Object]
impl FulfillmentMutation {
    /// Ships some or all of a paid order's units, with the carrier and tracking the customer
    /// sees on the order. Raises `fulfillment.created`; once every unit has shipped, the order
    /// becomes `FULFILLED` (and `order.fulfilled` follows). Staff, and keys with `WRITE_ORDERS`.
    #[graphql(guard = "StaffOr(Scope::WriteOrders)")]
    async fn fulfillment_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order (`PAID`).")] id: ID,
        #[graphql(desc = "What to ship and how it travels.")] input: FulfillmentInput,
    ) -> Result<FulfillmentCreatePayload> {
        let request = ctx.request()?;
        let result = fulfillments::create(
            &request.db,
            request.principal.into(),
            GlobalId::parse_as::<OrderId>(&id)?,
            input.request()?,
        )
        .await;
        let currency = ctx.shop()?.currency;
        respond(result, |(order, made)| FulfillmentCreatePayload {
            order: Some(order.into()),
            fulfillment: Some(FulfillmentNode::new(made, currency)),
            ..Default::default()
        })
    }

    /// Adds a note to an order for staff (the customer never sees it): at most 100 an order.
    /// Staff, and keys with `WRITE_ORDERS`.
    #[graphql(guard = "StaffOr(Scope::WriteOrders)")]
    async fn order_note_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order.")] id: ID,
        #[graphql(desc = "The note: 1 to 5,000 characters.")] body: String,
    ) -> Result<OrderNoteAddPayload> {
        let request = ctx.request()?;
        let result = fulfillments::add_note(
            &request.db,
            request.principal.into(),
            GlobalId::parse_as::<OrderId>(&id)?,
            body,
        )
        .await;
        respond(result, |(order, note)| OrderNoteAddPayload {
            order: Some(order.into()),
            note: Some(note.into()),
            ..Default::default()
        })
    }
}
