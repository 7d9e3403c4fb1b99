//! Catalog use cases: browsing products and categories as a customer or as staff, the flat
//! lists of variants and categories that staff and partners sync from, and the category tree
//! each server keeps for a few seconds.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;

use diesel::QueryResult;

use crate::db::models::category::{self, Category};
use crate::db::models::product::{
    self, FacetRows, ProductFilter, ProductKey, ProductSortField, ProductWithCategory, Window,
};
use crate::db::models::variant::{self, Variant};
use crate::db::{Db, DbConnection};
use crate::domain::catalog::{CatalogVisibility, CategoryTree, search_pattern};
use crate::domain::facets::{self, OptionFacet, PriceBand};
use crate::domain::feeds::{self, RowKey, RowSort, RowWindow};
use crate::domain::metadata::MetadataCondition;
use crate::domain::options::{self, OptionCondition};
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

impl CategoryRef {
    /// The referenced category and its descendants in `tree`; `None` when it is not there.
    fn subtree_in(&self, tree: &CategoryTree) -> Option<Vec<i64>> {
        match self {
            Self::Id(id) => tree.subtree_of_id(*id),
            Self::Slug(slug) => tree.subtree_of_slug(slug),
        }
    }
}

/// The category tree as this server last read it, kept for a few seconds, so that product
/// lists by category need not read it each time. A category change made anywhere drops it at
/// once, through the bus; the lifetime bounds what a bus that lost its connection could miss.
pub struct CategoryTreeCache {
    lifetime: Duration,
    state: Mutex<TreeState>,
}

#[derive(Default)]
struct TreeState {
    tree: Option<(Arc<CategoryTree>, Instant)>,
    /// Bumped by every `forget`, so that a read that started before cannot put back an old tree.
    generation: u64,
}

impl CategoryTreeCache {
    /// A cache that keeps the tree for `lifetime`; zero keeps nothing.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            state: Mutex::default(),
        }
    }

    /// The tree, if read less than the lifetime ago, and where the cache stands.
    fn fresh(&self, now: Instant) -> (Option<Arc<CategoryTree>>, u64) {
        let state = self.lock();
        let tree = state
            .tree
            .as_ref()
            .filter(|(_, read_at)| now.duration_since(*read_at) < self.lifetime)
            .map(|(tree, _)| tree.clone());
        (tree, state.generation)
    }

    fn remember(&self, generation: u64, tree: Arc<CategoryTree>, read_at: Instant) {
        let mut state = self.lock();
        if !self.lifetime.is_zero() && state.generation == generation {
            state.tree = Some((tree, read_at));
        }
    }

    /// Drops the tree: the categories changed.
    pub fn forget(&self) {
        let mut state = self.lock();
        state.generation += 1;
        state.tree = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TreeState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
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
    /// Only products changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
    /// Only products with these metadata entries.
    pub metadata: Vec<MetadataCondition>,
    /// Only products with a variant having each of these options, `(name, value)`: several
    /// values of one option mean any one of them.
    pub options: Vec<(String, String)>,
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

/// The `LIKE` pattern of a search phrase, or `BAD_USER_INPUT` for one that is too long or
/// holds control characters.
pub fn searched(phrase: Option<&str>) -> AppResult<Option<String>> {
    Ok(phrase
        .map(search_pattern)
        .transpose()
        .map_err(|message| AppError::bad_input(format!("where.search: {message}")))?
        .flatten())
}

/// A product list's conditions, checked before any SQL: prices in order, the search text
/// bounded, `updatedSince` in range, options grouped by name.
struct CheckedQuery {
    query: ProductQuery,
    search: Option<String>,
    updated_since: Option<NaiveDateTime>,
    options: Vec<OptionCondition>,
}

fn checked(query: ProductQuery) -> AppResult<CheckedQuery> {
    if let (Some(min), Some(max)) = (query.min_price, query.max_price)
        && min > max
    {
        return Err(AppError::bad_input(
            "the minimum price is above the maximum price",
        ));
    }
    let search = searched(query.search.as_deref())?;
    let updated_since =
        feeds::updated_since(query.updated_since).map_err(AppError::BadUserInput)?;
    let options = options::conditions(query.options.iter().cloned())
        .map_err(|message| AppError::bad_input(format!("where.options: {message}")))?;
    Ok(CheckedQuery {
        query,
        search,
        updated_since,
        options,
    })
}

/// The category tree for one read: the cached one if fresh, else read through `conn` (and
/// kept in `read`, for the caller to remember).
fn tree_for(
    conn: &mut DbConnection,
    known: Option<Arc<CategoryTree>>,
    read: &mut Option<Arc<CategoryTree>>,
) -> QueryResult<Arc<CategoryTree>> {
    if let Some(tree) = known {
        return Ok(tree);
    }
    let tree = Arc::new(CategoryTree::new(category::tree(conn)?));
    *read = Some(tree.clone());
    Ok(tree)
}

impl CheckedQuery {
    /// The filter of the query, its category resolved in `tree` (read only when the query
    /// names a category); `None` when it names one that is not there (nothing matches).
    fn into_filter(self, tree: Option<&CategoryTree>) -> Option<ProductFilter> {
        let category_ids = match &self.query.category {
            Some(reference) => {
                let ids = tree.and_then(|tree| reference.subtree_in(tree));
                Some(ids.filter(|ids| !ids.is_empty())?)
            }
            None => None,
        };
        Some(ProductFilter {
            search_pattern: self.search,
            category_ids,
            min_price: self.query.min_price,
            max_price: self.query.max_price,
            in_stock: self.query.in_stock,
            updated_since: self.updated_since,
            metadata: self.query.metadata,
            options: self.options,
        })
    }
}

/// One page of the products the caller may see that match `query`, each with its category when
/// `with_categories`.
pub async fn products(
    db: &Db,
    categories: &CategoryTreeCache,
    visibility: CatalogVisibility,
    query: ProductQuery,
    sort: ProductSort,
    page: PageRequest<ProductKey>,
    with_categories: bool,
) -> AppResult<Page<ProductWithCategory>> {
    let query = checked(query)?;
    let window = window(sort, &page)?;
    let started = Instant::now();
    // Only lists by category need the tree (and the cache's lock).
    let (known_tree, generation) = match query.query.category {
        Some(_) => categories.fresh(started),
        None => (None, 0),
    };
    let (rows, read_tree) = db
        .run(move |conn| {
            let mut read_tree = None;
            let tree = match query.query.category {
                Some(_) => Some(tree_for(conn, known_tree, &mut read_tree)?),
                None => None,
            };
            let rows = match query.into_filter(tree.as_deref()) {
                Some(filter) => product::page(conn, &filter, visibility, &window, with_categories)?,
                None => Vec::new(),
            };
            Ok((rows, read_tree))
        })
        .await?;
    if let Some(tree) = read_tree {
        categories.remember(generation, tree, started);
    }
    Ok(page.into_page(rows))
}

/// The facets of the products the caller may see that match `query`: products per category
/// (with its descendants), per option value and per price band (`boundaries`, minor units,
/// checked), in three statements however many products match (and one for the tree when the
/// cache has none).
pub async fn product_facets(
    db: &Db,
    categories: &CategoryTreeCache,
    visibility: CatalogVisibility,
    query: ProductQuery,
    boundaries: Vec<i64>,
) -> AppResult<ProductFacets> {
    facets::check_boundaries(&boundaries)
        .map_err(|message| AppError::bad_input(format!("priceBands: {message}")))?;
    let query = checked(query)?;
    let conditions = query.options.clone();
    let started = Instant::now();
    let (known_tree, generation) = categories.fresh(started);
    let (rows, categories_matched, tree, read_tree) = db
        .run(move |conn| {
            let mut read_tree = None;
            let tree = tree_for(conn, known_tree, &mut read_tree)?;
            let (rows, categories_matched) = match query.into_filter(Some(&tree)) {
                Some(filter) => (
                    product::facet_rows(conn, &filter, visibility)?,
                    filter.category_ids,
                ),
                None => (FacetRows::default(), None),
            };
            Ok((rows, categories_matched, tree, read_tree))
        })
        .await?;
    if let Some(tree) = read_tree {
        categories.remember(generation, tree, started);
    }
    let paths = tree.paths().collect();
    // The category rows leave out only the filter's categories: the products in them match it.
    let categories_matched: Option<HashSet<i64>> =
        categories_matched.map(|ids| ids.into_iter().collect());
    let total = rows
        .by_category
        .iter()
        .filter(|(category, _)| match &categories_matched {
            Some(ids) => category.is_some_and(|id| ids.contains(&id)),
            None => true,
        })
        .map(|(_, count)| count)
        .sum();
    Ok(ProductFacets {
        total,
        categories: facets::category_counts(&rows.by_category, &paths),
        options: facets::option_counts(&rows.option_sets, &conditions),
        price_bands: facets::price_bands(&boundaries, &rows.by_price),
    })
}

/// How the products matching a query spread over categories, option values and prices.
#[derive(Debug, Clone)]
pub struct ProductFacets {
    /// Matching products.
    pub total: i64,
    /// `(category, products in it and its descendants)`, the fullest first.
    pub categories: Vec<(i64, i64)>,
    /// Options and their values' products.
    pub options: Vec<OptionFacet>,
    /// Products per band of lowest price.
    pub price_bands: Vec<PriceBand>,
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

/// One page of every variant (archived ones, and those of products in any status), changed at
/// or after `updated_since` when given. For staff and partners with `read_products`.
pub async fn variants(
    db: &Db,
    updated_since: Option<NaiveDateTime>,
    sort: RowSort,
    page: PageRequest<RowKey>,
) -> AppResult<Page<Variant>> {
    flat_page(db, updated_since, sort, page, variant::page).await
}

/// One page of every category, archived ones included, changed at or after `updated_since`
/// when given. For staff and partners with `read_products`.
pub async fn all_categories(
    db: &Db,
    updated_since: Option<NaiveDateTime>,
    sort: RowSort,
    page: PageRequest<RowKey>,
) -> AppResult<Page<Category>> {
    flat_page(db, updated_since, sort, page, category::page).await
}

/// One page of a flat list that `read` loads: the window and `updatedSince` checked first.
async fn flat_page<T: Send + 'static>(
    db: &Db,
    updated_since: Option<NaiveDateTime>,
    sort: RowSort,
    page: PageRequest<RowKey>,
    read: fn(&mut DbConnection, Option<NaiveDateTime>, &RowWindow) -> QueryResult<Vec<T>>,
) -> AppResult<Page<T>> {
    let (window, since) =
        RowWindow::checked(sort, &page, updated_since).map_err(AppError::BadUserInput)?;
    let rows = db.run(move |conn| Ok(read(conn, since, &window)?)).await?;
    Ok(page.into_page(rows))
}
