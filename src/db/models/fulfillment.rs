//! Fulfilments and their lines, the shipped-units count of order lines, and staff notes on
//! orders.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{fulfillment_lines, fulfillments, order_lines, order_notes, orders};
use crate::domain::fulfillments::{Shipment, Tracking};
use crate::domain::ids::OrderId;
use crate::domain::orders::OrderStatus;

/// A part of an order shipped together.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = fulfillments)]
pub struct Fulfillment {
    pub id: i64,
    pub order_id: OrderId,
    pub carrier: String,
    pub tracking_number: String,
    pub tracking_url: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Units of one order line in a fulfilment.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = fulfillment_lines)]
pub struct FulfillmentLine {
    pub id: i64,
    pub fulfillment_id: i64,
    pub order_line_id: i64,
    pub quantity: i32,
}

/// A staff note on an order.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = order_notes)]
pub struct OrderNote {
    pub id: i64,
    pub order_id: OrderId,
    pub author_id: Option<i64>,
    pub app_id: Option<i64>,
    pub body: String,
    pub created_at: NaiveDateTime,
}

/// Marks a paid order changed at `now`, which takes its row lock until the transaction ends, if
/// it is still paid: the fulfilments of one order are made one at a time. Whether it is.
pub fn lock_if_paid(
    conn: &mut DbConnection,
    order_id: OrderId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(orders::table.find(order_id))
        .filter(orders::status.eq(OrderStatus::Paid))
        .set(orders::updated_at.eq(now))
        .execute(conn)?;
    Ok(updated == 1)
}

/// How many fulfilments the order has.
pub fn count_of_order(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<i64> {
    fulfillments::table
        .filter(fulfillments::order_id.eq(order_id))
        .count()
        .get_result(conn)
}

/// Records a fulfilment of `shipment` (units by order line) with its `tracking`, and counts the
/// units shipped on each line: two statements and one per line. `None` when a line has fewer
/// units left than the shipment takes (a change since they were read): roll back then.
pub fn insert(
    conn: &mut DbConnection,
    order_id: OrderId,
    shipment: &Shipment,
    tracking: &Tracking,
    now: NaiveDateTime,
) -> QueryResult<Option<FulfillmentWithLines>> {
    for (&line_id, &quantity) in shipment {
        let shipped = diesel::update(order_lines::table.find(line_id))
            .filter(order_lines::order_id.eq(order_id))
            .filter((order_lines::fulfilled_quantity + quantity).le(order_lines::quantity))
            .set(order_lines::fulfilled_quantity.eq(order_lines::fulfilled_quantity + quantity))
            .execute(conn)?;
        if shipped != 1 {
            return Ok(None);
        }
    }
    let fulfillment: Fulfillment =
        crate::on_backend!(&mut *conn, |c| diesel::insert_into(fulfillments::table)
            .values((
                fulfillments::order_id.eq(order_id),
                fulfillments::carrier.eq(&tracking.carrier),
                fulfillments::tracking_number.eq(&tracking.number),
                fulfillments::tracking_url.eq(&tracking.url),
                fulfillments::created_at.eq(now),
            ))
            .returning(Fulfillment::as_returning())
            .get_result(c))?;
    let lines: Vec<_> = shipment
        .iter()
        .map(|(&line_id, &quantity)| {
            (
                fulfillment_lines::fulfillment_id.eq(fulfillment.id),
                fulfillment_lines::order_line_id.eq(line_id),
                fulfillment_lines::quantity.eq(quantity),
            )
        })
        .collect();
    let lines = crate::on_backend!(&mut *conn, |c| diesel::insert_into(
        fulfillment_lines::table
    )
    .values(&lines)
    .returning(FulfillmentLine::as_returning())
    .get_results(c))?;
    Ok(Some((fulfillment, lines)))
}

/// The fulfilments of every order in `order_ids`, oldest first.
pub fn of_orders(conn: &mut DbConnection, order_ids: &[OrderId]) -> QueryResult<Vec<Fulfillment>> {
    fulfillments::table
        .filter(fulfillments::order_id.eq_any(order_ids))
        .order_by((fulfillments::order_id, fulfillments::id))
        .select(Fulfillment::as_select())
        .load(conn)
}

/// The lines of every fulfilment in `fulfillment_ids`, in the order they were given.
pub fn lines_of(
    conn: &mut DbConnection,
    fulfillment_ids: &[i64],
) -> QueryResult<Vec<FulfillmentLine>> {
    fulfillment_lines::table
        .filter(fulfillment_lines::fulfillment_id.eq_any(fulfillment_ids))
        .order_by((fulfillment_lines::fulfillment_id, fulfillment_lines::id))
        .select(FulfillmentLine::as_select())
        .load(conn)
}

/// How many notes the order has.
pub fn count_notes(conn: &mut DbConnection, order_id: OrderId) -> QueryResult<i64> {
    order_notes::table
        .filter(order_notes::order_id.eq(order_id))
        .count()
        .get_result(conn)
}

/// Adds a note to an order, by a staff account or a partner app; the row as stored.
pub fn insert_note(
    conn: &mut DbConnection,
    order_id: OrderId,
    author_id: Option<i64>,
    app_id: Option<i64>,
    body: &str,
    now: NaiveDateTime,
) -> QueryResult<OrderNote> {
    crate::on_backend!(conn, |c| diesel::insert_into(order_notes::table)
        .values((
            order_notes::order_id.eq(order_id),
            order_notes::author_id.eq(author_id),
            order_notes::app_id.eq(app_id),
            order_notes::body.eq(body),
            order_notes::created_at.eq(now),
        ))
        .returning(OrderNote::as_returning())
        .get_result(c))
}

/// The notes of every order in `order_ids`, oldest first.
pub fn notes_of(conn: &mut DbConnection, order_ids: &[OrderId]) -> QueryResult<Vec<OrderNote>> {
    order_notes::table
        .filter(order_notes::order_id.eq_any(order_ids))
        .order_by((order_notes::order_id, order_notes::id))
        .select(OrderNote::as_select())
        .load(conn)
}

/// A fulfilment with its lines.
pub type FulfillmentWithLines = (Fulfillment, Vec<FulfillmentLine>);

/// The fulfilments of every order in `order_ids`, oldest first, each with its lines: two
/// statements, none when `order_ids` is empty.
pub fn with_lines_of_orders(
    conn: &mut DbConnection,
    order_ids: &[OrderId],
) -> QueryResult<Vec<FulfillmentWithLines>> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let shipped = of_orders(conn, order_ids)?;
    let ids: Vec<i64> = shipped.iter().map(|f| f.id).collect();
    let mut lines_by_fulfillment: HashMap<i64, Vec<FulfillmentLine>> = HashMap::new();
    for line in lines_of(conn, &ids)? {
        lines_by_fulfillment
            .entry(line.fulfillment_id)
            .or_default()
            .push(line);
    }
    Ok(shipped
        .into_iter()
        .map(|f| {
            let lines = lines_by_fulfillment.remove(&f.id).unwrap_or_default();
            (f, lines)
        })
        .collect())
}
