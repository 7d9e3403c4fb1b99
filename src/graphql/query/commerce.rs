//! Commerce queries: a cart by id, an order by number or access token, and orders (a customer's
//! own, or everyone's for staff).

use async_graphql::{Context, ID, Object, Result};

use crate::domain::feeds::RowKey;
use crate::domain::ids::OrderId;
use crate::domain::orders::order_id_from_number;
use crate::domain::partners::Scope;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::CustomerOr;
use crate::graphql::inputs::commerce::OrdersWhere;
use crate::graphql::inputs::feeds::OrderSortBy;
use crate::graphql::loaders::{Loader, remember_page_lines};
use crate::graphql::pagination::{encode_cursor, page_request};
use crate::graphql::types::OrderNode;
use crate::graphql::types::cart::{CartNode, cart_token};
use crate::graphql::types::order::OrderConnection;
use crate::graphql::types::shipping::ShopNode;
use crate::services::orders::{LineDetail, OrderCaller, OrderPageWith};
use crate::services::{cart, orders};

/// Cart and order reads.
#[derive(Default)]
pub struct CommerceQuery;

#[Object]
impl CommerceQuery {
    /// The shop's settings a front end needs: its currency, whether prices include tax, where
    /// it ships and its tax rates.
    async fn shop(&self) -> ShopNode {
        ShopNode
    }

    /// A cart by id, priced now; null when there is none you may use.
    async fn cart(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The cart's id, from `cartCreate`.")] id: ID,
    ) -> Result<Option<CartNode>> {
        let request = ctx.request()?;
        let token = cart_token(&id)?;
        let view = cart::get(&request.db, request.principal, token, ctx.shop()?.pricing).await?;
        Ok(view.map(CartNode::from))
    }

    /// The order an access token opens (the token `checkoutComplete` gave, also mailed with the
    /// order confirmation); null for an unknown token. How a guest follows their order.
    async fn order_by_token(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's access token (`bzo_…`).")] token: String,
    ) -> Result<Option<OrderNode>> {
        let request = ctx.request()?;
        let order = orders::by_access_token(&request.db, token).await?;
        Ok(order.map(OrderNode::from))
    }

    /// The order with this number (`#1042`, as `Order.number` shows it): one of your own, or any
    /// order for staff and partners with `read_orders`; null when there is none you may see. A
    /// malformed number is `BAD_USER_INPUT`.
    #[graphql(guard = "CustomerOr(Scope::ReadOrders)")]
    async fn order(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The order's number, `#1042` (the `#` may be left out).")] number: String,
    ) -> Result<Option<OrderNode>> {
        let id = order_id_from_number(&number)
            .map_err(|message| AppError::bad_input(format!("number: {message}")))?;
        let caller = OrderCaller::from(ctx.request()?.principal);
        Ok(ctx
            .data::<Loader>()?
            .load_one(OrderId(id))
            .await?
            .filter(|order| orders::may_see(order, &caller))
            .map(OrderNode::from))
    }

    /// Orders, newest first unless `sortBy` says otherwise: your own, or every order for staff
    /// and partners with `read_orders`. With `sortBy: {field: UPDATED_AT}` it is the change feed
    /// of orders (every status change, payment attempt or new customer moves an order ahead): see
    /// `products`. Relay connection.
    #[graphql(guard = "CustomerOr(Scope::ReadOrders)")]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N orders (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return orders after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N orders (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return orders before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned order meets.")] filter: Option<
            OrdersWhere,
        >,
        #[graphql(desc = "Sort order; by default newest first (`CREATED_AT`, `DESC`).")]
        sort_by: Option<OrderSortBy>,
    ) -> Result<OrderConnection> {
        let request = ctx.request()?;
        let page = page_request::<RowKey>(first, after, last, before)?;
        let query = filter
            .unwrap_or_default()
            .into_query(sort_by, ctx.shop()?.currency)?;
        let order = query.sort.order;
        let node = ctx.look_ahead().field("edges").field("node");
        let lines = node.field("lines");
        let with = OrderPageWith {
            customers: node.field("customer").exists(),
            lines: match (lines.exists(), lines.field("variant").exists()) {
                (false, _) => None,
                (true, false) => Some(LineDetail::Plain),
                (true, true) => Some(LineDetail::WithVariants),
            },
        };
        let page = orders::list(&request.db, request.principal, query, page, with).await?;
        let ids: Vec<OrderId> = page.orders.items.iter().map(|(o, _)| o.id).collect();
        remember_page_lines(ctx.data::<Loader>()?, &ids, page.lines).await;
        Ok(OrderConnection::from_page(page.orders, |(row, _)| {
            encode_cursor(&RowKey::of(order, row.id, row.change_position))
        }))
    }
}
