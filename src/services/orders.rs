//! Order use cases: who may see an order (its customer, a guest with its access token, staff),
//! lists, status changes through the state machine with their events, restocking and discount
//! uses given back, and the sweep that expires unpaid orders. Payments are in
//! [`crate::services::payments::flow`].

use chrono::{NaiveDateTime, Utc};

use crate::db::models::order::{
    self, LineWithVariant, Order, OrderFilter, OrderLine, OrderSearch, OrderWithCustomer,
};
use crate::db::models::{discount, payment};
use crate::db::{Db, DbConnection};
use crate::domain::accounts::Principal;
use crate::domain::events::StockChangeReason;
use crate::domain::feeds::{RowKey, RowSort, RowWindow};
use crate::domain::ids::{OrderId, VariantId};
use crate::domain::orders::{OrderAction, OrderStatus};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::partners::Scope;
use crate::domain::payments::holds_reservation;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, Subject};
use crate::services::events::{Changes, StockChange, recorded_transaction};
use crate::services::tokens::hash_token;

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

fn not_found() -> AppError {
    rejected(&["id"], RejectionCode::NotFound, "no such order")
}

/// Who asks for an order: the caller, with a guest's order access token when one was sent.
#[derive(Debug, Clone)]
pub struct OrderCaller {
    /// The caller.
    pub principal: Principal,
    /// The access token checkout gave for one order (guests), if sent.
    pub access_token: Option<String>,
}

impl From<Principal> for OrderCaller {
    fn from(principal: Principal) -> Self {
        Self {
            principal,
            access_token: None,
        }
    }
}

/// Whether `caller` may see `order`: staff, a partner with `read_orders`, its customer, or
/// whoever holds its access token.
pub fn may_see(order: &Order, caller: &OrderCaller) -> bool {
    let owner = order.user_id;
    caller.principal.is_staff_or(Scope::ReadOrders)
        || caller.principal.has_scope(Scope::WriteOrders)
        || (owner.is_some() && owner == caller.principal.account_id())
        || caller.access_token.as_deref().is_some_and(|token| {
            order.access_token_hash.as_deref() == Some(hash_token(token).as_str())
        })
}

/// The order `id` if `caller` may see it; `NOT_FOUND` (a user error) otherwise, and
/// `UNAUTHENTICATED` for an anonymous caller without an access token.
pub fn load_visible(
    conn: &mut DbConnection,
    caller: &OrderCaller,
    id: OrderId,
) -> AppResult<Order> {
    if caller.principal == Principal::Anonymous && caller.access_token.is_none() {
        return Err(AppError::Unauthenticated(
            "sign in, or send the order's access token".into(),
        ));
    }
    order::by_ids(conn, &[id])?
        .pop()
        .filter(|order| may_see(order, caller))
        .ok_or_else(not_found)
}

/// The order a guest's access token opens.
pub async fn by_access_token(db: &Db, token: String) -> AppResult<Option<Order>> {
    if token.len() > 200 {
        return Ok(None);
    }
    db.run(move |conn| Ok(order::by_access_token_hash(conn, &hash_token(&token))?))
        .await
}

/// What a page of orders is read with, beside the orders: each read here instead of by a
/// loader afterwards saves the request a round trip to the database.
#[derive(Debug, Clone, Copy)]
pub struct OrderPageWith {
    /// The customers' accounts (joined to the page statement).
    pub customers: bool,
    /// The orders' lines, if asked for.
    pub lines: Option<LineDetail>,
}

/// How much of each order line to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineDetail {
    /// The line alone.
    Plain,
    /// The line with the variant it was bought as, and that variant's product.
    WithVariants,
}

/// The lines of a page's orders, read with the page.
#[derive(Debug)]
pub enum PageLines {
    /// Not asked for.
    NotRead,
    /// The lines alone.
    Plain(Vec<OrderLine>),
    /// The lines with their variants, as the caller may see them.
    WithVariants(Vec<LineWithVariant>),
}

/// A page of orders and what was read with it.
#[derive(Debug)]
pub struct OrderPage {
    /// The orders, each with its customer when asked for.
    pub orders: Page<OrderWithCustomer>,
    /// The lines of exactly the page's orders, when asked for.
    pub lines: PageLines,
}

/// Which orders a list shows, and in what order.
#[derive(Debug, Clone)]
pub struct OrderQuery {
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
    /// What staff search orders by: number, email, placing time, total.
    pub search: OrderSearch,
    /// The order of the list (newest first by default).
    pub sort: RowSort,
}

/// One page of orders in `query.sort` order: a customer's own, or everyone's for staff and
/// partners with `read_orders`; read in one blocking call with what `with` asks for.
pub async fn list(
    db: &Db,
    caller: Principal,
    query: OrderQuery,
    page: PageRequest<RowKey>,
    with: OrderPageWith,
) -> AppResult<OrderPage> {
    let user_id = if caller.is_staff_or(Scope::ReadOrders) {
        None
    } else if let Principal::Partner(_) = caller {
        return Err(AppError::Forbidden);
    } else {
        Some(
            caller
                .account_id()
                .ok_or_else(|| AppError::Unauthenticated("sign in to see your orders".into()))?,
        )
    };
    let (window, updated_since) = RowWindow::checked(query.sort, &page, query.updated_since)
        .map_err(AppError::BadUserInput)?;
    let filter = OrderFilter {
        user_id,
        status: query.status,
        updated_since,
        search: query.search,
    };
    let page_size = page.size;
    let visibility = caller.catalog_visibility();
    let (rows, lines) = db
        .run(move |conn| {
            let rows = order::page(conn, &filter, &window, with.customers)?;
            // The page holds the first `page_size` rows; the one beyond only says there is more.
            let ids: Vec<OrderId> = rows.iter().take(page_size).map(|(o, _)| o.id).collect();
            let lines = match with.lines {
                Some(LineDetail::Plain) if !ids.is_empty() => {
                    PageLines::Plain(order::lines_of(conn, &ids)?)
                }
                Some(LineDetail::WithVariants) if !ids.is_empty() => {
                    PageLines::WithVariants(order::lines_with_variants_of(conn, &ids, visibility)?)
                }
                _ => PageLines::NotRead,
            };
            Ok((rows, lines))
        })
        .await?;
    Ok(OrderPage {
        orders: page.into_page(rows),
        lines,
    })
}

/// Cancels an unpaid order, with its event and its stock and discount use given back: its
/// customer's, a guest's with the order's access token, or anyone's for staff and keys with
/// `WRITE_ORDERS` (recorded in the audit log).
pub async fn cancel(db: &Db, caller: OrderCaller, id: OrderId) -> AppResult<Order> {
    let currency = db.currency();
    db.run(move |conn| {
        recorded_transaction(conn, currency, |conn, changes| {
            let current = load_visible(conn, &caller, id)?;
            let staff_work = caller.principal.is_staff_or(Scope::WriteOrders);
            if matches!(caller.principal, Principal::Partner(_)) && !staff_work {
                return Err(AppError::Forbidden);
            }
            let actor = caller.principal.account_id().map(|a| a.0);
            let action = OrderAction::Cancel;
            apply_action(conn, changes, actor, &current, action, "")?;
            if staff_work {
                let details = serde_json::json!({ "status": [current.status, action.event()] });
                audit::record(conn, actor, "order.status", Subject::Order(id.0), details)?;
            }
            load_visible(conn, &caller, id)
        })
    })
    .await
}

/// Moves `current` through `action` inside the caller's transaction: conditional status update
/// (a concurrent change makes it fail cleanly), event (by `actor`, with `note`), stock and the
/// discount code's use given back when the order is called off.
pub fn apply_action(
    conn: &mut DbConnection,
    changes: &mut Changes,
    actor: Option<i64>,
    current: &Order,
    action: OrderAction,
    note: &str,
) -> AppResult<()> {
    let from = current.status;
    let transition = from.apply(action).map_err(AppError::rejected)?;
    let now = Utc::now().naive_utc();
    if !order::transition(conn, current.id, from, transition.to, now)? {
        return Err(rejected(
            &["id"],
            RejectionCode::InvalidTransition,
            "the order changed meanwhile; reload it",
        ));
    }
    order::insert_event(
        conn,
        current.id,
        action.event(),
        Some(from),
        transition.to,
        actor,
        note,
        now,
    )?;
    if transition.restocks {
        let reason = match action {
            OrderAction::Refund => StockChangeReason::OrderRefunded,
            _ => StockChangeReason::OrderCancelled,
        };
        let mut lines = order::lines_of(conn, &[current.id])?;
        // In variant order, as checkouts take stock: see `order::lock_variants`.
        lines.sort_by_key(|line| line.variant_id);
        for line in lines {
            // Units a fulfilment shipped are with the customer, not on the shelf.
            let unshipped = line.quantity - line.fulfilled_quantity;
            if unshipped > 0
                && let Some(variant_id) = line.variant_id
                && let Some(after) = order::return_stock(conn, variant_id, unshipped, now)?
            {
                changes.stock_changed(StockChange {
                    variant_id,
                    sku: &line.sku,
                    before: after - unshipped,
                    after,
                    reason,
                    order_id: Some(current.id),
                });
            }
        }
    }
    if matches!(action, OrderAction::Cancel | OrderAction::Refund)
        && let Some(code) = &current.discount_code
    {
        discount::return_use(conn, code)?;
    }
    changes.order(conn, action.event_type(), current.id)
}

/// Orders expired per sweep transaction.
const EXPIRY_BATCH: i64 = 50;

/// Cancels unpaid orders placed before `placed_before` whose stock no pending charge holds
/// (`domain::payments::holds_reservation`), giving their stock and discount uses back, each with a `CANCELLED` event noting the
/// expiry. Safe on several instances at once: each order is claimed by one of them. How many.
pub async fn expire_unpaid(db: &Db, placed_before: NaiveDateTime) -> AppResult<usize> {
    let currency = db.currency();
    let mut expired = 0;
    loop {
        let batch = db
            .run(move |conn| {
                recorded_transaction(conn, currency, |conn, changes| {
                    let orders = order::claim_expired_unpaid(conn, placed_before, EXPIRY_BATCH)?;
                    let claimed = orders.len();
                    // The batch gives stock back order after order: its variants are locked
                    // first, in the order checkouts lock them, so that neither waits for the
                    // other in a circle (PostgreSQL would end one of them).
                    let ids: Vec<OrderId> = orders.iter().map(|order| order.id).collect();
                    let mut variants: Vec<VariantId> = order::lines_of(conn, &ids)?
                        .into_iter()
                        .filter_map(|line| line.variant_id)
                        .collect();
                    variants.sort_unstable();
                    variants.dedup();
                    order::lock_variants(conn, &variants)?;
                    let mut expired = 0;
                    for current in &orders {
                        // Read again now the order is locked: a payment that started between the
                        // claim's snapshot and its lock (PostgreSQL) holds the stock.
                        if let Some(charge) = payment::pending_charge(conn, current.id)?
                            && holds_reservation(
                                charge.client_secret.is_some(),
                                charge.created_at,
                                placed_before,
                            )
                        {
                            continue;
                        }
                        expired += 1;
                        apply_action(
                            conn,
                            changes,
                            None,
                            current,
                            OrderAction::Cancel,
                            "unpaid when its reservation ran out",
                        )?;
                    }
                    Ok((claimed, expired))
                })
            })
            .await?;
        let (claimed, batch) = batch;
        expired += batch;
        if claimed < EXPIRY_BATCH as usize || batch == 0 {
            return Ok(expired);
        }
    }
}
