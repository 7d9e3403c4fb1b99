//! Webhook subscriptions, their deliveries and each delivery's attempts: claimed by one instance
//! at a time (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's write lock serialises claims).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{webhook_attempts, webhook_deliveries, webhook_subscriptions};
use crate::db::sealed::{Sealed, Unsealed};
use crate::domain::events::EventType;
use crate::domain::webhooks::{DeliveryStatus, SubscriptionStatus};
use crate::on_backend;

/// A subscription row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct Subscription {
    pub id: i64,
    pub app_id: i64,
    pub url: String,
    pub event_types: String,
    pub scopes: String,
    pub secret: String,
    pub status: SubscriptionStatus,
    pub last_position: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A subscription to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_subscriptions, treat_none_as_default_value = false)]
pub struct NewSubscription<'a> {
    pub app_id: i64,
    pub url: &'a str,
    pub event_types: &'a str,
    pub scopes: &'a str,
    pub secret: &'a str,
    pub status: SubscriptionStatus,
    pub last_position: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A delivery row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    pub event_id: i64,
    /// Text, as in the event log (`EventRow::event_type`).
    pub event_type: String,
    #[diesel(deserialize_as = Unsealed)]
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A delivery to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub struct NewDelivery {
    pub subscription_id: i64,
    pub event_id: i64,
    pub event_type: EventType,
    #[diesel(serialize_as = Sealed)]
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An attempt row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: i64,
    pub delivery_id: i64,
    pub status_code: Option<i32>,
    pub error: String,
    pub latency_ms: i32,
    pub attempted_at: NaiveDateTime,
}

/// An attempt to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = webhook_attempts, treat_none_as_default_value = false)]
pub struct NewAttempt<'a> {
    pub delivery_id: i64,
    pub status_code: Option<i32>,
    pub error: &'a str,
    pub latency_ms: i32,
    pub attempted_at: NaiveDateTime,
}

/// Writes a subscription; its id.
pub fn insert(conn: &mut DbConnection, new: &NewSubscription<'_>) -> QueryResult<i64> {
    diesel::insert_into(webhook_subscriptions::table)
        .values(new)
        .returning(webhook_subscriptions::id)
        .get_result(conn)
}

/// The subscriptions `ids`.
pub fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Subscription>> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::id.eq_any(ids))
        .order_by(webhook_subscriptions::id)
        .select(Subscription::as_select())
        .load(conn)
}

/// The subscriptions of `app` (every app's for `None`), newest first, at most `limit`.
pub fn of_app(
    conn: &mut DbConnection,
    app: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Subscription>> {
    let mut query = webhook_subscriptions::table
        .order_by(webhook_subscriptions::id.desc())
        .limit(limit)
        .select(Subscription::as_select())
        .into_boxed();
    if let Some(app) = app {
        query = query.filter(webhook_subscriptions::app_id.eq(app));
    }
    query.load(conn)
}

/// How many subscriptions `app` has.
pub fn count_of_app(conn: &mut DbConnection, app: i64) -> QueryResult<i64> {
    webhook_subscriptions::table
        .filter(webhook_subscriptions::app_id.eq(app))
        .count()
        .get_result(conn)
}

/// Deletes a subscription (its deliveries go with it). Whether it existed.
pub fn delete(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(webhook_subscriptions::table.find(id)).execute(conn)? == 1)
}

/// Sets a subscription's status.
pub fn set_status(
    conn: &mut DbConnection,
    id: i64,
    status: SubscriptionStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    Ok(diesel::update(webhook_subscriptions::table.find(id))
        .set((
            webhook_subscriptions::status.eq(status),
            webhook_subscriptions::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// Whether an active subscription is behind the log's `last` position (a plain read, so an idle
/// worker takes no lock).
pub fn any_behind(conn: &mut DbConnection, last: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_subscriptions::table
            .filter(webhook_subscriptions::status.eq(SubscriptionStatus::Active))
            .filter(webhook_subscriptions::last_position.lt(last)),
    ))
    .get_result(conn)
}

/// Whether a pending delivery is due (a plain read, so an idle worker takes no lock).
pub fn any_due(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_deliveries::table
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::next_attempt_at.le(now)),
    ))
    .get_result(conn)
}

/// Deliveries waiting to be sent or tried again (the `(status, next_attempt_at)` index).
pub fn count_pending(conn: &mut DbConnection) -> QueryResult<i64> {
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .count()
        .get_result(conn)
}

/// Active subscriptions behind the log's `last` position, locked for this transaction (others
/// skip them), at most `limit`.
pub fn claim_behind(
    conn: &mut DbConnection,
    last: i64,
    limit: i64,
) -> QueryResult<Vec<Subscription>> {
    macro_rules! behind {
        () => {
            webhook_subscriptions::table
                .filter(webhook_subscriptions::status.eq(SubscriptionStatus::Active))
                .filter(webhook_subscriptions::last_position.lt(last))
                .order_by(webhook_subscriptions::id)
                .limit(limit)
                .select(Subscription::as_select())
        };
    }
    match &mut *conn {
        DbConnection::Sqlite(c) => behind!().load(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => behind!().for_update().skip_locked().load(c),
    }
}

/// Moves a subscription's position on.
pub fn advance(conn: &mut DbConnection, id: i64, position: i64) -> QueryResult<()> {
    diesel::update(webhook_subscriptions::table.find(id))
        .set(webhook_subscriptions::last_position.eq(position))
        .execute(conn)?;
    Ok(())
}

/// Writes deliveries (one statement per 500).
pub fn insert_deliveries(conn: &mut DbConnection, rows: &[NewDelivery]) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        on_backend!(&mut *conn, |c| diesel::insert_into(
            webhook_deliveries::table
        )
        .values(chunk.to_vec())
        .execute(c))?;
    }
    Ok(())
}

/// Pending deliveries of active subscriptions that are due, claimed until `lease_until` (no
/// other instance sends them before), with their subscriptions; at most `limit`.
pub fn claim_due(
    conn: &mut DbConnection,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<(Delivery, Subscription)>> {
    let active = webhook_subscriptions::table
        .filter(webhook_subscriptions::status.eq(SubscriptionStatus::Active))
        .select(webhook_subscriptions::id);
    let due = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_deliveries::subscription_id.eq_any(active))
        .order_by(webhook_deliveries::next_attempt_at)
        .limit(limit)
        .select(webhook_deliveries::id);
    let ids: Vec<i64> = match &mut *conn {
        DbConnection::Sqlite(c) => due.load(c)?,
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => due.for_update().skip_locked().load(c)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids)))
        .set(webhook_deliveries::next_attempt_at.eq(lease_until))
        .execute(conn)?;
    webhook_deliveries::table
        .inner_join(webhook_subscriptions::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .order_by(webhook_deliveries::event_id)
        .select((Delivery::as_select(), Subscription::as_select()))
        .load(conn)
}

/// Makes `deliveries` due at `now` again if they are still pending under the lease they were
/// claimed until (no attempt recorded since): a stopping instance gives them back. How many.
pub fn release(
    conn: &mut DbConnection,
    deliveries: &[i64],
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::id.eq_any(deliveries))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending))
            .filter(webhook_deliveries::next_attempt_at.eq(lease_until)),
    )
    .set(webhook_deliveries::next_attempt_at.eq(now))
    .execute(conn)
}

/// Records an attempt at a delivery and what follows: delivered, tried again at `next`, or dead
/// (`next` is `None` after a failure).
pub fn record_attempt(
    conn: &mut DbConnection,
    attempt: &NewAttempt<'_>,
    status: DeliveryStatus,
    next: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(webhook_attempts::table)
        .values(attempt)
        .execute(conn)?;
    diesel::update(webhook_deliveries::table.find(attempt.delivery_id))
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::next_attempt_at.eq(next),
            webhook_deliveries::updated_at.eq(attempt.attempted_at),
        ))
        .execute(conn)?;
    Ok(())
}

/// Makes a delivery due again now (pending, its tries counted from zero). Whether it exists.
pub fn retry(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    Ok(diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// The delivery `id`.
pub fn delivery(conn: &mut DbConnection, id: i64) -> QueryResult<Option<Delivery>> {
    webhook_deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}

/// The deliveries of `subscription`, newest first, below `before` (an id) if given, at most
/// `limit`.
pub fn deliveries_of(
    conn: &mut DbConnection,
    subscription: i64,
    before: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::subscription_id.eq(subscription))
        .order_by(webhook_deliveries::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    query.load(conn)
}

/// The attempts at the deliveries `ids`, oldest first.
pub fn attempts_of(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Attempt>> {
    webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(ids))
        .order_by(webhook_attempts::id)
        .select(Attempt::as_select())
        .load(conn)
}
