//! Variants: the sellable SKUs of a product, with price and stock on hand.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{products, variants};
use crate::domain::catalog::{CatalogVisibility, ProductStatus};

/// A variant row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = variants)]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub sku: String,
    pub title: String,
    /// JSON array of `{"name": …, "value": …}`.
    pub options: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub stock: i32,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set when staff archived it: hidden from customers, kept for history.
    pub archived_at: Option<NaiveDateTime>,
}

/// A variant to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = variants, treat_none_as_default_value = false)]
pub struct NewVariant {
    pub product_id: i64,
    pub sku: String,
    pub title: String,
    pub options: String,
    pub price: i64,
    pub compare_at_price: Option<i64>,
    pub stock: i32,
    pub position: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The variants of every product in `product_ids`, in display order.
pub fn for_products(conn: &mut DbConnection, product_ids: &[i64]) -> QueryResult<Vec<Variant>> {
    variants::table
        .filter(variants::product_id.eq_any(product_ids))
        .order_by((variants::position, variants::id))
        .select(Variant::as_select())
        .load(conn)
}

/// The variants with these ids whose product the caller may see.
pub fn by_ids(
    conn: &mut DbConnection,
    ids: &[i64],
    visibility: CatalogVisibility,
) -> QueryResult<Vec<Variant>> {
    let mut query = variants::table
        .inner_join(products::table)
        .filter(variants::id.eq_any(ids))
        .select(Variant::as_select())
        .into_boxed();
    if visibility == CatalogVisibility::Storefront {
        query = query.filter(products::status.eq(ProductStatus::Active.as_str()));
    }
    query.load(conn)
}
