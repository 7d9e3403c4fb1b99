//! Collection queries: the shop's manual collections (also their change feed), and one by
//! slug.

use async_graphql::{Context, Object, Result};

use crate::domain::feeds::{RowKey, RowSort};
use crate::graphql::context::ContextExt as _;
use crate::graphql::inputs::feeds::{CollectionSortBy, CollectionsWhere, since};
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
    /// with `READ_PRODUCTS`), newest first unless `sortBy` says otherwise, as a Relay
    /// connection. With `sortBy: {field: UPDATED_AT}` it is the change feed of collections
    /// (their fields, products and order; deletions come as `collection.deleted` events): see
    /// "Sync by updatedSince" in the README.
    async fn collections(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N collections (at most 100; default 20).")]
        first: Option<i32>,
        #[graphql(desc = "Return collections after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N collections (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return collections before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned collection meets.")]
        filter: Option<CollectionsWhere>,
        #[graphql(desc = "Sort order; by default by creation, newest first.")] sort_by: Option<
            CollectionSortBy,
        >,
    ) -> Result<CollectionConnection> {
        let sort = sort_by.map_or(RowSort::NEWEST_FIRST, RowSort::from);
        let page = page_request::<RowKey>(first, after, last, before)?;
        let since = since(filter.unwrap_or_default().updated_since);
        let request = ctx.request()?;
        let page = collections::list(&request.db, request.visibility(), since, sort, page).await?;
        Ok(CollectionConnection::from_page(page, |row| {
            encode_cursor(&RowKey::of(sort.order, row.id, row.change_position))
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
