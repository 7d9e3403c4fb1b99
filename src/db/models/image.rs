//! Product images: URLs with alt text, ordered by position.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::product_images;

/// A product image row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = product_images)]
pub struct Image {
    pub id: i64,
    pub product_id: i64,
    pub url: String,
    pub alt_text: String,
    pub position: i32,
}

/// An image to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_images, treat_none_as_default_value = false)]
pub struct NewImage {
    pub product_id: i64,
    pub url: String,
    pub alt_text: String,
    pub position: i32,
}

/// The images of every product in `product_ids`, in display order.
pub fn for_products(conn: &mut DbConnection, product_ids: &[i64]) -> QueryResult<Vec<Image>> {
    product_images::table
        .filter(product_images::product_id.eq_any(product_ids))
        .order_by((product_images::position, product_images::id))
        .select(Image::as_select())
        .load(conn)
}
