//! Discount code queries: the staff list of codes.

use async_graphql::{Context, Object, Result};

use crate::domain::accounts::Role;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::RoleGuard;
use crate::graphql::inputs::discounts::DiscountCodesWhere;
use crate::graphql::pagination::{encode_cursor, page_request};
use crate::graphql::types::discount::DiscountCodeConnection;
use crate::services::discounts;

/// Discount code reads (staff).
#[derive(Default)]
pub struct DiscountQuery;

#[Object]
impl DiscountQuery {
    /// Every discount code, newest first, for staff. Relay connection.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn discount_codes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N codes (at most 100; default 20).")] first: Option<i32>,
        #[graphql(desc = "Return codes after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N codes (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return codes before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned code meets.")] filter: Option<
            DiscountCodesWhere,
        >,
    ) -> Result<DiscountCodeConnection> {
        let page = page_request::<i64>(first, after, last, before)?;
        let query = filter.unwrap_or_default().into();
        let page = discounts::list(&ctx.request()?.db, query, page).await?;
        Ok(DiscountCodeConnection::from_page(page, |code| {
            encode_cursor(&code.id)
        }))
    }
}
