//! The payment use cases: paying an order, refunding it, applying the provider's webhook events
//! and reconciling attempts whose outcome is not known.
//!
//! Every attempt is recorded PENDING under its idempotency key before the provider is asked, and
//! the provider is always asked with that same key, so money moves at most once:
//! - an answer that is lost leaves the attempt PENDING; a retry with the same key, the
//!   provider's webhook or the reconcile job settles it (whichever comes first; the others find
//!   it settled);
//! - a charge may only start while the order waits for payment (checked under the order's row
//!   lock), and one attempt per order and kind is in flight at a time (a unique index);
//! - a charge that succeeds on an order that can no longer take it (cancelled meanwhile, or
//!   paid by another charge) is refunded automatically, by the same machinery.
//!
//! An order takes at most `MAX_CHARGE_ATTEMPTS_PER_ORDER` charge attempts and
//! `MAX_REFUND_ATTEMPTS_PER_ORDER` refund attempts (`domain::bounds`), which bounds its
//! `payments` and `events` lists.

use std::sync::Arc;

use chrono::{NaiveDateTime, Utc};

use super::{
    ChargeRequest, ChargeState, ChargeStatus, GatewayError, GatewayResult, PaymentGateway,
    ProviderEvent, ProviderEventKind, RefundState, RefundStatus,
};
use crate::db::models::event::Tracked;
use crate::db::models::order::{self, Order};
use crate::db::models::payment::{self, NewPayment, Payment, Settlement};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::bounds::{
    MAX_CHARGE_ATTEMPTS_PER_ORDER, MAX_REFUND_ATTEMPTS_PER_ORDER, room_for,
};
use crate::domain::idempotency::IdempotencyKey;
use crate::domain::ids::OrderId;
use crate::domain::money::Currency;
use crate::domain::orders::{OrderAction, OrderEventType};
use crate::domain::partners::Scope;
use crate::domain::payments::{
    FIRST_CHECK_AFTER, PaymentKind, PaymentStatus, REPLAY_WINDOW, next_check_delay,
};
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult, is_unique_violation};
use crate::services::audit::{self, Subject};
use crate::services::events::{Changes, recorded_transaction};
use crate::services::orders::{OrderCaller, apply_action, load_visible};
use crate::services::tokens::hash_parts;

/// Pending attempts the reconcile job takes per round: each is asked about in turn, so the
/// round ends well within [`RECONCILE_LEASE`] even when every call runs to its timeout.
const RECONCILE_BATCH: i64 = 10;

/// How long a round's attempts are its own: no other instance asks about them meanwhile.
const RECONCILE_LEASE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Checks after which an attempt the provider keeps refusing to tell about is given up as
/// failed (and logged for a person to look at): past a day, beyond the provider's memory of
/// idempotency keys.
const MAX_CHECKS: i32 = 30;

fn rejected(field: &[&str], code: RejectionCode, message: impl Into<String>) -> AppError {
    AppError::rejected(Rejection::new(field, code, message))
}

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn later(delay: std::time::Duration) -> NaiveDateTime {
    now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::minutes(1))
}

/// How a payment or refund attempt stands, with its order.
#[derive(Debug, Clone)]
pub struct PaymentResult {
    /// The order as it is now.
    pub order: Order,
    /// The attempt as it is now.
    pub payment: Payment,
}

/// A client's idempotency key, checked and scoped to the order and purpose.
pub fn scoped_key(order_id: OrderId, purpose: &str, key: &str) -> AppResult<String> {
    let key = IdempotencyKey::parse(key, &["idempotencyKey"]).map_err(AppError::rejected)?;
    Ok(format!("{}{}", key_scope(order_id, purpose), key.as_str()))
}

/// What every key [`scoped_key`] makes for this order and purpose starts with.
fn key_scope(order_id: OrderId, purpose: &str) -> String {
    format!("order-{order_id}:{purpose}:")
}

/// Refuses an attempt of `kind` made through the API (`purpose`) when the order already has
/// `most` of them: `LIMIT_REACHED`. Bounds the order's payments (and so its `payments` list).
fn room_for_attempt(
    conn: &mut DbConnection,
    order_id: OrderId,
    kind: PaymentKind,
    purpose: &str,
    most: usize,
    what: &str,
) -> AppResult<()> {
    let made = payment::count_of_order(conn, order_id, kind, &key_scope(order_id, purpose))?;
    room_for(made, 1, most, &["id"], what).map_err(AppError::rejected)
}

/// The attempt under `key` if the request is the same one; `IDEMPOTENCY_KEY_REUSED` if not.
fn same_request(earlier: Payment, hash: &str) -> AppResult<Payment> {
    if earlier.request_hash.is_empty() || earlier.request_hash == hash {
        Ok(earlier)
    } else {
        Err(rejected(
            &["idempotencyKey"],
            RejectionCode::IdempotencyKeyReused,
            "this idempotency key was used for a different request",
        ))
    }
}

/// What the claim step found or made.
enum Claim {
    /// A new attempt, to send to the provider.
    Fresh(Payment),
    /// The attempt this key made before.
    Earlier(Payment),
}

/// Pays an order with `payment_method`. The same key returns the first attempt (asking the
/// provider again, with the same key, while its outcome is unknown); another attempt is refused
/// while one is in flight or after the order is paid.
pub async fn pay(
    db: &Db,
    gateway: &Arc<dyn PaymentGateway>,
    caller: OrderCaller,
    order_id: OrderId,
    payment_method: String,
    client_key: String,
) -> AppResult<PaymentResult> {
    let currency = db.currency();
    let method = payment_method.trim().to_owned();
    if method.is_empty() || method.len() > 255 || method.chars().any(char::is_control) {
        return Err(rejected(
            &["paymentToken"],
            RejectionCode::Invalid,
            "a payment token has 1 to 255 bytes, none of them control characters",
        ));
    }
    let key = scoped_key(order_id, "charge", &client_key)?;
    let hash = hash_parts(&[&order_id.to_string(), &method]);
    let provider = gateway.name();
    let claim = {
        let (caller, key, hash, method) = (caller.clone(), key.clone(), hash.clone(), method);
        db.run(move |conn| {
            recorded_transaction(conn, currency, |conn, changes| {
                let current = load_visible(conn, &caller, order_id)?;
                if let Some(earlier) = payment::by_key(conn, &key)? {
                    return Ok(Claim::Earlier(same_request(earlier, &hash)?));
                }
                current
                    .status
                    .apply(OrderAction::Pay)
                    .map_err(AppError::rejected)?;
                let now = now();
                // The order's row lock: a charge settling concurrently commits first, and then
                // this order no longer waits for payment.
                if !order::lock_if_unpaid(conn, order_id, now)? {
                    return Err(already_paid());
                }
                // Its `updated_at` moved, and it gains a payment attempt: feeds list it again.
                changes.touch(Tracked::Orders, order_id);
                room_for_attempt(
                    conn,
                    order_id,
                    PaymentKind::Charge,
                    "charge",
                    MAX_CHARGE_ATTEMPTS_PER_ORDER,
                    "payment attempts per order",
                )?;
                // A charge left waiting for the customer (3-D Secure they never finished) gives
                // way to a new attempt; should they finish it after all, the provider's webhook
                // records it and it is refunded, as any charge on a paid order.
                if let Some(waiting) = payment::pending_charge(conn, order_id)?
                    && waiting.client_secret.is_some()
                {
                    let abandoned = Settlement {
                        status: PaymentStatus::Failed,
                        reference: &waiting.gateway_reference,
                        message: "abandoned for a newer attempt",
                        client_secret: None,
                        next_check_at: None,
                    };
                    payment::settle(conn, waiting.id, &abandoned, now)?;
                }
                // Nothing to take (a full discount and free shipping): paid at once; providers
                // refuse charges of zero.
                let free = current.total == 0;
                let attempt = payment::insert(
                    conn,
                    &NewPayment {
                        order_id,
                        kind: PaymentKind::Charge,
                        amount: current.total,
                        status: if free {
                            PaymentStatus::Succeeded
                        } else {
                            PaymentStatus::Pending
                        },
                        idempotency_key: &key,
                        provider,
                        payment_method: &method,
                        request_hash: &hash,
                        parent_id: None,
                        next_check_at: (!free).then(|| later(FIRST_CHECK_AFTER)),
                        created_at: now,
                        updated_at: Some(now),
                    },
                )?;
                if free {
                    apply_action(
                        conn,
                        changes,
                        None,
                        &current,
                        OrderAction::Pay,
                        "nothing to pay",
                    )?;
                    return Ok(Claim::Earlier(attempt));
                }
                Ok(Claim::Fresh(attempt))
            })
        })
        .await
    };
    let attempt = match claim {
        Ok(Claim::Fresh(attempt)) | Ok(Claim::Earlier(attempt)) => attempt,
        // Another request got there first: with this key (then this is a retry of it), or with
        // another key (then that attempt is the order's one in flight).
        Err(error) if is_unique_violation(&error) => {
            let (key, hash) = (key.clone(), hash.clone());
            let earlier = db.run(move |conn| Ok(payment::by_key(conn, &key)?)).await?;
            match earlier {
                Some(earlier) => same_request(earlier, &hash)?,
                None => {
                    return Err(rejected(
                        &["id"],
                        RejectionCode::InvalidTransition,
                        "a payment of this order is in progress; retry with its idempotency key",
                    ));
                }
            }
        }
        Err(error) => return Err(error),
    };
    let attempt = if attempt.status == PaymentStatus::Pending {
        drive(db, gateway, attempt).await?
    } else {
        attempt
    };
    let order = {
        let caller = caller.clone();
        db.run(move |conn| load_visible(conn, &caller, order_id))
            .await?
    };
    payment_outcome(PaymentResult {
        order,
        payment: attempt,
    })
}

fn already_paid() -> AppError {
    rejected(
        &["id"],
        RejectionCode::InvalidTransition,
        "this order no longer waits for payment",
    )
}

/// A declined or failed attempt is a user error; the attempt stays recorded. A pending one is
/// an answer: the payment's status says what happens next.
fn payment_outcome(result: PaymentResult) -> AppResult<PaymentResult> {
    match result.payment.status {
        PaymentStatus::Declined => Err(rejected(
            &["paymentToken"],
            RejectionCode::PaymentDeclined,
            format!("the payment was declined: {}", result.payment.message),
        )),
        PaymentStatus::Failed => Err(rejected(
            &["paymentToken"],
            RejectionCode::PaymentFailed,
            "the payment provider could not take the payment and nothing was charged; try again \
             with a new idempotency key",
        )),
        PaymentStatus::Pending | PaymentStatus::Succeeded => Ok(result),
    }
}

/// Asks the provider about a pending attempt (with its key, or by its reference once known)
/// and records the answer; then drives the refunds the answer calls for. The attempt as it is
/// afterwards.
async fn drive(db: &Db, gateway: &Arc<dyn PaymentGateway>, attempt: Payment) -> AppResult<Payment> {
    let currency = db.currency();
    let id = attempt.id;
    if attempt.provider != gateway.name() {
        // Made through another provider (before a switch): this one cannot tell.
        tracing::error!(
            payment = id,
            provider = attempt.provider,
            "a pending attempt of another payment provider: settle it there, by hand"
        );
        let later = later(next_check_delay(MAX_CHECKS));
        db.run(move |conn| Ok(payment::postpone(conn, id, later)?))
            .await?;
        return Ok(attempt);
    }
    match attempt.kind {
        PaymentKind::Charge if replay_too_late(&attempt) => {
            // The provider forgets idempotency keys after a day: asking again now could charge
            // a second time. A person must look the charge up (metadata.payment_id).
            tracing::error!(
                payment = id,
                order = attempt.order_id.0,
                "a charge's outcome is still unknown after a day: check it at the provider"
            );
            let gave_up = Settlement {
                status: PaymentStatus::Failed,
                reference: "",
                message: "outcome unknown after a day; check the provider",
                client_secret: None,
                next_check_at: None,
            };
            db.run(move |conn| Ok(payment::settle(conn, id, &gave_up, now())?))
                .await?;
        }
        PaymentKind::Charge => {
            let answer = ask_about_charge(db, gateway, &attempt).await;
            let asked_by_reference = !attempt.gateway_reference.is_empty();
            let refunds = db
                .run(move |conn| {
                    recorded_transaction(conn, currency, |conn, changes| {
                        record_charge_answer(conn, changes, id, &answer, asked_by_reference)
                    })
                })
                .await?;
            drive_all(db, gateway, refunds).await;
        }
        PaymentKind::Refund => {
            let answer = ask_about_refund(db, &**gateway, &attempt).await;
            db.run(move |conn| {
                recorded_transaction(conn, currency, |conn, changes| {
                    record_refund_answer(conn, changes, id, &answer)
                })
            })
            .await?;
        }
    }
    db.run(move |conn| {
        payment::by_id(conn, id)?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("payment {id} vanished")))
    })
    .await
}

/// Whether asking again with the attempt's key could be taken as a new request: the charge's
/// reference is not known and the key is older than the provider keeps keys.
fn replay_too_late(attempt: &Payment) -> bool {
    let window = chrono::Duration::from_std(REPLAY_WINDOW).unwrap_or(chrono::Duration::hours(23));
    attempt.gateway_reference.is_empty() && attempt.created_at + window < now()
}

/// Drives refunds one after the other; a failure leaves them to the reconcile job.
async fn drive_all(db: &Db, gateway: &Arc<dyn PaymentGateway>, refunds: Vec<Payment>) {
    for refund in refunds {
        let id = refund.id;
        if let Err(error) = Box::pin(drive(db, gateway, refund)).await {
            tracing::warn!(payment = id, ?error, "refund left to the reconcile job");
        }
    }
}

async fn ask_about_charge(
    db: &Db,
    gateway: &Arc<dyn PaymentGateway>,
    attempt: &Payment,
) -> GatewayResult<ChargeState> {
    if !attempt.gateway_reference.is_empty() {
        return gateway.charge_status(&attempt.gateway_reference).await;
    }
    let order_id = attempt.order_id;
    let currency = match db
        .run(move |conn| Ok(order::by_ids(conn, &[order_id])?.pop()))
        .await
    {
        Ok(Some(order)) => order.currency,
        Ok(None) => return Err(GatewayError::Refused("the order is gone".into())),
        Err(_) => return Err(GatewayError::Unknown("the database is unavailable".into())),
    };
    gateway
        .charge(&ChargeRequest {
            amount: attempt.amount,
            currency,
            payment_method: attempt.payment_method.clone(),
            idempotency_key: attempt.idempotency_key.clone(),
            order_id,
            payment_id: attempt.id,
        })
        .await
}

async fn ask_about_refund(
    db: &Db,
    gateway: &dyn PaymentGateway,
    attempt: &Payment,
) -> GatewayResult<RefundState> {
    if !attempt.gateway_reference.is_empty() {
        return gateway.refund_status(&attempt.gateway_reference).await;
    }
    let Some(parent) = attempt.parent_id else {
        return Err(GatewayError::Refused("a refund without its charge".into()));
    };
    let charge = match db.run(move |conn| Ok(payment::by_id(conn, parent)?)).await {
        Ok(Some(charge)) => charge,
        Ok(None) => return Err(GatewayError::Refused("the charge is gone".into())),
        Err(_) => return Err(GatewayError::Unknown("the database is unavailable".into())),
    };
    gateway
        .refund(
            &charge.gateway_reference,
            attempt.amount,
            &attempt.idempotency_key,
        )
        .await
}

/// Records the provider's answer about charge `id`, moves the order on a success, and returns
/// the refunds that a success on an order that cannot take it calls for (recorded PENDING, to
/// be driven once this transaction commits).
fn record_charge_answer(
    conn: &mut DbConnection,
    changes: &mut Changes,
    id: i64,
    answer: &GatewayResult<ChargeState>,
    asked_by_reference: bool,
) -> AppResult<Vec<Payment>> {
    let now = now();
    let Some(attempt) = payment::by_id(conn, id)? else {
        return Ok(Vec::new());
    };
    match answer {
        Ok(ChargeState {
            reference,
            status: ChargeStatus::Succeeded,
        }) => charge_succeeded(conn, changes, attempt, reference, now),
        Ok(ChargeState {
            reference,
            status: ChargeStatus::Declined { message },
        }) => {
            let settlement = Settlement {
                status: PaymentStatus::Declined,
                reference,
                message,
                client_secret: None,
                next_check_at: None,
            };
            payment::settle(conn, id, &settlement, now)?;
            Ok(Vec::new())
        }
        Ok(ChargeState { reference, status }) => {
            let client_secret = match status {
                ChargeStatus::RequiresAction { client_secret } => Some(client_secret.as_str()),
                _ => None,
            };
            let settlement = Settlement {
                status: PaymentStatus::Pending,
                reference,
                message: "",
                client_secret,
                next_check_at: None,
            };
            if payment::settle(conn, id, &settlement, now)? {
                payment::postpone(conn, id, later(next_check_delay(attempt.checks)))?;
            }
            Ok(Vec::new())
        }
        // Nothing happened at the provider, and no earlier call of this attempt may have done
        // anything either. A refusal while checking on a known charge, or after an unknown
        // answer, says nothing about the money: keep asking (up to a point).
        Err(GatewayError::Refused(message))
            if (!asked_by_reference && attempt.checks == 0) || attempt.checks >= MAX_CHECKS =>
        {
            if attempt.checks >= MAX_CHECKS {
                tracing::error!(payment = id, %message, "a charge could not be settled: check it at the provider");
            }
            let settlement = Settlement {
                status: PaymentStatus::Failed,
                reference: "",
                message,
                client_secret: None,
                next_check_at: None,
            };
            payment::settle(conn, id, &settlement, now)?;
            Ok(Vec::new())
        }
        Err(error) => {
            tracing::warn!(payment = id, %error, "payment outcome unknown; it stays pending");
            payment::postpone(conn, id, later(next_check_delay(attempt.checks)))?;
            Ok(Vec::new())
        }
    }
}

/// The charge `attempt` took the money: the order is paid, or, when it cannot take a payment
/// any more, the money goes back.
fn charge_succeeded(
    conn: &mut DbConnection,
    changes: &mut Changes,
    attempt: Payment,
    reference: &str,
    now: NaiveDateTime,
) -> AppResult<Vec<Payment>> {
    // The order's row lock first (the order in which a payment claim takes its locks, so the two
    // cannot deadlock): a cancel or the expiry sweep committed meanwhile is seen, and decides
    // between paying the order and paying the money back.
    let waits_for_payment = order::lock_if_unpaid(conn, attempt.order_id, now)?;
    if waits_for_payment {
        changes.touch(Tracked::Orders, attempt.order_id);
    }
    let settlement = Settlement {
        status: PaymentStatus::Succeeded,
        reference,
        message: "",
        client_secret: None,
        next_check_at: None,
    };
    // Pending, or declined or failed at first and completed by the customer after all.
    let settled = payment::settle(conn, attempt.id, &settlement, now)?
        || payment::mark_succeeded_late(conn, attempt.id, reference, now)?;
    if !settled {
        return Ok(Vec::new());
    }
    let Some(current) = order::by_ids(conn, &[attempt.order_id])?.pop() else {
        return Ok(Vec::new());
    };
    if waits_for_payment {
        apply_action(conn, changes, None, &current, OrderAction::Pay, "")?;
        return Ok(Vec::new());
    }
    // Cancelled (or expired) meanwhile, or paid by another charge: pay it back.
    let refund = payment::insert(
        conn,
        &NewPayment {
            order_id: attempt.order_id,
            kind: PaymentKind::Refund,
            amount: attempt.amount,
            status: PaymentStatus::Pending,
            idempotency_key: &automatic_refund_key(attempt.id),
            provider: &attempt.provider,
            payment_method: "",
            request_hash: "",
            parent_id: Some(attempt.id),
            next_check_at: Some(now),
            created_at: now,
            updated_at: Some(now),
        },
    )?;
    order::insert_event(
        conn,
        attempt.order_id,
        OrderEventType::PaymentReversed,
        Some(current.status),
        current.status,
        None,
        "a charge succeeded after the order stopped waiting for payment; it is refunded",
        now,
    )?;
    Ok(vec![refund])
}

fn automatic_refund_key(charge_id: i64) -> String {
    format!("payment-{charge_id}:automatic-refund")
}

/// What staff paid back of an order with `payments` (its attempts): its requested refunds that
/// succeeded. Automatic refunds of unwanted charges are not counted: that money never paid for
/// the order.
pub fn refunded_total(payments: &[Payment]) -> i64 {
    payments
        .iter()
        .filter(|p| p.kind == PaymentKind::Refund && p.status == PaymentStatus::Succeeded)
        .filter(|p| !is_automatic_refund(p))
        .map(|p| p.amount)
        .sum()
}

fn is_automatic_refund(refund: &Payment) -> bool {
    refund
        .parent_id
        .is_some_and(|charge| refund.idempotency_key == automatic_refund_key(charge))
}

/// Records the provider's answer about refund `id`; a requested refund that succeeds moves the
/// order to REFUNDED (restocking as the rules say).
fn record_refund_answer(
    conn: &mut DbConnection,
    changes: &mut Changes,
    id: i64,
    answer: &GatewayResult<RefundState>,
) -> AppResult<()> {
    let now = now();
    let Some(attempt) = payment::by_id(conn, id)? else {
        return Ok(());
    };
    let (status, reference, message) = match answer {
        Ok(RefundState {
            reference,
            status: RefundStatus::Succeeded,
        }) => (PaymentStatus::Succeeded, reference.as_str(), ""),
        Ok(RefundState {
            reference,
            status: RefundStatus::Pending,
        }) => (PaymentStatus::Pending, reference.as_str(), ""),
        Ok(RefundState {
            reference,
            status: RefundStatus::Failed { message },
        }) => (PaymentStatus::Failed, reference.as_str(), message.as_str()),
        Err(GatewayError::Refused(message))
            if (attempt.gateway_reference.is_empty() && attempt.checks == 0)
                || attempt.checks >= MAX_CHECKS =>
        {
            (PaymentStatus::Failed, "", message.as_str())
        }
        Err(error) => {
            tracing::warn!(payment = id, %error, "refund outcome unknown; it stays pending");
            payment::postpone(conn, id, later(next_check_delay(attempt.checks)))?;
            return Ok(());
        }
    };
    let settlement = Settlement {
        status,
        reference,
        message,
        client_secret: None,
        next_check_at: None,
    };
    if !payment::settle(conn, id, &settlement, now)? {
        return Ok(());
    }
    if status == PaymentStatus::Pending {
        payment::postpone(conn, id, later(next_check_delay(attempt.checks)))?;
    }
    if status == PaymentStatus::Failed && is_automatic_refund(&attempt) {
        tracing::error!(
            payment = id,
            order = attempt.order_id.0,
            message,
            "an automatic refund failed: refund this charge by hand"
        );
    }
    if status == PaymentStatus::Succeeded && !is_automatic_refund(&attempt) {
        refund_settled(conn, changes, &attempt)?;
    }
    Ok(())
}

/// A requested refund succeeded: once the charge is paid back in full, the order becomes
/// `REFUNDED` (with its event and restocking); a part leaves its status and marks it changed.
fn refund_settled(
    conn: &mut DbConnection,
    changes: &mut Changes,
    refund: &Payment,
) -> AppResult<()> {
    let Some(current) = order::by_ids(conn, &[refund.order_id])?.pop() else {
        return Ok(());
    };
    let charge = match refund.parent_id {
        Some(parent) => payment::by_id(conn, parent)?,
        None => None,
    };
    let whole = match &charge {
        Some(charge) => paid_back(conn, charge, false)? >= charge.amount,
        None => true,
    };
    if !whole {
        order::mark_changed(conn, current.id, now())?;
        changes.touch(Tracked::Orders, current.id);
    } else if current.status.apply(OrderAction::Refund).is_ok() {
        apply_action(conn, changes, None, &current, OrderAction::Refund, "")?;
    }
    Ok(())
}

/// Refunds a paid or fulfilled order (staff): `amount` of it (a decimal of the order's
/// currency), or all that is left to refund. The order becomes `REFUNDED` once its whole charge
/// is paid back. The same key returns the first attempt.
pub async fn refund(
    db: &Db,
    gateway: &Arc<dyn PaymentGateway>,
    caller: OrderCaller,
    order_id: OrderId,
    client_key: String,
    amount: Option<String>,
) -> AppResult<PaymentResult> {
    if !caller.principal.is_staff_or(Scope::WriteOrders) {
        return Err(AppError::Forbidden);
    }
    let key = scoped_key(order_id, "refund", &client_key)?;
    let hash = hash_parts(&[&order_id.to_string(), amount.as_deref().unwrap_or("")]);
    let claim = {
        let (caller, key) = (caller.clone(), key.clone());
        db.run(move |conn| {
            write_transaction(conn, |conn| {
                let current = load_visible(conn, &caller, order_id)?;
                if let Some(earlier) = payment::by_key(conn, &key)? {
                    return Ok(Claim::Earlier(same_request(earlier, &hash)?));
                }
                current
                    .status
                    .apply(OrderAction::Refund)
                    .map_err(AppError::rejected)?;
                room_for_attempt(
                    conn,
                    order_id,
                    PaymentKind::Refund,
                    "refund",
                    MAX_REFUND_ATTEMPTS_PER_ORDER,
                    "refund attempts per order",
                )?;
                let (charge, left) = refundable_charge(conn, order_id)?.ok_or_else(|| {
                    rejected(
                        &["id"],
                        RejectionCode::InvalidTransition,
                        "the order has no payment left to refund",
                    )
                })?;
                let amount = refund_amount(&current, amount.as_deref(), left)?;
                let now = now();
                let attempt = payment::insert(
                    conn,
                    &NewPayment {
                        order_id,
                        kind: PaymentKind::Refund,
                        amount,
                        status: PaymentStatus::Pending,
                        idempotency_key: &key,
                        provider: &charge.provider,
                        payment_method: "",
                        request_hash: &hash,
                        parent_id: Some(charge.id),
                        next_check_at: Some(later(FIRST_CHECK_AFTER)),
                        created_at: now,
                        updated_at: Some(now),
                    },
                )?;
                let actor = caller.principal.account_id().map(|a| a.0);
                let details = serde_json::json!({ "amount": amount, "charge": charge.amount });
                audit::record(
                    conn,
                    actor,
                    "order.refund",
                    Subject::Order(order_id.0),
                    details,
                )?;
                Ok(Claim::Fresh(attempt))
            })
        })
        .await
    };
    let attempt = match claim {
        Ok(Claim::Fresh(attempt)) => drive(db, gateway, attempt).await?,
        Ok(Claim::Earlier(attempt)) => attempt,
        Err(error) if is_unique_violation(&error) => {
            return Err(rejected(
                &["id"],
                RejectionCode::InvalidTransition,
                "a refund of this order is in progress",
            ));
        }
        Err(error) => return Err(error),
    };
    let order = db
        .run(move |conn| load_visible(conn, &caller, order_id))
        .await?;
    payment_outcome(PaymentResult {
        order,
        payment: attempt,
    })
}

/// The order's successful charge with something left to pay back, and how much (an order's one
/// paying charge; an unwanted one is refunded automatically). Refunds that succeeded or are in
/// flight count as paid back.
fn refundable_charge(
    conn: &mut DbConnection,
    order_id: OrderId,
) -> AppResult<Option<(Payment, i64)>> {
    for charge in payment::of_order(
        conn,
        order_id,
        PaymentKind::Charge,
        PaymentStatus::Succeeded,
    )? {
        let left = charge.amount - paid_back(conn, &charge, true)?;
        if left > 0 {
            return Ok(Some((charge, left)));
        }
    }
    Ok(None)
}

/// What the refunds of `charge` paid back: those that succeeded, and those in flight too when
/// `in_flight`.
fn paid_back(conn: &mut DbConnection, charge: &Payment, in_flight: bool) -> AppResult<i64> {
    Ok(payment::refunds_of(conn, charge.id)?
        .iter()
        .filter(|refund| match refund.status {
            PaymentStatus::Succeeded => true,
            PaymentStatus::Pending => in_flight,
            _ => false,
        })
        .map(|refund| refund.amount)
        .sum())
}

/// The amount to refund of `order`, in minor units: `requested` (a decimal of the order's
/// currency), 0 < amount <= `left`; or `left` when none is asked for.
fn refund_amount(order: &Order, requested: Option<&str>, left: i64) -> AppResult<i64> {
    let Some(requested) = requested else {
        return Ok(left);
    };
    let currency = Currency::parse(&order.currency)
        .map_err(|e: String| AppError::internal(anyhow::anyhow!(e)))?;
    let amount = currency
        .parse_amount(requested)
        .map_err(|message| rejected(&["amount"], RejectionCode::Invalid, message))?;
    if amount <= 0 || amount > left {
        return Err(rejected(
            &["amount"],
            RejectionCode::Invalid,
            format!(
                "an amount above 0 and at most {} {}, what is left to refund",
                currency.format(left),
                currency.code()
            ),
        ));
    }
    Ok(amount)
}

/// What became of a provider event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// Applied now.
    Applied,
    /// Delivered before: nothing done.
    Duplicate,
    /// About nothing Bazaar knows, or of a type Bazaar does not act on.
    Ignored,
}

/// Applies a provider event (already verified) once, however often it is delivered, in
/// whatever order.
pub async fn apply_event(
    db: &Db,
    gateway: &Arc<dyn PaymentGateway>,
    event: ProviderEvent,
) -> AppResult<EventOutcome> {
    let currency = db.currency();
    let provider = gateway.name();
    let result = db
        .run(move |conn| {
            recorded_transaction(conn, currency, |conn, changes| {
                let kind = match &event.kind {
                    ProviderEventKind::ChargeSucceeded { .. } => "charge.succeeded",
                    ProviderEventKind::ChargeFailed { .. } => "charge.failed",
                    ProviderEventKind::ChargeRefunded { .. } => "charge.refunded",
                    ProviderEventKind::Ignored { .. } => {
                        return Ok((EventOutcome::Ignored, vec![]));
                    }
                };
                if !payment::record_provider_event(conn, &event.id, provider, kind, now())? {
                    return Ok((EventOutcome::Duplicate, vec![]));
                }
                apply_event_in(conn, changes, &event.kind)
            })
        })
        .await;
    match result {
        Ok((outcome, refunds)) => {
            drive_all(db, gateway, refunds).await;
            Ok(outcome)
        }
        Err(error) => Err(error),
    }
}

fn charge_of_event(
    conn: &mut DbConnection,
    reference: &str,
    payment_id: Option<i64>,
) -> AppResult<Option<Payment>> {
    if let Some(id) = payment_id
        && let Some(found) = payment::by_id(conn, id)?
        && found.kind == PaymentKind::Charge
        && (found.gateway_reference.is_empty() || found.gateway_reference == reference)
    {
        return Ok(Some(found));
    }
    Ok(payment::by_reference(conn, PaymentKind::Charge, reference)?)
}

fn apply_event_in(
    conn: &mut DbConnection,
    changes: &mut Changes,
    kind: &ProviderEventKind,
) -> AppResult<(EventOutcome, Vec<Payment>)> {
    let now = now();
    match kind {
        ProviderEventKind::ChargeSucceeded {
            reference,
            payment_id,
        } => {
            let Some(charge) = charge_of_event(conn, reference, *payment_id)? else {
                return Ok((EventOutcome::Ignored, vec![]));
            };
            let refunds = charge_succeeded(conn, changes, charge, reference, now)?;
            Ok((EventOutcome::Applied, refunds))
        }
        ProviderEventKind::ChargeFailed {
            reference,
            payment_id,
            message,
        } => {
            let Some(charge) = charge_of_event(conn, reference, *payment_id)? else {
                return Ok((EventOutcome::Ignored, vec![]));
            };
            let settlement = Settlement {
                status: PaymentStatus::Declined,
                reference,
                message,
                client_secret: None,
                next_check_at: None,
            };
            payment::settle(conn, charge.id, &settlement, now)?;
            Ok((EventOutcome::Applied, vec![]))
        }
        ProviderEventKind::ChargeRefunded {
            reference,
            amount_refunded,
        } => {
            let Some(charge) = payment::by_reference(conn, PaymentKind::Charge, reference)? else {
                return Ok((EventOutcome::Ignored, vec![]));
            };
            // The refunds Bazaar asked for, oldest first, as far as the total refunded covers.
            let mut covered = 0;
            for refund in payment::refunds_of(conn, charge.id)? {
                match refund.status {
                    PaymentStatus::Succeeded => covered += refund.amount,
                    PaymentStatus::Pending if covered + refund.amount <= *amount_refunded => {
                        covered += refund.amount;
                        let answer = Ok(RefundState {
                            reference: refund.gateway_reference.clone(),
                            status: RefundStatus::Succeeded,
                        });
                        record_refund_answer(conn, changes, refund.id, &answer)?;
                    }
                    _ => {}
                }
            }
            if *amount_refunded > covered {
                tracing::warn!(
                    charge = charge.id,
                    amount_refunded,
                    "the provider refunded more of a charge than Bazaar asked for (a refund made \
                     in the provider's dashboard?)"
                );
            }
            Ok((EventOutcome::Applied, vec![]))
        }
        ProviderEventKind::Ignored { .. } => Ok((EventOutcome::Ignored, vec![])),
    }
}

/// One round of the reconcile job: asks the provider about pending attempts that are due (each
/// claimed by one instance at a time) and records the answers. How many it asked about.
pub async fn reconcile_due(db: &Db, gateway: &Arc<dyn PaymentGateway>) -> AppResult<usize> {
    let due = db
        .run(|conn| {
            write_transaction(conn, |conn| {
                let now = now();
                // The lease: no other instance asks about these before the next check is due.
                Ok(payment::claim_due(
                    conn,
                    now,
                    later(RECONCILE_LEASE),
                    RECONCILE_BATCH,
                )?)
            })
        })
        .await?;
    let count = due.len();
    for attempt in due {
        let id = attempt.id;
        if let Err(error) = drive(db, gateway, attempt).await {
            tracing::warn!(payment = id, ?error, "reconcile: the attempt stays pending");
        }
    }
    Ok(count)
}

/// Makes every pending attempt due now, so that the next reconcile round asks about all of
/// them (tests; an operator after an outage). How many.
pub async fn make_all_due(db: &Db) -> AppResult<usize> {
    db.run(|conn| Ok(payment::make_all_due(conn, now())?)).await
}
