//! The subscription root, served over WebSocket (graphql-transport-ws): an order's changes for
//! those who may see it, a customer's own orders, the event log for staff and partner keys
//! (resumable from a cursor), and stock availability for storefronts. Each yields when an event
//! in the log concerns it, read afresh for every event.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt as _};
use serde_json::Value;

use crate::db::models::event::EventRow;
use crate::domain::events::EventType as DomainEventType;
use crate::domain::ids::OrderId;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind, global_id_of};
use crate::graphql::pagination::{decode_cursor, encode_cursor};
use crate::graphql::types::event::{EventEdge, EventNode, EventType};
use crate::graphql::types::order::OrderNode;
use crate::services::events::{self, Event};
use crate::services::live::LiveEvents;
use crate::services::orders::{self, OrderCaller};

/// Most variants one `inventoryChanged` follows.
pub const MAX_WATCHED_VARIANTS: usize = 100;

/// Live updates.
#[derive(Default)]
pub struct Subscription;

/// A variant's availability changed.
#[derive(SimpleObject)]
pub struct InventoryAvailability {
    /// The variant's global id.
    pub variant_id: ID,
    /// Whether it can be bought now (stock on hand above zero).
    pub in_stock: bool,
}

/// Live updates over WebSocket (graphql-transport-ws at `/graphql`): each field yields when an
/// event in the log concerns it.
#[Subscription]
impl Subscription {
    /// The order each time it changes: placed, paid, fulfilled, cancelled or refunded. For its
    /// customer, for a guest with its access token, for staff, and for partner keys with
    /// `read_orders`. Yields the order as it is after the change.
    async fn order_updated(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's global id.")] id: ID,
        #[graphql(desc = "The order's access token (`bzo_…`), for guests.")] token: Option<String>,
    ) -> Result<impl Stream<Item = Result<OrderNode>> + use<>> {
        let request = ctx.request()?;
        let order_id: OrderId = GlobalId::parse_as(&id)?;
        let caller = OrderCaller {
            principal: request.principal,
            access_token: token,
        };
        let db = request.db.clone();
        let load = move || {
            let (db, caller) = (db.clone(), caller.clone());
            async move {
                db.run(move |conn| orders::load_visible(conn, &caller, order_id))
                    .await
                    .map(OrderNode::from)
                    .map_err(async_graphql::Error::from)
            }
        };
        // Who may follow it is checked when the subscription starts.
        load().await?;
        let events = live(ctx)?.follow(None).await?;
        Ok(events.filter_map(move |row| {
            let load = load.clone();
            async move {
                match row {
                    Err(error) => Some(Err(error.into())),
                    Ok(row) if is_order_event(&row, |id| id == order_id.0) => Some(load().await),
                    Ok(_) => None,
                }
            }
        }))
    }

    /// Your orders, each time one changes (placed, paid, fulfilled, cancelled or refunded):
    /// the order as it is after the change. For signed-in customers.
    async fn my_orders_updated(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<OrderNode>> + use<>> {
        let request = ctx.request()?;
        let Some(account) = request.principal.account_id() else {
            return Err(AppError::Unauthenticated("sign in to follow your orders".into()).into());
        };
        let me = Value::from(global_id_of(NodeKind::Account, account.0).to_string());
        let caller = OrderCaller::from(request.principal);
        let db = request.db.clone();
        let events = live(ctx)?.follow(None).await?;
        Ok(events.filter_map(move |row| {
            let (db, caller, me) = (db.clone(), caller.clone(), me.clone());
            async move {
                let row = match row {
                    Err(error) => return Some(Err(error.into())),
                    Ok(row) => row,
                };
                if !is_order_event(&row, |_| true) || !order_belongs_to(&row, &me) {
                    return None;
                }
                let order_id = OrderId(row.subject_id);
                Some(
                    db.run(move |conn| orders::load_visible(conn, &caller, order_id))
                        .await
                        .map(OrderNode::from)
                        .map_err(async_graphql::Error::from),
                )
            }
        }))
    }

    /// The event log as it grows, oldest first, each event with its cursor: staff read every
    /// kind, a partner key the kinds its scopes allow (see `EventType`). Pass the last cursor you
    /// processed as `after` when you reconnect and you miss none and see none twice; without
    /// it, events from now on.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only these kinds (at most 12; default: every kind the caller may read). Asking for a kind your key's scopes do not allow is FORBIDDEN."
        )]
        types: Option<Vec<EventType>>,
        #[graphql(desc = "Start after this cursor (the last event you processed).")] after: Option<
            String,
        >,
    ) -> Result<impl Stream<Item = Result<EventEdge>> + use<>> {
        let request = ctx.request()?;
        let requested = types.map(|kinds| kinds.into_iter().map(Into::into).collect::<Vec<_>>());
        let kinds: HashSet<&'static str> =
            events::readable_kinds(&request.principal, requested.as_deref())?
                .into_iter()
                .map(DomainEventType::as_str)
                .collect();
        let after = after
            .map(|cursor| decode_cursor::<i64>(&cursor))
            .transpose()?;
        let sees_personal_data = request.principal.sees_personal_data();
        let events = live(ctx)?.follow(after).await?;
        Ok(events.filter_map(move |row| {
            let edge = match row {
                Err(error) => Some(Err(error.into())),
                Ok(row) if kinds.contains(row.event_type.as_str()) => {
                    Event::read(EventRow::clone(&row), sees_personal_data).map(|event| {
                        Ok(EventEdge {
                            cursor: encode_cursor(&event.position),
                            node: EventNode::from(event),
                        })
                    })
                }
                Ok(_) => None,
            };
            std::future::ready(edge)
        }))
    }

    /// The variants' availability each time it changes: in stock or out of stock, never how
    /// many are left. For everyone (a storefront's product page).
    async fn inventory_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The variants to follow (at most 100).")] variant_ids: Vec<ID>,
    ) -> Result<impl Stream<Item = Result<InventoryAvailability>> + use<>> {
        if variant_ids.is_empty() || variant_ids.len() > MAX_WATCHED_VARIANTS {
            return Err(AppError::bad_input(format!(
                "`variantIds` lists 1 to {MAX_WATCHED_VARIANTS} variants"
            ))
            .into());
        }
        let watched = variant_ids
            .iter()
            .map(|id| GlobalId::parse_kind(id, NodeKind::Variant))
            .collect::<Result<HashSet<i64>, _>>()?;
        let events = live(ctx)?.follow(None).await?;
        Ok(events.filter_map(move |row| {
            let change = match row {
                Err(error) => Some(Err(error.into())),
                Ok(row)
                    if row.event_type == DomainEventType::InventoryChanged.as_str()
                        && watched.contains(&row.subject_id) =>
                {
                    availability_change(&row).map(|in_stock| {
                        Ok(InventoryAvailability {
                            variant_id: global_id_of(NodeKind::Variant, row.subject_id),
                            in_stock,
                        })
                    })
                }
                Ok(_) => None,
            };
            std::future::ready(change)
        }))
    }
}

fn live(ctx: &Context<'_>) -> Result<Arc<LiveEvents>> {
    Ok(ctx.data::<Arc<LiveEvents>>()?.clone())
}

/// Whether `row` is an order event about an order `wanted` accepts.
fn is_order_event(row: &EventRow, wanted: impl Fn(i64) -> bool) -> bool {
    row.subject_type == "Order"
        && row
            .event_type
            .parse::<DomainEventType>()
            .is_ok_and(DomainEventType::carries_order)
        && wanted(row.subject_id)
}

/// Whether the order in an order event's payload is the account `me`'s (its global id).
fn order_belongs_to(row: &EventRow, me: &Value) -> bool {
    serde_json::from_str::<Value>(&row.payload)
        .is_ok_and(|payload| payload["customer"]["id"] == *me)
}

/// The availability an `inventory.changed` event leaves, when it differs from before.
fn availability_change(row: &EventRow) -> Option<bool> {
    let payload: Value = serde_json::from_str(&row.payload).ok()?;
    let before = payload["previousQuantity"].as_i64()? > 0;
    let now = payload["quantity"].as_i64()? > 0;
    (before != now).then_some(now)
}
