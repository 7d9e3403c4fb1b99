//! Payment attempts (charges and refunds) with what it takes to ask the provider about them
//! again, and the provider webhook events already applied.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{payments, provider_events};
use crate::domain::ids::OrderId;
use crate::domain::payments::{PaymentKind, PaymentStatus};
use crate::on_backend;

/// A payment attempt row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = payments)]
pub struct Payment {
    pub id: i64,
    pub order_id: OrderId,
    pub kind: PaymentKind,
    pub amount: i64,
    pub status: PaymentStatus,
    pub gateway_reference: String,
    pub message: String,
    pub idempotency_key: String,
    pub created_at: NaiveDateTime,
    pub provider: String,
    pub payment_method: String,
    pub request_hash: String,
    pub client_secret: Option<String>,
    pub parent_id: Option<i64>,
    pub next_check_at: Option<NaiveDateTime>,
    pub checks: i32,
    pub updated_at: Option<NaiveDateTime>,
}

/// A payment attempt to record, PENDING, before the provider is asked.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = payments, treat_none_as_default_value = false)]
pub struct NewPayment<'a> {
    pub order_id: OrderId,
    pub kind: PaymentKind,
    pub amount: i64,
    pub status: PaymentStatus,
    pub idempotency_key: &'a str,
    pub provider: &'a str,
    pub payment_method: &'a str,
    pub request_hash: &'a str,
    pub parent_id: Option<i64>,
    pub next_check_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: Option<NaiveDateTime>,
}

/// Records an attempt; the row as stored.
pub fn insert(conn: &mut DbConnection, new: &NewPayment<'_>) -> QueryResult<Payment> {
    diesel::insert_into(payments::table)
        .values(new)
        .returning(payments::all_columns)
        .get_result(conn)
}

/// The attempt with this (scoped) idempotency key.
pub fn by_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::idempotency_key.eq(key))
        .select(Payment::as_select())
        .first(conn)
        .optional()
}

/// The attempt with this id.
pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Payment>> {
    payments::table
        .find(id)
        .select(Payment::as_select())
        .first(conn)
        .optional()
}

/// The attempt of `kind` the provider knows as `reference`.
pub fn by_reference(
    conn: &mut DbConnection,
    kind: PaymentKind,
    reference: &str,
) -> QueryResult<Option<Payment>> {
    payments::table
        .filter(payments::gateway_reference.eq(reference))
        .filter(payments::kind.eq(kind))
        .select(Payment::as_select())
        .first(conn)
        .optional()
}

/// The attempts of every order in `order_ids`, oldest first.
pub fn of_orders(conn: &mut DbConnection, order_ids: &[OrderId]) -> QueryResult<Vec<Payment>> {
    payments::table
        .filter(payments::order_id.eq_any(order_ids))
        .order_by((payments::order_id, payments::id))
        .select(Payment::as_select())
        .load(conn)
}

/// The order's attempts of `kind` in `status`, oldest first.
pub fn of_order(
    conn: &mut DbConnection,
    order_id: OrderId,
    kind: PaymentKind,
    status: PaymentStatus,
) -> QueryResult<Vec<Payment>> {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .filter(payments::kind.eq(kind))
        .filter(payments::status.eq(status))
        .order_by(payments::id)
        .select(Payment::as_select())
        .load(conn)
}

/// How many attempts of `kind` the order has whose idempotency key starts with `key_prefix` (a
/// purpose's scope, e.g. `order-7:refund:`; it holds no `LIKE` wildcard).
pub fn count_of_order(
    conn: &mut DbConnection,
    order_id: OrderId,
    kind: PaymentKind,
    key_prefix: &str,
) -> QueryResult<i64> {
    payments::table
        .filter(payments::order_id.eq(order_id))
        .filter(payments::kind.eq(kind))
        .filter(payments::idempotency_key.like(format!("{key_prefix}%")))
        .count()
        .get_result(conn)
}

/// The refunds recorded against the charge `charge_id`.
pub fn refunds_of(conn: &mut DbConnection, charge_id: i64) -> QueryResult<Vec<Payment>> {
    payments::table
        .filter(payments::parent_id.eq(charge_id))
        .order_by(payments::id)
        .select(Payment::as_select())
        .load(conn)
}

/// What the provider said of a pending attempt.
#[derive(Debug, Clone, Copy)]
pub struct Settlement<'a> {
    /// The new status.
    pub status: PaymentStatus,
    /// The provider's reference, once known.
    pub reference: &'a str,
    /// Why it was declined or failed; empty otherwise.
    pub message: &'a str,
    /// The customer's secret, when they must act.
    pub client_secret: Option<&'a str>,
    /// When to ask the provider again, while still pending.
    pub next_check_at: Option<NaiveDateTime>,
}

/// Records what the provider said of attempt `id`, if it is still PENDING (another request, a
/// webhook or the reconcile job may have settled it first). Whether it was updated.
pub fn settle(
    conn: &mut DbConnection,
    id: i64,
    settlement: &Settlement<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(payments::table.find(id))
        .filter(payments::status.eq(PaymentStatus::Pending))
        .set((
            payments::status.eq(settlement.status),
            payments::gateway_reference.eq(settlement.reference),
            payments::message.eq(settlement.message),
            payments::client_secret.eq(settlement.client_secret),
            payments::next_check_at.eq(settlement.next_check_at),
            payments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Records a success the provider reported for an attempt that was not PENDING any more (a
/// charge declined at first and completed later by the customer). Whether it was updated.
pub fn mark_succeeded_late(
    conn: &mut DbConnection,
    id: i64,
    reference: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(payments::table.find(id))
        .filter(payments::status.ne(PaymentStatus::Succeeded))
        .set((
            payments::status.eq(PaymentStatus::Succeeded),
            payments::gateway_reference.eq(reference),
            payments::client_secret.eq(None::<String>),
            payments::next_check_at.eq(None::<NaiveDateTime>),
            payments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Claims up to `limit` pending attempts due for a check at `now`, pushing each one's next check
/// to `lease_until` so that no other instance takes it meanwhile. On PostgreSQL the rows are
/// picked `FOR UPDATE SKIP LOCKED`, so concurrent instances claim different rows; SQLite has one
/// writer at a time. Call inside a write transaction.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Payment>> {
    let due = payments::table
        .filter(payments::status.eq(PaymentStatus::Pending))
        .filter(payments::next_check_at.le(now))
        .order_by(payments::next_check_at)
        .limit(limit)
        .select(payments::id);
    let ids: Vec<i64> = match &mut *conn {
        DbConnection::Sqlite(c) => due.load(c)?,
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => due.for_update().skip_locked().load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(payments::table.filter(payments::id.eq_any(&ids)))
        .set(payments::next_check_at.eq(lease_until))
        .execute(conn)?;
    payments::table
        .filter(payments::id.eq_any(&ids))
        .order_by(payments::id)
        .select(Payment::as_select())
        .load(conn)
}

/// Remembers that the provider event `id` was applied. Whether it was new (false: a redelivery,
/// also one running concurrently, which PostgreSQL makes wait for the first to commit).
pub fn record_provider_event(
    conn: &mut DbConnection,
    id: &str,
    provider: &str,
    kind: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let row = (
        provider_events::id.eq(id),
        provider_events::provider.eq(provider),
        provider_events::kind.eq(kind),
        provider_events::received_at.eq(now),
    );
    let inserted = on_backend!(&mut *conn, |c| diesel::insert_into(provider_events::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// The pending charge of an order, if one is in flight.
pub fn pending_charge(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<Option<Payment>> {
    Ok(of_order(conn, order_id, PaymentKind::Charge, PaymentStatus::Pending)?.pop())
}

/// Puts the next check of a pending attempt at `at`, counting the check just made.
pub fn postpone(conn: &mut DbConnection, id: i64, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(payments::table.find(id))
        .filter(payments::status.eq(PaymentStatus::Pending))
        .set((
            payments::next_check_at.eq(at),
            payments::checks.eq(payments::checks + 1),
        ))
        .execute(conn)?;
    Ok(())
}

/// Makes every pending attempt due at `now`. How many.
pub fn make_all_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(payments::table)
        .filter(payments::status.eq(PaymentStatus::Pending))
        .set(payments::next_check_at.eq(now))
        .execute(conn)
}
