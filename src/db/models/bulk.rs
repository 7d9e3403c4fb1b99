//! Bulk loading for seeds and imports: multi-row inserts in chunks, and resetting id sequences
//! after rows were inserted with explicit ids.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::image::NewImage;
use crate::db::models::product::NewProduct;
use crate::db::models::variant::NewVariant;
use crate::db::schema::{
    addresses, order_events, order_lines, orders, product_images, products, users, variants,
};
use crate::db::sealed::Sealed;
use crate::domain::accounts::Role;
use crate::domain::ids::{ProductId, VariantId};
use crate::domain::orders::{OrderEventType, OrderStatus};
use crate::on_backend;

/// Rows per INSERT: well under both backends' bound-parameter limits.
const CHUNK: usize = 1_000;

/// Inserts `(id, row)` pairs into `$table`, [`CHUNK`] rows per statement. Rows with sealed
/// columns insert by value (`owned`): a sealed value is made from the field, not borrowed.
macro_rules! insert_with_ids {
    ($conn:expr, $table:ident, $rows:expr) => {
        insert_with_ids!($conn, $table, $rows, |row| row)
    };
    ($conn:expr, $table:ident, $rows:expr, owned) => {
        insert_with_ids!($conn, $table, $rows, |row| row.clone())
    };
    ($conn:expr, $table:ident, $rows:expr, |$row:ident| $value:expr) => {{
        for chunk in $rows.chunks(CHUNK) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(id, $row)| ($table::id.eq(*id), $value))
                .collect();
            on_backend!(&mut *$conn, |c| diesel::insert_into($table::table)
                .values(values)
                .execute(c))?;
        }
        Ok(())
    }};
}

/// Inserts products with the given ids.
pub fn insert_products(conn: &mut DbConnection, rows: &[(i64, NewProduct)]) -> QueryResult<()> {
    insert_with_ids!(conn, products, rows)
}

/// Inserts variants with the given ids.
pub fn insert_variants(conn: &mut DbConnection, rows: &[(i64, NewVariant)]) -> QueryResult<()> {
    insert_with_ids!(conn, variants, rows)
}

/// Inserts images with the given ids.
pub fn insert_images(conn: &mut DbConnection, rows: &[(i64, NewImage)]) -> QueryResult<()> {
    insert_with_ids!(conn, product_images, rows)
}

/// An account row for seeding.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct SeedUser {
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub search_text: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// An address row for seeding.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = addresses, treat_none_as_default_value = false)]
pub struct SeedAddress {
    pub user_id: i64,
    #[diesel(serialize_as = Sealed)]
    pub first_name: String,
    #[diesel(serialize_as = Sealed)]
    pub last_name: String,
    #[diesel(serialize_as = Sealed)]
    pub company: String,
    #[diesel(serialize_as = Sealed)]
    pub line1: String,
    #[diesel(serialize_as = Sealed)]
    pub line2: String,
    #[diesel(serialize_as = Sealed)]
    pub city: String,
    #[diesel(serialize_as = Sealed)]
    pub region: String,
    #[diesel(serialize_as = Sealed)]
    pub postal_code: String,
    pub country_code: String,
    #[diesel(serialize_as = Sealed)]
    pub phone: String,
    pub is_default: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// An order row for seeding.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
pub struct SeedOrder {
    pub user_id: Option<i64>,
    pub email: String,
    pub status: OrderStatus,
    pub currency: String,
    pub subtotal: i64,
    pub discount_total: i64,
    pub shipping_total: i64,
    pub tax_total: i64,
    pub total: i64,
    pub discount_code: Option<String>,
    #[diesel(serialize_as = Sealed)]
    pub shipping_address: String,
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// An order event row for seeding.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = order_events, treat_none_as_default_value = false)]
pub struct SeedOrderEvent {
    pub order_id: i64,
    pub kind: OrderEventType,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor_id: Option<i64>,
    pub note: String,
    pub created_at: chrono::NaiveDateTime,
}

/// Inserts accounts with the given ids.
pub fn insert_users(conn: &mut DbConnection, rows: &[(i64, SeedUser)]) -> QueryResult<()> {
    insert_with_ids!(conn, users, rows)
}

/// Inserts addresses with the given ids.
pub fn insert_addresses(conn: &mut DbConnection, rows: &[(i64, SeedAddress)]) -> QueryResult<()> {
    insert_with_ids!(conn, addresses, rows, owned)
}

/// Inserts orders with the given ids.
pub fn insert_orders(conn: &mut DbConnection, rows: &[(i64, SeedOrder)]) -> QueryResult<()> {
    insert_with_ids!(conn, orders, rows, owned)
}

/// Inserts order lines with the given ids.
pub fn insert_order_lines(
    conn: &mut DbConnection,
    rows: &[(i64, crate::db::models::order::NewOrderLine)],
) -> QueryResult<()> {
    insert_with_ids!(conn, order_lines, rows)
}

/// Inserts order events with the given ids.
pub fn insert_order_events(
    conn: &mut DbConnection,
    rows: &[(i64, SeedOrderEvent)],
) -> QueryResult<()> {
    insert_with_ids!(conn, order_events, rows)
}

/// How many orders there are.
pub fn count_orders(conn: &mut DbConnection) -> QueryResult<i64> {
    orders::table.count().get_result(conn)
}

/// A variant on sale, with what an order line snapshots of it.
#[derive(Debug, Clone, Queryable)]
pub struct SellableVariant {
    pub variant_id: VariantId,
    pub product_id: ProductId,
    pub sku: String,
    pub title: String,
    pub price: i64,
    pub product_name: String,
}

/// Every variant on sale (active product, not archived), by id.
pub fn sellable_variants(conn: &mut DbConnection) -> QueryResult<Vec<SellableVariant>> {
    variants::table
        .inner_join(products::table)
        .filter(products::status.eq(crate::domain::catalog::ProductStatus::Active))
        .filter(variants::archived_at.is_null())
        .order_by(variants::id)
        .select((
            variants::id,
            products::id,
            variants::sku,
            variants::title,
            variants::price,
            products::name,
        ))
        .load(conn)
}

/// The id after the largest account id.
pub fn next_user_id(conn: &mut DbConnection) -> QueryResult<i64> {
    let largest: Option<i64> = users::table
        .select(diesel::dsl::max(users::id))
        .first(conn)?;
    Ok(largest.unwrap_or(0) + 1)
}

/// Moves PostgreSQL's id sequences past the largest id of each table (SQLite's AUTOINCREMENT
/// does this by itself).
pub fn reset_id_sequences(conn: &mut DbConnection, tables: &[&'static str]) -> QueryResult<()> {
    if let DbConnection::Sqlite(_) = conn {
        return Ok(());
    }
    for table in tables {
        // Table names come from this crate's constants, never from input.
        conn.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
        ))?;
    }
    Ok(())
}
