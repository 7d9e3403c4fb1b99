//! Collection queries: the shop's manual collections, and one by slug.

use async_graphql::{Context, Object, Result};

use crate::graphql::context::ContextExt as _;
use crate::graphql::pagination::{encode_cursor, page_request};
use crate::graphql::types::CollectionNode;
use crate::graphql::types::collection::CollectionConnection;
use crate::services::collections;

/// Collection reads.
#[derive(Default)]
pub struct CollectionQuery;

#[Object]
impl CollectionQuery {
    /// The manual collections you may see (published ones; every one for staff and partner keys
    /// with `READ_PRODUCTS`), newest first, as a Relay connection.
    async fn collections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N collections (at most 100; default 20).")]
        first: Option<i32>,
        #[graphql(desc = "Return collections after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N collections (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return collections before this cursor.")] before: Option<String>,
    ) -> Result<CollectionConnection> {
        let page = page_request::<i64>(first, after, last, before)?;
        let request = ctx.request()?;
        let page = collections::list(&request.db, request.visibility(), page).await?;
        Ok(CollectionConnection::from_page(page, |row| {
            encode_cursor(&row.id)
        }))
    }

    /// One collection by slug; null when there is none you may see.
    async fn collection(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The collection's slug, e.g. `summer-sale`.")] slug: String,
    ) -> Result<Option<CollectionNode>> {
        let request = ctx.request()?;
        let found = collections::by_slug(&request.db, slug, request.visibility()).await?;
        Ok(found.map(CollectionNode::from))
    }
}
