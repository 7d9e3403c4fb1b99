//! Batched order reads: orders by id, and the lines (with or without their variants), events,
//! payments, fulfilments and notes of many orders.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::Loader as RequestLoader;
use super::catalog::{DbLoader, LoadResult, group_by_key};
use crate::db::models::fulfillment::{self, FulfillmentWithLines, OrderNote};
use crate::db::models::order::{self, LineWithVariant, Order, OrderEvent, OrderLine};
use crate::db::models::payment::{self, Payment};
use crate::domain::bounds::{MAX_CART_LINES, MAX_EVENTS_PER_ORDER, MAX_PAYMENTS_PER_ORDER};
use crate::domain::fulfillments::MAX_FULFILLMENTS_PER_ORDER;
use crate::domain::ids::OrderId;
use crate::domain::orders::MAX_NOTES_PER_ORDER;
use crate::error::AppError;
use crate::services::orders::PageLines;

/// The lines of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinesOf(pub OrderId);

/// The lines of an order, each with its variant and the variant's product, for selections that
/// ask for them: one statement instead of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinesWithVariantsOf(pub OrderId);

/// The events of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventsOf(pub OrderId);

/// The payment attempts of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PaymentsOf(pub OrderId);

/// The fulfilments of an order, each with its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FulfillmentsOf(pub OrderId);

/// The staff notes on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NotesOf(pub OrderId);

impl Loader<OrderId> for DbLoader {
    type Value = Order;
    type Error = AppError;

    async fn load(&self, keys: &[OrderId]) -> LoadResult<OrderId, Order> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(order::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|o| (o.id, o)).collect())
    }
}

/// Puts the lines read with a page of `orders` into the request's loader, so that the orders'
/// `lines` resolve without a statement of their own. Every order gets an entry, an empty one if
/// it has no lines.
pub async fn remember_page_lines(loader: &RequestLoader, orders: &[OrderId], lines: PageLines) {
    match lines {
        PageLines::NotRead => {}
        PageLines::Plain(rows) => {
            remember(loader, orders, LinesOf, rows, |line| line.order_id).await;
        }
        PageLines::WithVariants(rows) => {
            remember(loader, orders, LinesWithVariantsOf, rows, |(line, _)| {
                line.order_id
            })
            .await;
        }
    }
}

/// Groups `rows` by the order `order_of` names and gives the loader each order's group under
/// `key(order)`.
async fn remember<K, V>(
    loader: &RequestLoader,
    orders: &[OrderId],
    key: fn(OrderId) -> K,
    rows: Vec<V>,
    order_of: fn(&V) -> OrderId,
) where
    K: Copy + Eq + std::hash::Hash + Send + Sync + 'static,
    DbLoader: Loader<K, Value = Arc<[V]>>,
{
    let keys: Vec<K> = orders.iter().copied().map(key).collect();
    let by_order = group_by_key(&keys, rows, |row| Some(key(order_of(row))), usize::MAX);
    loader.feed_many(by_order).await;
}

/// Loads the rows of many orders keyed by `$key`: `$load` reads them (with `$ids` the orders'
/// ids and `$visibility` the caller's catalog visibility), `$order_id` says whose each row is;
/// each order keeps at most `$most` (the list's bound, which writes keep anyway).
macro_rules! children_loader {
    (
        $key:ident,
        $value:ty,
        |$conn:ident, $ids:ident, $visibility:pat_param| $load:expr,
        |$row:ident| $order_id:expr,
        $most:expr
    ) => {
        impl Loader<$key> for DbLoader {
            type Value = Arc<[$value]>;
            type Error = AppError;

            async fn load(&self, keys: &[$key]) -> LoadResult<$key, Arc<[$value]>> {
                let ids: Vec<OrderId> = keys.iter().map(|k| k.0).collect();
                let visibility = self.visibility;
                let rows = self
                    .db
                    .run(move |$conn| {
                        let $ids = &ids[..];
                        let $visibility = visibility;
                        Ok($load?)
                    })
                    .await?;
                let order = |$row: &$value| Some($key($order_id));
                Ok(group_by_key(keys, rows, order, $most))
            }
        }
    };
}

children_loader!(
    LinesOf,
    OrderLine,
    |conn, ids, _| order::lines_of(conn, ids),
    |line| line.order_id,
    MAX_CART_LINES
);
children_loader!(
    LinesWithVariantsOf,
    LineWithVariant,
    |conn, ids, visibility| order::lines_with_variants_of(conn, ids, visibility),
    |row| row.0.order_id,
    MAX_CART_LINES
);
children_loader!(
    EventsOf,
    OrderEvent,
    |conn, ids, _| order::events_of(conn, ids),
    |event| event.order_id,
    MAX_EVENTS_PER_ORDER
);
children_loader!(
    PaymentsOf,
    Payment,
    |conn, ids, _| payment::of_orders(conn, ids),
    |payment| payment.order_id,
    MAX_PAYMENTS_PER_ORDER
);
children_loader!(
    FulfillmentsOf,
    FulfillmentWithLines,
    |conn, ids, _| fulfillment::with_lines_of_orders(conn, ids),
    |row| row.0.order_id,
    MAX_FULFILLMENTS_PER_ORDER
);
children_loader!(
    NotesOf,
    OrderNote,
    |conn, ids, _| fulfillment::notes_of(conn, ids),
    |note| note.order_id,
    MAX_NOTES_PER_ORDER
);
