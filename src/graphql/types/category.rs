//! `Category`: a node of the category tree, with its parent, children and products.

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, Utc};

use super::product::{ProductConnection, product_connection};
use crate::db::models::category::Category;
use crate::db::models::product::ProductKey;
use crate::domain::bounds::MAX_CATEGORY_CHILDREN;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::catalog::ProductSortBy;
use crate::graphql::loaders::{CategoryProducts, ChildrenOf, Loader, each_row};
use crate::graphql::pagination::{list_size, page_request};
use crate::services::catalog::{ProductSort, window};

crate::connection_types!(
    CategoryConnection,
    CategoryEdge,
    CategoryNode,
    "A page of categories.",
    "A category in a list."
);

/// A category of the shop's tree.
#[derive(Clone)]
pub struct CategoryNode {
    row: Category,
}

impl From<Category> for CategoryNode {
    fn from(row: Category) -> Self {
        Self { row }
    }
}

/// A category of the shop's tree.
#[Object(name = "Category")]
impl CategoryNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Category, self.row.id).into()
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// URL-safe unique handle, e.g. `t-shirts`.
    async fn slug(&self) -> &str {
        &self.row.slug
    }

    /// When staff archived it (hidden from customers); null while it is shown.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.row.archived_at.map(|t| t.and_utc())
    }

    /// The parent category; null for a root.
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<CategoryNode>> {
        let Some(parent) = self.row.parent_id else {
            return Ok(None);
        };
        let loader = ctx.data::<Loader>()?;
        Ok(loader.load_one(parent).await?.map(CategoryNode::from))
    }

    /// The direct subcategories, in display order. At most 50: a category has no more.
    async fn children(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return the first N subcategories: 0 to 50, by default 50 (every one).",
            default_with = "MAX_CATEGORY_CHILDREN as i32"
        )]
        first: i32,
    ) -> Result<Vec<CategoryNode>> {
        let size = list_size(first, MAX_CATEGORY_CHILDREN)?;
        let loader = ctx.data::<Loader>()?;
        let children = loader.load_one(ChildrenOf(self.row.id)).await?;
        Ok(each_row(children)
            .take(size)
            .map(CategoryNode::from)
            .collect())
    }

    /// Products in this category and all its descendants. One statement serves this field for
    /// every category of the response.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N products (at most 100).")] first: Option<i32>,
        #[graphql(desc = "Return products after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N products (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return products before this cursor.")] before: Option<String>,
        #[graphql(desc = "Sort order; by default by name, A to Z.")] sort_by: Option<ProductSortBy>,
    ) -> Result<ProductConnection> {
        let sort = ProductSort::from(sort_by.unwrap_or_default());
        let page = page_request::<ProductKey>(first, after, last, before)?;
        let key = CategoryProducts {
            category: self.row.id,
            window: window(sort, &page)?,
        };
        let rows = ctx
            .data::<Loader>()?
            .load_one(key)
            .await?
            .unwrap_or_default();
        Ok(product_connection(page.into_page(rows), sort.field))
    }

    /// When the category was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// When the category last changed (renamed, moved in order, archived or restored).
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at.and_utc()
    }
}
