//! Shipping an order in parts, and staff notes on orders. A fulfilment ships units of some
//! lines under the order's row lock, raises `fulfillment.created`, and moves the order to
//! `FULFILLED` (with `order.fulfilled`) once every unit has shipped; notes are for staff and
//! partner apps, never for the customer.

use chrono::Utc;
use serde_json::json;

use crate::db::Db;
use crate::db::models::event::Tracked;
use crate::db::models::fulfillment::{self, FulfillmentWithLines, OrderNote};
use crate::db::models::metadata::lock_owner;
use crate::db::models::order::{self, Order};
use crate::domain::accounts::Principal;
use crate::domain::bounds::room_for;
use crate::domain::events::EventType;
use crate::domain::fulfillments::{
    LineProgress, MAX_FULFILLMENTS_PER_ORDER, Tracking, plan_shipment, ships_everything,
};
use crate::domain::ids::{OrderId, global_id};
use crate::domain::metadata::MetadataOwner;
use crate::domain::orders::{MAX_NOTES_PER_ORDER, OrderAction, checked_note};
use crate::domain::partners::Scope;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::recorded_transaction;
use crate::services::orders::{OrderCaller, apply_action, load_visible};

/// What to ship and how it travels.
#[derive(Debug, Clone, Default)]
pub struct FulfillmentRequest {
    /// Units per order line (line row id, quantity); `None` ships every unit left.
    pub lines: Option<Vec<(i64, i32)>>,
    /// Who carries it; may be empty.
    pub carrier: String,
    /// The carrier's tracking number; may be empty.
    pub tracking_number: String,
    /// Where the customer follows the parcel.
    pub tracking_url: Option<String>,
}

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

/// Ships what `request` names of a paid order (staff, or a key with `WRITE_ORDERS`): the order
/// as it is after, and the new fulfilment. Faults in the request point into the `input`
/// argument.
pub async fn create(
    db: &Db,
    caller: OrderCaller,
    order_id: OrderId,
    request: FulfillmentRequest,
) -> AppResult<(Order, FulfillmentWithLines)> {
    if !caller.principal.is_staff_or(Scope::WriteOrders) {
        return Err(AppError::Forbidden);
    }
    let tracking = Tracking::checked(
        &request.carrier,
        &request.tracking_number,
        request.tracking_url.as_deref(),
    )
    .map_err(|rejection| AppError::rejected(rejection.under("input")))?;
    let currency = db.currency();
    let actor = db.actor();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let now = Utc::now().naive_utc();
            if !fulfillment::lock_if_paid(conn, order_id, now)? {
                let current = load_visible(conn, &caller, order_id)?;
                current
                    .status
                    .apply(OrderAction::Fulfil)
                    .map_err(AppError::rejected)?;
                return Err(rejected(
                    &["id"],
                    RejectionCode::InvalidTransition,
                    "the order changed meanwhile; reload it",
                ));
            }
            let lines = order::lines_of(conn, &[order_id])?;
            let progress: Vec<LineProgress> = lines
                .iter()
                .map(|line| LineProgress {
                    line_id: line.id,
                    quantity: line.quantity,
                    fulfilled: line.fulfilled_quantity,
                })
                .collect();
            room_for(
                fulfillment::count_of_order(conn, order_id)?,
                1,
                MAX_FULFILLMENTS_PER_ORDER,
                &["id"],
                "fulfilments per order",
            )
            .map_err(AppError::rejected)?;
            let shipment =
                plan_shipment(&progress, request.lines.as_deref()).map_err(|rejection| {
                    match rejection.code {
                        RejectionCode::InvalidTransition => AppError::rejected(rejection),
                        _ => AppError::rejected(rejection.under("input")),
                    }
                })?;
            let made = fulfillment::insert(conn, order_id, &shipment, &tracking, now)?.ok_or_else(
                || {
                    rejected(
                        &["input", "lines"],
                        RejectionCode::Stale,
                        "the order's lines changed meanwhile; reload it",
                    )
                },
            )?;
            changes.order(conn, EventType::FulfillmentCreated, order_id)?;
            if ships_everything(&progress, &shipment) {
                let current = load_visible(conn, &caller, order_id)?;
                apply_action(conn, changes, actor, &current, OrderAction::Fulfil, "")?;
            }
            let shipped: Vec<_> = shipment
                .iter()
                .map(|(&line, quantity)| {
                    json!({ "line": global_id("OrderLine", line), "quantity": quantity })
                })
                .collect();
            let details = json!({
                "fulfillment": global_id("Fulfillment", made.0.id),
                "lines": shipped,
                "carrier": made.0.carrier,
                "trackingNumber": made.0.tracking_number,
            });
            audit::record(
                conn,
                actor,
                "order.fulfill",
                Subject::Order(order_id.0),
                details,
            )?;
            Ok((load_visible(conn, &caller, order_id)?, made))
        })
    })
    .await
}

/// Adds a note to an order (staff, or a key with `WRITE_ORDERS`): the order and the note.
pub async fn add_note(
    db: &Db,
    caller: OrderCaller,
    order_id: OrderId,
    body: String,
) -> AppResult<(Order, OrderNote)> {
    if !caller.principal.is_staff_or(Scope::WriteOrders) {
        return Err(AppError::Forbidden);
    }
    let body = checked_note(&body).map_err(AppError::rejected)?;
    let (author_id, app_id) = match &caller.principal {
        Principal::Partner(partner) => (None, Some(partner.app_id)),
        principal => (principal.account_id().map(|a| a.0), None),
    };
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            if !lock_owner(conn, MetadataOwner::Order(order_id))? {
                return Err(rejected(&["id"], RejectionCode::NotFound, "no such order"));
            }
            room_for(
                fulfillment::count_notes(conn, order_id)?,
                1,
                MAX_NOTES_PER_ORDER,
                &["id"],
                "notes per order",
            )
            .map_err(AppError::rejected)?;
            let now = Utc::now().naive_utc();
            let note = fulfillment::insert_note(conn, order_id, author_id, app_id, &body, now)?;
            changes.touch(Tracked::Orders, order_id);
            Ok((load_visible(conn, &caller, order_id)?, note))
        })
    })
    .await
}
