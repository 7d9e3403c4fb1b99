//! Orders with their line snapshots, events and payment attempts; the conditional statements
//! that keep stock and status right under concurrency.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::db::DbConnection;
use crate::db::id_list::id_in;
use crate::db::models::product::Product;
use crate::db::models::user::User;
use crate::db::models::variant::{Variant, VariantWithProduct};
#[cfg(feature = "postgres")]
use crate::db::prepared::Prepared;
use crate::db::schema::{order_events, order_lines, orders, payments, products, users, variants};
use crate::db::sealed::{Sealed, SealedText};
use crate::domain::catalog::CatalogVisibility;
use crate::domain::feeds::RowWindow;
use crate::domain::ids::{AccountId, OrderId, ProductId, VariantId};
use crate::domain::metadata::MetadataCondition;
use crate::domain::orders::{OrderEventType, OrderStatus};
use crate::domain::payments::{PaymentKind, PaymentStatus};
use crate::{on_backend, row_window};

/// An order row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = orders)]
pub struct Order {
    pub id: OrderId,
    pub user_id: Option<AccountId>,
    pub email: String,
    pub status: OrderStatus,
    pub currency: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub discount_code: Option<String>,
    /// The shipping address as a JSON object of parts, sealed until read.
    pub shipping_address: SealedText,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub access_token_hash: Option<String>,
    /// The event-log position of the row's latest change: change feeds walk orders in this
    /// order.
    pub change_position: i64,
    /// The billing address as a JSON object of parts (empty when none was given), sealed until
    /// read.
    pub billing_address: SealedText,
    /// The title of the delivery option charged.
    pub shipping_method: Option<String>,
    /// The taxes charged, a JSON array of [`crate::domain::pricing::TaxLine`].
    pub tax_lines: String,
    /// Whether the prices included the taxes.
    pub taxes_included: bool,
}

/// An order to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct NewOrder<'a> {
    pub user_id: Option<AccountId>,
    pub email: &'a str,
    pub status: OrderStatus,
    pub currency: &'a str,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub discount_code: Option<&'a str>,
    #[diesel(serialize_as = Sealed)]
    pub shipping_address: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub request_hash: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub access_token_hash: Option<&'a str>,
    #[diesel(serialize_as = Sealed)]
    pub billing_address: &'a str,
    pub shipping_method: Option<&'a str>,
    pub tax_lines: &'a str,
    pub taxes_included: bool,
}

/// An order line: a snapshot of what was bought at what price.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = order_lines)]
pub struct OrderLine {
    pub id: i64,
    pub order_id: OrderId,
    pub variant_id: Option<VariantId>,
    pub product_id: Option<ProductId>,
    pub product_name: String,
    pub variant_title: String,
    pub sku: String,
    pub unit_price: i64,
    pub quantity: i32,
    pub line_total: i64,
    /// Units shipped so far (by fulfilments).
    pub fulfilled_quantity: i32,
}

/// An order line to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_lines, treat_none_as_default_value = false)]
pub struct NewOrderLine {
    pub order_id: OrderId,
    pub variant_id: Option<VariantId>,
    pub product_id: Option<ProductId>,
    pub product_name: String,
    pub variant_title: String,
    pub sku: String,
    pub unit_price: i64,
    pub quantity: i32,
    pub line_total: i64,
}

/// A recorded change of an order.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = order_events)]
pub struct OrderEvent {
    pub id: i64,
    pub order_id: OrderId,
    pub kind: OrderEventType,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor_id: Option<i64>,
    pub note: String,
    pub created_at: NaiveDateTime,
}

/// Inserts an order; the row as stored.
pub fn insert(conn: &mut DbConnection, new: &NewOrder<'_>) -> QueryResult<Order> {
    on_backend!(conn, |c| diesel::insert_into(orders::table)
        .values(new.clone())
        .returning(Order::as_returning())
        .get_result(c))
}

/// Order lines per INSERT on SQLite: one statement for any real cart, well under its limit on
/// bound parameters for any cart at all.
const LINES_PER_INSERT: usize = 500;

/// Inserts the lines of an order: on PostgreSQL in one statement kept prepared whatever their
/// number (the rows as arrays); on SQLite [`LINES_PER_INSERT`] per statement.
pub fn insert_lines(conn: &mut DbConnection, lines: &[NewOrderLine]) -> QueryResult<()> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            use diesel::sql_types::{Array, Integer, Nullable, Text};
            Prepared(
                diesel::sql_query(
                    "WITH inserted AS ( \
                         INSERT INTO order_lines (order_id, variant_id, product_id, product_name, \
                             variant_title, sku, unit_price, quantity, line_total) \
                         SELECT * FROM unnest($1::int8[], $2::int8[], $3::int8[], $4::text[], \
                             $5::text[], $6::text[], $7::int8[], $8::int4[], $9::int8[]) \
                         RETURNING 1 \
                     ) \
                     SELECT count(*) AS count FROM inserted",
                )
                .bind::<Array<BigInt>, _>(lines.iter().map(|l| l.order_id).collect::<Vec<_>>())
                .bind::<Array<Nullable<BigInt>>, _>(
                    lines.iter().map(|l| l.variant_id).collect::<Vec<_>>(),
                )
                .bind::<Array<Nullable<BigInt>>, _>(
                    lines.iter().map(|l| l.product_id).collect::<Vec<_>>(),
                )
                .bind::<Array<Text>, _>(lines.iter().map(|l| &l.product_name).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(lines.iter().map(|l| &l.variant_title).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(lines.iter().map(|l| &l.sku).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(lines.iter().map(|l| l.unit_price).collect::<Vec<_>>())
                .bind::<Array<Integer>, _>(lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(lines.iter().map(|l| l.line_total).collect::<Vec<_>>()),
            )
            .get_result::<Inserted>(pg)?;
        }
        DbConnection::Sqlite(sqlite) => {
            for chunk in lines.chunks(LINES_PER_INSERT) {
                diesel::insert_into(order_lines::table)
                    .values(chunk)
                    .execute(sqlite)?;
            }
        }
    }
    Ok(())
}

/// How many rows a statement inserted, read rather than executed so that the statement stays
/// prepared ([`Prepared`]).
#[cfg(feature = "postgres")]
#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = BigInt)]
    #[allow(dead_code)]
    count: i64,
}

/// Records an event (`note`: why, when it is not plain; may be empty).
pub fn insert_event(
    conn: &mut DbConnection,
    order_id: OrderId,
    kind: OrderEventType,
    from: Option<OrderStatus>,
    to: OrderStatus,
    actor_id: Option<i64>,
    note: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(order_events::table)
        .values((
            order_events::note.eq(note),
            order_events::order_id.eq(order_id),
            order_events::kind.eq(kind),
            order_events::from_status.eq(from),
            order_events::to_status.eq(to),
            order_events::actor_id.eq(actor_id),
            order_events::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// The order placed with this idempotency key.
pub fn by_idempotency_key(conn: &mut DbConnection, key: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::idempotency_key.eq(key))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// The orders with these ids (in no particular order). A static statement on the concrete
/// connection (see `product::by_ids`).
pub fn by_ids(conn: &mut DbConnection, ids: &[OrderId]) -> QueryResult<Vec<Order>> {
    on_backend!(conn, |concrete| orders::table
        .filter(id_in(orders::id, ids))
        .select(Order::as_select())
        .load(concrete))
}

/// What an order list is filtered by.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this account's orders.
    pub user_id: Option<AccountId>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Only orders changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
    /// Number, email, placing time and total.
    pub search: OrderSearch,
}

/// What staff search orders by; every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    /// Only the order with this id (from its number).
    pub id: Option<OrderId>,
    /// Only orders placed with this email address (normalised: trimmed, lower case).
    pub email: Option<String>,
    /// Only orders placed at or after this time.
    pub placed_from: Option<NaiveDateTime>,
    /// Only orders placed before this time.
    pub placed_before: Option<NaiveDateTime>,
    /// Only orders whose total, in minor units, is at least this.
    pub total_at_least: Option<i64>,
    /// Only orders whose total, in minor units, is at most this.
    pub total_at_most: Option<i64>,
    /// Only orders with these metadata entries.
    pub metadata: Vec<MetadataCondition>,
}

/// An order with its customer's account: `None` for guest orders, or when the query was asked
/// not to read it ([`page`] without `with_customers`).
pub type OrderWithCustomer = (Order, Option<User>);

/// One window of orders matching `filter`, each with its customer's account when
/// `with_customers` (the join costs more than the page when nobody asks for them).
pub fn page(
    conn: &mut DbConnection,
    filter: &OrderFilter,
    window: &RowWindow,
    with_customers: bool,
) -> QueryResult<Vec<OrderWithCustomer>> {
    /// Adds `filter` and `window` to a boxed query over orders.
    macro_rules! windowed {
        ($query:expr) => {{
            let mut query = $query;
            if let Some(user_id) = filter.user_id {
                query = query.filter(orders::user_id.eq(user_id));
            }
            if let Some(status) = filter.status {
                query = query.filter(orders::status.eq(status));
            }
            if let Some(since) = filter.updated_since {
                query = query.filter(orders::updated_at.ge(since));
            }
            let search = &filter.search;
            if let Some(id) = search.id {
                query = query.filter(orders::id.eq(id));
            }
            if let Some(email) = &search.email {
                query = query.filter(orders::email.eq(email.clone()));
            }
            if let Some(from) = search.placed_from {
                query = query.filter(orders::created_at.ge(from));
            }
            if let Some(before) = search.placed_before {
                query = query.filter(orders::created_at.lt(before));
            }
            if let Some(least) = search.total_at_least {
                query = query.filter(orders::total.ge(least));
            }
            if let Some(most) = search.total_at_most {
                query = query.filter(orders::total.le(most));
            }
            query = crate::filter_metadata!(query, order_id, orders::id, &search.metadata);
            row_window!(query, orders, window)
        }};
    }
    let rows = if with_customers {
        windowed!(
            orders::table
                .left_join(users::table)
                .select((Order::as_select(), Option::<User>::as_select()))
                .into_boxed()
        )
        .load(conn)?
    } else {
        let orders: Vec<Order> =
            windowed!(orders::table.select(Order::as_select()).into_boxed()).load(conn)?;
        orders.into_iter().map(|order| (order, None)).collect()
    };
    super::event::settle_read_in(conn, window.sort.order)?;
    Ok(rows)
}

/// `(account, status, orders, sum of their totals)`: one account's orders in one status.
pub type StatusTotals = (Option<AccountId>, String, i64, Option<i64>);

/// The [`StatusTotals`] of each status of each account in `user_ids` that has orders in it, in
/// one statement.
pub fn totals_by_status_of(
    conn: &mut DbConnection,
    user_ids: &[AccountId],
) -> QueryResult<Vec<StatusTotals>> {
    use diesel::sql_types::{BigInt, Nullable};
    orders::table
        .filter(orders::user_id.eq_any(user_ids))
        .group_by((orders::user_id, orders::status))
        .select((
            orders::user_id,
            orders::status,
            diesel::dsl::count_star(),
            // PostgreSQL sums BIGINT as NUMERIC: back to BIGINT (totals are bounded far below).
            diesel::dsl::sql::<Nullable<BigInt>>("CAST(SUM(orders.total) AS BIGINT)"),
        ))
        .load(conn)
}

/// The lines of every order in `order_ids`.
pub fn lines_of(conn: &mut DbConnection, order_ids: &[OrderId]) -> QueryResult<Vec<OrderLine>> {
    order_lines::table
        .filter(order_lines::order_id.eq_any(order_ids))
        .order_by((order_lines::order_id, order_lines::id))
        .select(OrderLine::as_select())
        .load(conn)
}

/// An order line with the variant it was bought as, if that variant still exists and the caller
/// may see it. The variant is shared: the request's loader cache and the response hold the same
/// row.
pub type LineWithVariant = (OrderLine, Option<Arc<VariantWithProduct>>);

/// The lines of every order in `order_ids`, each with its variant and the variant's product: one
/// statement for lines whose variants are asked for too.
pub fn lines_with_variants_of(
    conn: &mut DbConnection,
    order_ids: &[OrderId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<LineWithVariant>> {
    // A static statement on the concrete connection (see `product::by_ids`).
    let rows: Vec<(OrderLine, Option<(Variant, Product)>)> =
        on_backend!(conn, |concrete| order_lines::table
            .left_join(variants::table.inner_join(products::table))
            .filter(id_in(order_lines::order_id, order_ids))
            .order_by((order_lines::order_id, order_lines::id))
            .select((
                OrderLine::as_select(),
                Option::<(Variant, Product)>::as_select(),
            ))
            .load(concrete))?;
    Ok(rows
        .into_iter()
        .map(|(line, variant)| {
            let variant = variant
                .filter(|(variant, product)| {
                    visibility.shows_variant(product.status, variant.archived_at.is_some())
                })
                .map(|(variant, product)| Arc::new((variant, Arc::new(product))));
            (line, variant)
        })
        .collect())
}

/// The events of every order in `order_ids`, oldest first.
pub fn events_of(conn: &mut DbConnection, order_ids: &[OrderId]) -> QueryResult<Vec<OrderEvent>> {
    order_events::table
        .filter(order_events::order_id.eq_any(order_ids))
        .order_by((order_events::order_id, order_events::id))
        .select(OrderEvent::as_select())
        .load(conn)
}

/// Moves an order from `from` to `to` if it is still in `from`. Whether it moved.
pub fn transition(
    conn: &mut DbConnection,
    order_id: OrderId,
    from: OrderStatus,
    to: OrderStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(orders::table.find(order_id))
        .filter(orders::status.eq(from))
        .set((orders::status.eq(to), orders::updated_at.eq(now)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Takes `quantity` units of each variant of `wanted` that has that many in stock (a variant
/// listed twice is wanted for the sum), each in one conditional update (never below zero,
/// whatever runs concurrently): the stock left of each variant taken, in no particular order. A
/// variant missing from the answer had too few (or is gone); the caller then rolls back, which
/// returns what was taken.
///
/// Rows are locked in variant id order, so two checkouts of the same variants never wait for
/// each other in a circle. On PostgreSQL it is one statement kept prepared: its first part locks
/// the rows `ORDER BY id FOR NO KEY UPDATE` (the lock an `UPDATE` takes, which leaves inserts of
/// rows referring to a variant free), then `UPDATE … FROM unnest(ids, quantities)` changes only
/// rows it holds already (an `UPDATE` alone locks in the order its plan meets the rows, which on
/// a small table is the table's order). On SQLite, whose writers take turns, one statement per
/// variant.
pub fn take_stock(
    conn: &mut DbConnection,
    wanted: &[(VariantId, i32)],
    now: NaiveDateTime,
) -> QueryResult<Vec<StockLeft>> {
    let mut summed = std::collections::BTreeMap::<VariantId, i32>::new();
    for &(variant_id, quantity) in wanted {
        *summed.entry(variant_id).or_default() += quantity;
    }
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            use diesel::sql_types::{Array, Integer, Timestamp};
            let (ids, quantities): (Vec<VariantId>, Vec<i32>) = summed.into_iter().unzip();
            Prepared(
                diesel::sql_query(
                    "WITH locked AS MATERIALIZED ( \
                         SELECT id FROM variants WHERE id = ANY($1) ORDER BY id \
                         FOR NO KEY UPDATE \
                     ) \
                     UPDATE variants AS v SET stock = v.stock - w.quantity, updated_at = $3 \
                     FROM unnest($1::int8[], $2::int4[]) AS w (id, quantity), locked \
                     WHERE locked.id = w.id AND v.id = w.id AND v.stock >= w.quantity \
                     RETURNING v.id AS variant_id, v.stock AS stock",
                )
                .bind::<Array<BigInt>, _>(ids)
                .bind::<Array<Integer>, _>(quantities)
                .bind::<Timestamp, _>(now),
            )
            .load(pg)
        }
        DbConnection::Sqlite(sqlite) => {
            let mut left = Vec::with_capacity(summed.len());
            for (variant_id, quantity) in summed {
                let stock = diesel::update(variants::table.find(variant_id))
                    .filter(variants::stock.ge(quantity))
                    .set((
                        variants::stock.eq(variants::stock - quantity),
                        variants::updated_at.eq(now),
                    ))
                    .returning(variants::stock)
                    .get_result(sqlite)
                    .optional()?;
                left.extend(stock.map(|stock| StockLeft { variant_id, stock }));
            }
            Ok(left)
        }
    }
}

/// A variant's stock after [`take_stock`] took from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct StockLeft {
    #[diesel(sql_type = BigInt)]
    pub variant_id: VariantId,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub stock: i32,
}

/// Locks the variants `ids` until the transaction ends, in id order: a transaction that then
/// changes their stock in any order cannot wait in a circle with a checkout, which locks in the
/// same order ([`take_stock`]). On SQLite, whose writers take turns, nothing to do.
#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
pub fn lock_variants(conn: &mut DbConnection, ids: &[VariantId]) -> QueryResult<()> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) if !ids.is_empty() => {
            variants::table
                .filter(id_in(variants::id, ids))
                .order_by(variants::id)
                .select(variants::id)
                .for_no_key_update()
                .load::<VariantId>(pg)?;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Puts `quantity` units of a variant back in stock; the stock now (`None`: no such variant).
pub fn return_stock(
    conn: &mut DbConnection,
    variant_id: VariantId,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<Option<i32>> {
    diesel::update(variants::table.find(variant_id))
        .set((
            variants::stock.eq(variants::stock + quantity),
            variants::updated_at.eq(now),
        ))
        .returning(variants::stock)
        .get_result(conn)
        .optional()
}

/// The order a guest's access token opens (by the token's hash).
pub fn by_access_token_hash(conn: &mut DbConnection, hash: &str) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::access_token_hash.eq(hash))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// Marks an order changed at `now` (a change beside its status: a partial refund).
pub fn mark_changed(
    conn: &mut DbConnection,
    order_id: OrderId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(orders::table.find(order_id))
        .set(orders::updated_at.eq(now))
        .execute(conn)?;
    Ok(())
}

/// Takes the order's row lock if it still waits for payment (PostgreSQL: a concurrent payment
/// settling waits here, and a claim made after it sees the order paid). Whether it waits.
pub fn lock_if_unpaid(
    conn: &mut DbConnection,
    order_id: OrderId,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(orders::table.find(order_id))
        .filter(orders::status.eq(OrderStatus::PendingPayment))
        .set(orders::updated_at.eq(now))
        .execute(conn)?;
    Ok(updated == 1)
}

/// Claims up to `limit` unpaid orders placed before `placed_before` whose reservation has run
/// out: no pending charge holds it (see `domain::payments::holds_reservation`, which this
/// statement mirrors; callers check it again on a fresh read). On PostgreSQL
/// the rows are taken `FOR UPDATE SKIP LOCKED`, so that concurrent sweeps on several instances
/// take different orders and each order is expired once. Call inside a write transaction.
pub fn claim_expired_unpaid(
    conn: &mut DbConnection,
    placed_before: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Order>> {
    let recent_attempt = payments::table
        .filter(payments::order_id.eq(orders::id))
        .filter(payments::kind.eq(PaymentKind::Charge))
        .filter(payments::status.eq(PaymentStatus::Pending))
        .filter(
            payments::client_secret
                .is_null()
                .or(payments::created_at.ge(placed_before)),
        );
    let expired = orders::table
        .filter(orders::status.eq(OrderStatus::PendingPayment))
        .filter(orders::created_at.lt(placed_before))
        .filter(diesel::dsl::not(diesel::dsl::exists(recent_attempt)))
        .order_by(orders::id)
        .limit(limit);
    match conn {
        DbConnection::Sqlite(c) => expired.select(Order::as_select()).load(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => expired
            .select(Order::as_select())
            .for_update()
            .skip_locked()
            .load(c),
    }
}

/// Gives guest orders placed with `email` to the account `user_id`, changed at `now`. Their ids.
pub fn adopt_guest_orders(
    conn: &mut DbConnection,
    email: &str,
    user_id: AccountId,
    now: NaiveDateTime,
) -> QueryResult<Vec<i64>> {
    diesel::update(orders::table)
        .filter(orders::user_id.is_null())
        .filter(orders::email.eq(email))
        .set((orders::user_id.eq(user_id), orders::updated_at.eq(now)))
        .returning(orders::id)
        .get_results(conn)
}

/// The order placed last, if any.
pub fn newest(conn: &mut DbConnection) -> QueryResult<Option<Order>> {
    orders::table
        .order_by(orders::id.desc())
        .select(Order::as_select())
        .first(conn)
        .optional()
}
