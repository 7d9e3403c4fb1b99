//! `Collection`: a manual collection of products in the order staff set, beside the category
//! tree.

use std::collections::HashMap;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::product::ProductConnection;
use crate::db::models::collection::{Collection, MemberKey, MemberWindow};
use crate::domain::ids::ProductId;
use crate::domain::paging::Page;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::{CollectionMembers, Loader};
use crate::graphql::pagination::{encode_cursor, page_request};

crate::connection_types!(
    CollectionConnection,
    CollectionEdge,
    CollectionNode,
    "A page of collections.",
    "A collection in a list."
);

/// A manual collection of products.
#[derive(Clone)]
pub struct CollectionNode {
    row: Collection,
}

impl From<Collection> for CollectionNode {
    fn from(row: Collection) -> Self {
        Self { row }
    }
}

/// A manual collection of products (a sale, staff picks), in the order staff set; a product can
/// be in several.
#[Object(name = "Collection")]
impl CollectionNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Collection, self.row.id).into()
    }

    /// Display title.
    async fn title(&self) -> &str {
        &self.row.title
    }

    /// URL-safe unique handle, e.g. `summer-sale`.
    async fn slug(&self) -> &str {
        &self.row.slug
    }

    /// Description (plain text, at most 10,000 characters).
    async fn description(&self) -> &str {
        &self.row.description
    }

    /// Whether customers see it; an unpublished collection is seen by staff and partner keys
    /// with `READ_PRODUCTS` only.
    async fn published(&self) -> bool {
        self.row.published
    }

    /// The collection's products you may see, in the order staff set. One statement serves
    /// this field for every collection of the response, and one more their products.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N products (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Return products after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N products (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return products before this cursor.")] before: Option<String>,
    ) -> Result<ProductConnection> {
        let page = page_request::<MemberKey>(first, after, last, before)?;
        let key = CollectionMembers {
            collection: self.row.id,
            window: MemberWindow {
                after: page.after,
                before: page.before,
                limit: page.fetch_limit(),
                from_end: page.from_end,
            },
        };
        let loader = ctx.data::<Loader>()?;
        let members = loader.load_one(key).await?.unwrap_or_default();
        let page = page.into_page(members);
        let cursors: HashMap<ProductId, MemberKey> = page
            .items
            .iter()
            .map(|member| (member.product_id, member.key()))
            .collect();
        let mut products = loader
            .load_many(page.items.iter().map(|m| m.product_id))
            .await?;
        let page = Page {
            items: page
                .items
                .iter()
                .filter_map(|member| products.remove(&member.product_id))
                .collect(),
            has_previous: page.has_previous,
            has_next: page.has_next,
        };
        Ok(ProductConnection::from_page(page, |(product, _)| {
            cursors
                .get(&product.id)
                .map(encode_cursor)
                .unwrap_or_default()
        }))
    }

    /// When the collection was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// When the collection last changed (its fields or its products).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at.and_utc()
    }
}
