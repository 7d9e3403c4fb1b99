//! Order use cases: lists (a customer's own, or all for staff), status changes through the state
//! machine with their events and restocking, payment and refund through the gateway.
//!
//! Payment is idempotent twice over: a payment attempt is recorded (PENDING) under its key
//! before the gateway is asked, and a partial unique index allows one live charge per order, so
//! concurrent attempts cannot both reach the gateway; the gateway itself deduplicates by key.

use std::sync::Arc;

use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::db::models::order::{
    self, LineWithVariant, Order, OrderFilter, OrderLine, OrderWindow, OrderWithCustomer, Payment,
};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::accounts::{Principal, Role};
use crate::domain::ids::AccountId;
use crate::domain::orders::{OrderAction, OrderStatus};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult};
use crate::services::payments::{GatewayOutcome, PaymentGateway};

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

fn not_found() -> AppError {
    rejected(&["id"], RejectionCode::NotFound, "no such order")
}

/// The order if the caller may see it: its customer and staff may.
fn visible(order: Order, caller: &Principal) -> Option<Order> {
    let owner = order.user_id.map(AccountId);
    let allowed = caller.has_role(Role::Staff) || (owner.is_some() && owner == caller.account_id());
    allowed.then_some(order)
}

fn load(conn: &mut DbConnection, caller: &Principal, id: i64) -> AppResult<Order> {
    order::by_ids(conn, &[id])?
        .pop()
        .and_then(|order| visible(order, caller))
        .ok_or_else(not_found)
}

fn status_of(order: &Order) -> AppResult<OrderStatus> {
    order
        .status
        .parse()
        .map_err(|e: String| AppError::internal(anyhow::anyhow!(e)))
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

/// One page of orders, newest first: a customer's own, or everyone's for staff; read in one
/// blocking call with what `with` asks for.
pub async fn list(
    db: &Db,
    caller: Principal,
    status: Option<OrderStatus>,
    page: PageRequest<i64>,
    with: OrderPageWith,
) -> AppResult<OrderPage> {
    let user_id = if caller.has_role(Role::Staff) {
        None
    } else {
        Some(
            caller
                .account_id()
                .ok_or_else(|| AppError::Unauthenticated("sign in to see your orders".into()))?
                .0,
        )
    };
    let filter = OrderFilter {
        user_id,
        status: status.map(OrderStatus::as_str),
    };
    let window = OrderWindow {
        after: page.after,
        before: page.before,
        limit: page.fetch_limit(),
        from_end: page.from_end,
    };
    let page_size = page.size;
    let visibility = caller.catalog_visibility();
    let (rows, lines) = db
        .run(move |conn| {
            let rows = order::page(conn, &filter, &window, with.customers)?;
            // The page holds the first `page_size` rows; the one beyond only says there is more.
            let ids: Vec<i64> = rows.iter().take(page_size).map(|(o, _)| o.id).collect();
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

/// Applies `action` (fulfil or cancel) to an order, with its event and restocking.
pub async fn change_status(
    db: &Db,
    caller: Principal,
    id: i64,
    action: OrderAction,
) -> AppResult<Order> {
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let current = load(conn, &caller, id)?;
            // Customers may only cancel their own unpaid orders; everything else is staff work.
            let customer_cancel = action == OrderAction::Cancel;
            if !caller.has_role(Role::Staff) && !customer_cancel {
                return Err(AppError::Forbidden);
            }
            apply(conn, &caller, &current, action)?;
            load(conn, &caller, id)
        })
    })
    .await
}

/// Moves `order` through `action` inside the caller's transaction: conditional status update
/// (a concurrent change makes it fail cleanly), event, restock.
fn apply(
    conn: &mut DbConnection,
    caller: &Principal,
    current: &Order,
    action: OrderAction,
) -> AppResult<()> {
    let from = status_of(current)?;
    let transition = from.apply(action).map_err(AppError::rejected)?;
    let now = Utc::now().naive_utc();
    if !order::transition(conn, current.id, from.as_str(), transition.to.as_str(), now)? {
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
        Some(from.as_str()),
        transition.to.as_str(),
        caller.account_id().map(|a| a.0),
        now,
    )?;
    if transition.restocks {
        for line in order::lines_of(conn, &[current.id])? {
            if let Some(variant) = line.variant_id {
                order::return_stock(conn, variant, line.quantity)?;
            }
        }
    }
    Ok(())
}

/// How a payment attempt ended.
#[derive(Debug, Clone)]
pub struct PaymentResult {
    /// The order as it is now.
    pub order: Order,
    /// The attempt.
    pub payment: Payment,
}

fn is_unique_violation(error: &AppError) -> bool {
    matches!(error, AppError::Internal(cause) if matches!(
        cause.downcast_ref::<DieselError>(),
        Some(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
    ))
}

/// Pays an order with a payment token. The same `key` returns the first attempt's result; a
/// second live attempt with another key is refused while one is pending or after success.
pub async fn pay(
    db: &Db,
    gateway: &Arc<dyn PaymentGateway>,
    caller: Principal,
    id: i64,
    token: String,
    key: String,
) -> AppResult<PaymentResult> {
    let key = scoped_key(id, "charge", &key)?;
    // 1. Record the attempt (or find the earlier one with this key).
    let claim = {
        let key = key.clone();
        db.run(move |conn| {
            write_transaction(conn, |conn| {
                let current = load(conn, &caller, id)?;
                if let Some(earlier) = order::payment_by_key(conn, &key)? {
                    return Ok((current, earlier, false));
                }
                status_of(&current)?
                    .apply(OrderAction::Pay)
                    .map_err(AppError::rejected)?;
                let now = Utc::now().naive_utc();
                let payment_id =
                    order::insert_pending_payment(conn, id, "CHARGE", current.total, &key, now)?;
                let payment = order::payment_by_key(conn, &key)?
                    .filter(|p| p.id == payment_id)
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("payment row missing")))?;
                Ok((current, payment, true))
            })
        })
        .await
    };
    let (current, payment, fresh) = match claim {
        // Another request got there first: with this key (then this is a replay of it), or with
        // another key (then that payment is the order's one live charge).
        Err(error) if is_unique_violation(&error) => {
            let key = key.clone();
            let earlier = db
                .run(move |conn| {
                    let current = load(conn, &caller, id)?;
                    Ok(order::payment_by_key(conn, &key)?.map(|payment| (current, payment)))
                })
                .await?;
            let Some((current, payment)) = earlier else {
                return Err(rejected(
                    &["id"],
                    RejectionCode::InvalidTransition,
                    "this order is already paid or a payment is in progress",
                ));
            };
            (current, payment, false)
        }
        other => other?,
    };
    if !fresh && payment.status != "PENDING" {
        let order = db.run(move |conn| load(conn, &caller, id)).await?;
        return outcome(PaymentResult { order, payment });
    }
    // 2. Ask the gateway (outside any transaction; it deduplicates by key).
    let authorized = gateway
        .authorize(
            current.total,
            &current.currency,
            &token,
            &format!("{key}:authorize"),
        )
        .await;
    let captured = match authorized {
        Ok(GatewayOutcome::Succeeded { reference }) => {
            gateway.capture(&reference, &format!("{key}:capture")).await
        }
        other => other,
    };
    // 3. Record the answer and, on success, the transition.
    let result = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let (status, reference, message) = match &captured {
                    Ok(GatewayOutcome::Succeeded { reference }) => {
                        ("SUCCEEDED", reference.as_str(), "")
                    }
                    Ok(GatewayOutcome::Declined { message }) => ("DECLINED", "", message.as_str()),
                    Err(message) => ("FAILED", "", message.as_str()),
                };
                order::finish_payment(conn, payment.id, status, reference, message)?;
                let current = load(conn, &caller, id)?;
                // A concurrent request with the same key may have recorded it already.
                let still_unpaid = current.status == OrderStatus::PendingPayment.as_str();
                if status == "SUCCEEDED" && still_unpaid {
                    apply(conn, &caller, &current, OrderAction::Pay)?;
                }
                let order = load(conn, &caller, id)?;
                let payment = order::payment_by_key(conn, &key)?
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("payment row missing")))?;
                Ok(PaymentResult { order, payment })
            })
        })
        .await?;
    outcome(result)
}

/// A declined or failed attempt is a user error; the attempt stays recorded.
fn outcome(result: PaymentResult) -> AppResult<PaymentResult> {
    match result.payment.status.as_str() {
        "DECLINED" => Err(rejected(
            &["paymentToken"],
            RejectionCode::PaymentDeclined,
            format!("the payment was declined: {}", result.payment.message),
        )),
        "FAILED" => Err(rejected(
            &["paymentToken"],
            RejectionCode::PaymentFailed,
            "the payment gateway failed; retry with a new idempotency key",
        )),
        _ => Ok(result),
    }
}

/// Refunds a paid or fulfilled order in full (staff). Idempotent by `key`.
pub async fn refund(
    db: &Db,
    gateway: &Arc<dyn PaymentGateway>,
    caller: Principal,
    id: i64,
    key: String,
) -> AppResult<PaymentResult> {
    let key = scoped_key(id, "refund", &key)?;
    let claim = {
        let key = key.clone();
        db.run(move |conn| {
            write_transaction(conn, |conn| {
                let current = load(conn, &caller, id)?;
                if let Some(earlier) = order::payment_by_key(conn, &key)? {
                    return Ok((current, earlier, None, false));
                }
                status_of(&current)?
                    .apply(OrderAction::Refund)
                    .map_err(AppError::rejected)?;
                let charge = order::succeeded_charge(conn, id)?.ok_or_else(|| {
                    rejected(
                        &["id"],
                        RejectionCode::InvalidTransition,
                        "the order has no payment to refund",
                    )
                })?;
                let now = Utc::now().naive_utc();
                order::insert_pending_payment(conn, id, "REFUND", charge.amount, &key, now)?;
                let payment = order::payment_by_key(conn, &key)?
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("payment row missing")))?;
                Ok((current, payment, Some(charge), true))
            })
        })
        .await
    };
    let (_, payment, charge, fresh) = match claim {
        Err(error) if is_unique_violation(&error) => {
            return Err(rejected(
                &["id"],
                RejectionCode::InvalidTransition,
                "this order is already refunded or a refund is in progress",
            ));
        }
        other => other?,
    };
    let Some(charge) = charge.filter(|_| fresh) else {
        let order = db.run(move |conn| load(conn, &caller, id)).await?;
        return outcome(PaymentResult { order, payment });
    };
    let refunded = gateway
        .refund(&charge.gateway_reference, charge.amount, &key)
        .await;
    let result = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let (status, reference, message) = match &refunded {
                    Ok(GatewayOutcome::Succeeded { reference }) => {
                        ("SUCCEEDED", reference.as_str(), "")
                    }
                    Ok(GatewayOutcome::Declined { message }) => ("DECLINED", "", message.as_str()),
                    Err(message) => ("FAILED", "", message.as_str()),
                };
                order::finish_payment(conn, payment.id, status, reference, message)?;
                let current = load(conn, &caller, id)?;
                let refundable = status_of(&current)?.apply(OrderAction::Refund).is_ok();
                if status == "SUCCEEDED" && refundable {
                    apply(conn, &caller, &current, OrderAction::Refund)?;
                }
                let order = load(conn, &caller, id)?;
                let payment = order::payment_by_key(conn, &key)?
                    .ok_or_else(|| AppError::internal(anyhow::anyhow!("payment row missing")))?;
                Ok(PaymentResult { order, payment })
            })
        })
        .await?;
    outcome(result)
}

/// A client key made unique per order and purpose, checked for length.
fn scoped_key(order_id: i64, purpose: &str, key: &str) -> AppResult<String> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > 200 {
        return Err(rejected(
            &["idempotencyKey"],
            RejectionCode::Invalid,
            "an idempotency key has 1 to 200 characters",
        ));
    }
    Ok(format!("order-{order_id}:{purpose}:{key}"))
}
