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

/// Inserts products (with explicit ids).
pub fn insert_products(conn: &mut DbConnection, rows: &[NewProduct]) -> QueryResult<()> {
    for chunk in rows.chunks(CHUNK) {
        on_backend!(conn, |c| diesel::insert_into(products::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Inserts variants (with explicit ids).
pub fn insert_variants(conn: &mut DbConnection, rows: &[NewVariant]) -> QueryResult<()> {
    for chunk in rows.chunks(CHUNK) {
        on_backend!(conn, |c| diesel::insert_into(variants::table).values(chunk).execute(c))?;
    }
    Ok(())
}

/// Inserts images (with explicit ids).
pub fn insert_images(conn: &mut DbConnection, rows: &[NewImage]) -> QueryResult<()> {
    for chunk in rows.chunks(CHUNK) {
        on_backend!(conn, |c| diesel::insert_into(product_images::table).values(chunk).execute(c))?;
    }
    Ok(())
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
