//! Reads for bulk export: the next batch of a table in id order after a keyset position (one
//! statement per batch, on the primary key), optionally only rows changed since a time.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::models::order::Order;
use crate::db::models::product::Product;
use crate::db::models::user::User;
use crate::db::models::variant::Variant;
use crate::db::schema::{orders, products, users, variants};

/// Where a batch starts and how large it is.
#[derive(Debug, Clone, Copy)]
pub struct BatchWindow {
    /// Only rows with a larger id.
    pub after: i64,
    /// Rows to read at most.
    pub limit: i64,
    /// Only rows changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
}

/// The rows of `$table` (as `$row`) in `$window`, by id.
macro_rules! batch_of {
    ($conn:expr, $table:ident, $row:ty, $window:expr) => {{
        let window: BatchWindow = $window;
        let mut query = $table::table
            .filter($table::id.gt(window.after))
            .select(<$row>::as_select())
            .into_boxed();
        if let Some(since) = window.updated_since {
            query = query.filter($table::updated_at.ge(since));
        }
        query
            .order_by($table::id.asc())
            .limit(window.limit)
            .load($conn)
    }};
}

/// The next batch of products, whatever their status.
pub fn products(conn: &mut DbConnection, window: BatchWindow) -> QueryResult<Vec<Product>> {
    batch_of!(conn, products, Product, window)
}

/// The next batch of variants, archived ones included.
pub fn variants(conn: &mut DbConnection, window: BatchWindow) -> QueryResult<Vec<Variant>> {
    batch_of!(conn, variants, Variant, window)
}

/// The next batch of orders (their lines: `order::lines_of`).
pub fn orders(conn: &mut DbConnection, window: BatchWindow) -> QueryResult<Vec<Order>> {
    batch_of!(conn, orders, Order, window)
}

/// The next batch of accounts, every role.
pub fn accounts(conn: &mut DbConnection, window: BatchWindow) -> QueryResult<Vec<User>> {
    batch_of!(conn, users, User, window)
}
