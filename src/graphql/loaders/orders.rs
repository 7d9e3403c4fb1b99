//! Batched order reads: orders by id, and the lines, events and payments of many orders.

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key, raw_ids};
use crate::db::models::order::{self, Order, OrderEvent, OrderLine, Payment};
use crate::domain::ids::OrderId;
use crate::error::AppError;

/// The lines of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinesOf(pub OrderId);

/// The events of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventsOf(pub OrderId);

/// The payment attempts of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaymentsOf(pub OrderId);

impl Loader<OrderId> for DbLoader {
    type Value = Order;
    type Error = AppError;

    async fn load(&self, keys: &[OrderId]) -> LoadResult<OrderId, Order> {
        let ids = raw_ids(keys);
        let rows = self
            .db
            .run(move |conn| Ok(order::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|o| (OrderId(o.id), o)).collect())
    }
}

macro_rules! children_loader {
    ($key:ident, $value:ty, $query:path) => {
        impl Loader<$key> for DbLoader {
            type Value = Vec<$value>;
            type Error = AppError;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Vec<$value>> {
                let ids: Vec<i64> = keys.iter().map(|k| k.0.0).collect();
                let rows = self.db.run(move |conn| Ok($query(conn, &ids)?)).await?;
                let mut grouped = group_by_key(rows, |row| Some($key(OrderId(row.order_id))));
                for key in keys {
                    grouped.entry(*key).or_default();
                }
                Ok(grouped)
            }
        }
    };
}

children_loader!(LinesOf, OrderLine, order::lines_of);
children_loader!(EventsOf, OrderEvent, order::events_of);
children_loader!(PaymentsOf, Payment, order::payments_of);
