//! Bulk loading for seeds and imports: multi-row inserts in chunks, and resetting id sequences
//! after rows were inserted with explicit ids.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::image::NewImage;
use crate::db::models::product::NewProduct;
use crate::db::models::variant::NewVariant;
use crate::db::schema::{product_images, products, variants};
use crate::on_backend;

/// Rows per INSERT: well under both backends' bound-parameter limits.
const CHUNK: usize = 1_000;

/// Inserts `(id, row)` pairs into `$table`, [`CHUNK`] rows per statement.
macro_rules! insert_with_ids {
    ($conn:expr, $table:ident, $rows:expr) => {{
        for chunk in $rows.chunks(CHUNK) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(id, row)| ($table::id.eq(*id), row))
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
