//! Variants: the sellable SKUs of a product, with price and stock on hand.

use std::sync::Arc;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::product::Product;
use crate::db::schema::{products, variants};
use crate::domain::catalog::{CatalogVisibility, ProductStatus};
use crate::domain::feeds::RowWindow;
use crate::domain::ids::{ProductId, VariantId};
use crate::{filter_ids, row_window};

/// A variant as it is read: the columns the API shows or edits (`created_at` is only written).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = variants)]
pub struct Variant {
    pub id: VariantId,
    pub product_id: ProductId,
    pub sku: String,
    pub title: String,
    /// JSON array of `{"name": …, "value": …}`.
    pub options: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub stock: i32,
    pub position: i32,
    /// Set when staff archived it: hidden from customers, kept for history.
    pub archived_at: Option<NaiveDateTime>,
    /// When the row last changed (stock included).
    pub updated_at: NaiveDateTime,
    /// The event-log position of the row's latest change: change feeds walk variants in this
    /// order.
    pub change_position: i64,
    /// What one unit weighs, in grams (0: not set).
    pub weight_grams: i64,
}

/// A variant to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = variants, treat_none_as_default_value = false)]
pub struct NewVariant {
    pub product_id: ProductId,
    pub sku: String,
    pub title: String,
    pub options: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub stock: i32,
    pub position: i32,
    pub weight_grams: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The variants of every product in `product_ids` the caller may see (customers: not
/// archived), in display order.
pub fn for_products(
    conn: &mut DbConnection,
    product_ids: &[ProductId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<Variant>> {
    let mut query = variants::table
        .filter(variants::product_id.eq_any(product_ids))
        .order_by((variants::position, variants::id))
        .select(Variant::as_select())
        .into_boxed();
    if visibility == CatalogVisibility::Storefront {
        query = query.filter(variants::archived_at.is_null());
    }
    query.load(conn)
}

/// How many variants a product has, archived ones included.
pub fn count_for_product(conn: &mut DbConnection, product_id: ProductId) -> QueryResult<i64> {
    variants::table
        .filter(variants::product_id.eq(product_id))
        .count()
        .get_result(conn)
}

/// The variants with these ids whose product the caller may see.
pub fn by_ids(
    conn: &mut DbConnection,
    ids: &[VariantId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<Variant>> {
    let mut query = variants::table
        .inner_join(products::table)
        .filter(variants::id.eq_any(ids))
        .select(Variant::as_select())
        .into_boxed();
    if visibility == CatalogVisibility::Storefront {
        query = query
            .filter(products::status.eq(ProductStatus::Active))
            .filter(variants::archived_at.is_null());
    }
    query.load(conn)
}

/// A variant with its product, which a response may show through several variants.
pub type VariantWithProduct = (Variant, Arc<Product>);

/// The variants with these ids whose product the caller may see, each with its product: one
/// statement for what a variant and its product resolve to.
pub fn by_ids_with_products(
    conn: &mut DbConnection,
    ids: &[VariantId],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<VariantWithProduct>> {
    with_products(conn, VariantKeys::Ids(ids), visibility)
}

/// The variants with these (normalised) SKUs whose product the caller may see, each with its
/// product: one statement for `variant(sku:)` however many SKUs a request asks for.
pub fn by_skus_with_products(
    conn: &mut DbConnection,
    skus: &[String],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<VariantWithProduct>> {
    with_products(conn, VariantKeys::Skus(skus), visibility)
}

/// What variants are looked up by.
enum VariantKeys<'a> {
    Ids(&'a [VariantId]),
    Skus(&'a [String]),
}

fn with_products(
    conn: &mut DbConnection,
    keys: VariantKeys<'_>,
    visibility: CatalogVisibility,
) -> QueryResult<Vec<VariantWithProduct>> {
    let query = variants::table
        .inner_join(products::table)
        .select((Variant::as_select(), Product::as_select()))
        .into_boxed();
    let mut query = match keys {
        VariantKeys::Ids(ids) => filter_ids!(query, variants::id, ids),
        VariantKeys::Skus([sku]) => query.filter(variants::sku.eq(sku)),
        VariantKeys::Skus(skus) => query.filter(variants::sku.eq_any(skus)),
    };
    if visibility == CatalogVisibility::Storefront {
        query = query
            .filter(products::status.eq(ProductStatus::Active))
            .filter(variants::archived_at.is_null());
    }
    let rows: Vec<(Variant, Product)> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(variant, product)| (variant, Arc::new(product)))
        .collect())
}

/// Inserts a variant; its id.
pub fn insert(conn: &mut DbConnection, new: &NewVariant) -> QueryResult<VariantId> {
    diesel::insert_into(variants::table)
        .values(new)
        .returning(variants::id)
        .get_result(conn)
}

/// The variant with this id, whatever its visibility.
pub fn by_id(conn: &mut DbConnection, id: VariantId) -> QueryResult<Option<Variant>> {
    variants::table
        .find(id)
        .select(Variant::as_select())
        .first(conn)
        .optional()
}

/// Writes staff's edits of a variant.
pub fn update(
    conn: &mut DbConnection,
    id: VariantId,
    changes: &VariantChanges,
) -> QueryResult<usize> {
    diesel::update(variants::table.find(id))
        .set(changes)
        .execute(conn)
}

/// The fields staff edit on a variant (stock goes through inventory adjustments).
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = variants, treat_none_as_null = true)]
pub struct VariantChanges {
    pub sku: String,
    pub title: String,
    /// JSON array of `{"name": …, "value": …}` (`domain::options::to_json`).
    pub options: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub position: i32,
    pub weight_grams: i64,
    pub updated_at: NaiveDateTime,
}

/// `(id, options)` of the variants of `product_id` on sale (not archived), in display order.
pub fn live_options_of(
    conn: &mut DbConnection,
    product_id: ProductId,
) -> QueryResult<Vec<(VariantId, String)>> {
    variants::table
        .filter(variants::product_id.eq(product_id))
        .filter(variants::archived_at.is_null())
        .order_by((variants::position, variants::id))
        .select((variants::id, variants::options))
        .load(conn)
}

/// Archives (`Some(time)`) or restores (`None`) a variant, changed at `now`.
pub fn set_archived(
    conn: &mut DbConnection,
    id: VariantId,
    archived_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(variants::table.find(id))
        .set((
            variants::archived_at.eq(archived_at),
            variants::updated_at.eq(now),
        ))
        .execute(conn)
}

/// Sets the stock of a variant only if it is still `expected`, in one statement: a stale
/// expectation changes nothing. Whether it was set.
pub fn compare_and_set_stock(
    conn: &mut DbConnection,
    id: VariantId,
    expected: i32,
    quantity: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(variants::table.find(id))
        .filter(variants::stock.eq(expected))
        .set((variants::stock.eq(quantity), variants::updated_at.eq(now)))
        .execute(conn)?;
    Ok(updated == 1)
}

/// One line of [`compare_and_set_many`]: set the stock of `sku` to `quantity` if it is
/// `expected`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StockLine {
    pub sku: String,
    pub expected: i32,
    pub quantity: i32,
}

/// A variant whose stock [`compare_and_set_many`] set.
#[derive(Debug, Clone, QueryableByName)]
pub struct StockSet {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: VariantId,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub sku: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub stock: i32,
}

/// Sets the stock of every line's SKU that still holds its expected quantity, in one statement
/// (the lines travel as one JSON parameter); returns the variants set. A line whose SKU is
/// unknown or whose stock moved meanwhile changes nothing and is not returned. On PostgreSQL the
/// rows are locked in id order first, as checkouts lock them (`order::take_stock`).
pub fn compare_and_set_many(
    conn: &mut DbConnection,
    lines: &[StockLine],
    now: NaiveDateTime,
) -> QueryResult<Vec<StockSet>> {
    use diesel::sql_types::{Text, Timestamp};
    let lines = serde_json::to_string(lines)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    match conn {
        DbConnection::Sqlite(sqlite) => diesel::sql_query(
            "UPDATE variants SET stock = x.quantity, updated_at = ? \
             FROM (SELECT value ->> 'sku' AS sku, value ->> 'expected' AS expected, \
                          value ->> 'quantity' AS quantity FROM json_each(?)) AS x \
             WHERE variants.sku = x.sku AND variants.stock = x.expected \
             RETURNING variants.id, variants.sku, variants.stock",
        )
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(lines)
        .load(sqlite),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => diesel::sql_query(
            "WITH x AS MATERIALIZED ( \
                 SELECT * FROM json_to_recordset($2::json) AS x(sku text, expected int, quantity int) \
             ), locked AS MATERIALIZED ( \
                 SELECT id FROM variants WHERE sku IN (SELECT sku FROM x) ORDER BY id \
                 FOR NO KEY UPDATE \
             ) \
             UPDATE variants AS v SET stock = x.quantity, updated_at = $1 \
             FROM x, locked \
             WHERE locked.id = v.id AND v.sku = x.sku AND v.stock = x.expected \
             RETURNING v.id, v.sku, v.stock",
        )
        .bind::<Timestamp, _>(now)
        .bind::<Text, _>(lines)
        .load(pg),
    }
}

/// The stock of each of `skus` that exists: `(sku, stock)`.
pub fn stock_of_skus(conn: &mut DbConnection, skus: &[String]) -> QueryResult<Vec<(String, i32)>> {
    variants::table
        .filter(variants::sku.eq_any(skus))
        .select((variants::sku, variants::stock))
        .load(conn)
}

/// The SKUs and prices of a product's variants on sale (not archived).
pub fn live_skus_and_prices(
    conn: &mut DbConnection,
    product_id: ProductId,
) -> QueryResult<Vec<(String, i64)>> {
    variants::table
        .filter(variants::product_id.eq(product_id))
        .filter(variants::archived_at.is_null())
        .select((variants::sku, variants::price))
        .load(conn)
}

/// One window of every variant (archived ones and those of products in any status: the list is
/// for staff and partners), changed at or after `updated_since` when given.
pub fn page(
    conn: &mut DbConnection,
    updated_since: Option<NaiveDateTime>,
    window: &RowWindow,
) -> QueryResult<Vec<Variant>> {
    let mut query = variants::table.select(Variant::as_select()).into_boxed();
    if let Some(since) = updated_since {
        query = query.filter(variants::updated_at.ge(since));
    }
    let rows = row_window!(query, variants, window).load(conn)?;
    super::event::settle_read_in(conn, window.sort.order)?;
    Ok(rows)
}
