//! Product images: URLs with alt text, ordered by position.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::product_images;
use crate::domain::ids::{ImageId, ProductId};

/// A product image row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = product_images)]
pub struct Image {
    pub id: ImageId,
    pub product_id: ProductId,
    pub url: String,
    pub alt_text: String,
    pub position: i32,
}

/// An image to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = product_images, treat_none_as_default_value = false)]
pub struct NewImage {
    pub product_id: ProductId,
    pub url: String,
    pub alt_text: String,
    pub position: i32,
}

/// The images of every product in `product_ids`, in display order.
pub fn for_products(conn: &mut DbConnection, product_ids: &[ProductId]) -> QueryResult<Vec<Image>> {
    product_images::table
        .filter(product_images::product_id.eq_any(product_ids))
        .order_by((product_images::position, product_images::id))
        .select(Image::as_select())
        .load(conn)
}

/// The images with these ids.
pub fn by_ids(conn: &mut DbConnection, ids: &[ImageId]) -> QueryResult<Vec<Image>> {
    product_images::table
        .filter(product_images::id.eq_any(ids))
        .select(Image::as_select())
        .load(conn)
}

/// How many images a product has.
pub fn count_for_product(conn: &mut DbConnection, product_id: ProductId) -> QueryResult<i64> {
    product_images::table
        .filter(product_images::product_id.eq(product_id))
        .count()
        .get_result(conn)
}

/// Adds an image to a product; its id.
pub fn insert(conn: &mut DbConnection, new: &NewImage) -> QueryResult<ImageId> {
    diesel::insert_into(product_images::table)
        .values(new)
        .returning(product_images::id)
        .get_result(conn)
}

/// Removes an image; the product it belonged to, if it existed.
pub fn delete(conn: &mut DbConnection, id: ImageId) -> QueryResult<Option<ProductId>> {
    diesel::delete(product_images::table.find(id))
        .returning(product_images::product_id)
        .get_result(conn)
        .optional()
}
