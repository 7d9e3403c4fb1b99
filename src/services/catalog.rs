//! Catalog use cases: browsing products and categories as a customer or as staff.

use crate::db::Db;
use crate::db::models::category::{self, Category};
use crate::db::models::product::{
    self, ProductFilter, ProductKey, ProductSortField, ProductWithCategory, Window,
};
use crate::domain::catalog::{CatalogVisibility, search_pattern};
use crate::domain::paging::{Page, PageRequest};
use crate::error::{AppError, AppResult};

/// Which category a product list is limited to.
#[derive(Debug, Clone)]
pub enum CategoryRef {
    /// By database id.
    Id(i64),
    /// By slug.
    Slug(String),
}

/// A product list query, checked.
#[derive(Debug, Clone, Default)]
pub struct ProductQuery {
    /// Free text matched against name, description and SKUs.
    pub search: Option<String>,
    /// Only this category and its descendants.
    pub category: Option<CategoryRef>,
    /// Only products with a variant at or above this price (minor units).
    pub min_price: Option<i64>,
    /// Only products with a variant at or below this price (minor units).
    pub max_price: Option<i64>,
    /// Only products with (or without) stock.
    pub in_stock: Option<bool>,
}

/// The sort order of a product list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProductSort {
    /// What to sort by.
    pub field: ProductSortField,
    /// Largest first.
    pub descending: bool,
}

/// Builds the keyset window of `page` in `sort` order; a cursor from another order is refused.
pub fn window(sort: ProductSort, page: &PageRequest<ProductKey>) -> AppResult<Window> {
    for key in [&page.after, &page.before].into_iter().flatten() {
        if key.field() != sort.field {
            return Err(AppError::bad_input(
                "the cursor belongs to a different sort order",
            ));
        }
    }
    Ok(Window {
        field: sort.field,
        descending: sort.descending,
        after: page.after.clone(),
        before: page.before.clone(),
        limit: page.fetch_limit(),
        from_end: page.from_end,
    })
}

/// One page of the products the caller may see that match `query`.
pub async fn products(
    db: &Db,
    visibility: CatalogVisibility,
    query: ProductQuery,
    sort: ProductSort,
    page: PageRequest<ProductKey>,
) -> AppResult<Page<ProductWithCategory>> {
    if let (Some(min), Some(max)) = (query.min_price, query.max_price)
        && min > max
    {
        return Err(AppError::bad_input(
            "the minimum price is above the maximum price",
        ));
    }
    let window = window(sort, &page)?;
    let rows = db
        .run(move |conn| {
            let category_ids = match &query.category {
                None => None,
                Some(reference) => {
                    let ids = match reference {
                        CategoryRef::Id(id) => category::subtree_ids_by_id(conn, *id)?,
                        CategoryRef::Slug(slug) => category::subtree_ids_by_slug(conn, slug)?,
                    };
                    if ids.is_empty() {
                        // An unknown category matches nothing.
                        return Ok(Vec::new());
                    }
                    Some(ids)
                }
            };
            let filter = ProductFilter {
                search_pattern: query.search.as_deref().and_then(search_pattern),
                category_ids,
                min_price: query.min_price,
                max_price: query.max_price,
                in_stock: query.in_stock,
            };
            Ok(product::page(conn, &filter, visibility, &window)?)
        })
        .await?;
    Ok(page.into_page(rows))
}

/// The visible product with this slug.
pub async fn product_by_slug(
    db: &Db,
    visibility: CatalogVisibility,
    slug: String,
) -> AppResult<Option<ProductWithCategory>> {
    db.run(move |conn| Ok(product::by_slug(conn, &slug, visibility)?))
        .await
}

/// The root categories the caller may see (customers: not archived).
pub async fn root_categories(db: &Db, visibility: CatalogVisibility) -> AppResult<Vec<Category>> {
    let roots = db.run(|conn| Ok(category::roots(conn)?)).await?;
    Ok(roots
        .into_iter()
        .filter(|c| visibility.shows_category(c.archived_at.is_some()))
        .collect())
}

/// The category with this slug, if the caller may see it.
pub async fn category_by_slug(
    db: &Db,
    slug: String,
    visibility: CatalogVisibility,
) -> AppResult<Option<Category>> {
    let found = db
        .run(move |conn| Ok(category::by_slug(conn, &slug)?))
        .await?;
    Ok(found.filter(|c| visibility.shows_category(c.archived_at.is_some())))
}
