//! Catalog queries: product lists and lookups, variants by SKU, the category tree, and the flat
//! lists of variants and categories staff and partners sync from.

use async_graphql::{Context, ID, Object, Result};

use crate::db::models::product::ProductKey;
use crate::domain::bounds::MAX_CATEGORY_CHILDREN;
use crate::domain::catalog::{is_valid_sku, normalize_sku};
use crate::domain::feeds::{RowKey, RowSort};
use crate::domain::ids::{CategoryId, ProductId};
use crate::domain::partners::Scope;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::StaffOr;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::catalog::{ProductSortBy, ProductWhere};
use crate::graphql::inputs::feeds::{
    CategoriesWhere, CategorySortBy, VariantSortBy, VariantsWhere, since,
};
use crate::graphql::loaders::{Loader, VariantBySku};
use crate::graphql::pagination::{encode_cursor, list_size, page_request};
use crate::graphql::types::category::CategoryConnection;
use crate::graphql::types::facets::{
    CategoryFacet, OptionFacet, OptionValueFacet, PriceBandFacet, ProductFacets,
};
use crate::graphql::types::product::{ProductConnection, product_connection};
use crate::graphql::types::variant::VariantConnection;
use crate::graphql::types::{CategoryNode, Decimal, Money, ProductNode, VariantNode};
use crate::services::catalog::{self, ProductSort};

/// Where `productFacets` splits price bands unless told, in the store currency.
const DEFAULT_PRICE_BOUNDARIES: [&str; 4] = ["25", "50", "100", "200"];

/// Catalog reads.
#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Products you may see, filtered and sorted, as a Relay connection. Staff and partners with
    /// `read_products` see every status (an ARCHIVED product stays listed, so a sync learns of
    /// removals); everyone else sees ACTIVE products only. With `sortBy: {field: UPDATED_AT}` it
    /// is the change feed: a walk followed to its end and continued later from its last cursor
    /// meets every change, and never the same version (`id`, `updatedAt`) of a product twice.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N products (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return products after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N products (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return products before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned product meets.")]
        filter: Option<ProductWhere>,
        #[graphql(desc = "Sort order; by default by name, A to Z.")] sort_by: Option<ProductSortBy>,
    ) -> Result<ProductConnection> {
        let request = ctx.request()?;
        let query = filter.unwrap_or_default().into_query(
            ctx.shop()?.currency,
            request.principal.is_staff_or(Scope::ReadProducts),
        )?;
        let sort = ProductSort::from(sort_by.unwrap_or_default());
        let page = page_request::<ProductKey>(first, after, last, before)?;
        let categories = ctx.categories()?;
        let with_categories = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("category")
            .exists();
        let page = catalog::products(
            &request.db,
            categories,
            request.visibility(),
            query,
            sort,
            page,
            with_categories,
        )
        .await?;
        Ok(product_connection(page, sort.field))
    }

    /// The facets of a product search: how the products you may see that match `where` spread
    /// over categories, option values and price bands, for the filters a front end shows beside
    /// `products(where:)`. Each facet counts as if its own condition were not given (its
    /// categories, price range, or values of that option), so that picking a value still shows
    /// how many each other value would give; `total` counts the products matching all of
    /// `where`. Three statements however many products match.
    async fn product_facets(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            name = "where",
            desc = "The search's conditions, as given to `products`."
        )]
        filter: Option<ProductWhere>,
        #[graphql(
            desc = "Where price bands split, in the store currency, rising (1 to 10 amounts \
                    above zero); by default 25, 50, 100 and 200. N boundaries make N + 1 bands."
        )]
        price_bands: Option<Vec<Decimal>>,
    ) -> Result<ProductFacets> {
        let request = ctx.request()?;
        let currency = ctx.shop()?.currency;
        let query = filter
            .unwrap_or_default()
            .into_query(currency, request.principal.is_staff_or(Scope::ReadProducts))?;
        let boundaries = match price_bands {
            Some(amounts) => amounts.iter().map(|amount| amount.0.clone()).collect(),
            None => DEFAULT_PRICE_BOUNDARIES.map(str::to_owned).to_vec(),
        };
        let boundaries = boundaries
            .iter()
            .map(|amount| currency.parse_amount(amount))
            .collect::<Result<Vec<i64>, String>>()
            .map_err(|message| AppError::bad_input(format!("priceBands: {message}")))?;
        let facets = catalog::product_facets(
            &request.db,
            ctx.categories()?,
            request.visibility(),
            query,
            boundaries,
        )
        .await?;
        let loader = ctx.data::<Loader>()?;
        let mut shown = loader
            .load_many(facets.categories.iter().map(|(id, _)| CategoryId(*id)))
            .await?;
        Ok(ProductFacets {
            total: facets.total,
            categories: facets
                .categories
                .iter()
                .filter_map(|(id, count)| {
                    let category = shown.remove(&CategoryId(*id))?;
                    Some(CategoryFacet {
                        category: category.into(),
                        count: *count,
                    })
                })
                .collect(),
            options: facets
                .options
                .into_iter()
                .map(|option| OptionFacet {
                    name: option.name,
                    values: option
                        .values
                        .into_iter()
                        .map(|(value, count)| OptionValueFacet { value, count })
                        .collect(),
                })
                .collect(),
            price_bands: facets
                .price_bands
                .into_iter()
                .map(|band| PriceBandFacet {
                    min: Money::new(band.min, currency),
                    max: band.max.map(|max| Money::new(max, currency)),
                    count: band.count,
                })
                .collect(),
        })
    }

    /// Every variant, archived ones (with `archivedAt`) and those of products in any status
    /// included, for staff and partners with `read_products`; the oldest first unless `sortBy`
    /// says otherwise. With `sortBy: {field: UPDATED_AT}` it is the change feed of variants
    /// (stock changes included): see `products`. Relay connection.
    #[graphql(guard = "StaffOr(Scope::ReadProducts)")]
    async fn variants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N variants (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return variants after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N variants (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return variants before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned variant meets.")]
        filter: Option<VariantsWhere>,
        #[graphql(desc = "Sort order; by default by creation, oldest first.")] sort_by: Option<
            VariantSortBy,
        >,
    ) -> Result<VariantConnection> {
        let sort = RowSort::from(sort_by.unwrap_or_default());
        let page = page_request::<RowKey>(first, after, last, before)?;
        let since = since(filter.unwrap_or_default().updated_since);
        let page = catalog::variants(&ctx.request()?.db, since, sort, page).await?;
        Ok(VariantConnection::from_page(page, |row| {
            encode_cursor(&RowKey::of(sort.order, row.id, row.change_position))
        }))
    }

    /// Every category as a flat list, archived ones (with `archivedAt`) included, for staff and
    /// partners with `read_products`; the oldest first unless `sortBy` says otherwise. With
    /// `sortBy: {field: UPDATED_AT}` it is the change feed of categories: see `products`. (The
    /// tree is `categories`.) Relay connection.
    #[graphql(guard = "StaffOr(Scope::ReadProducts)")]
    async fn all_categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N categories (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return categories after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N categories (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return categories before this cursor.")] before: Option<String>,
        #[graphql(name = "where", desc = "Conditions every returned category meets.")]
        filter: Option<CategoriesWhere>,
        #[graphql(desc = "Sort order; by default by creation, oldest first.")] sort_by: Option<
            CategorySortBy,
        >,
    ) -> Result<CategoryConnection> {
        let sort = RowSort::from(sort_by.unwrap_or_default());
        let page = page_request::<RowKey>(first, after, last, before)?;
        let since = since(filter.unwrap_or_default().updated_since);
        let page = catalog::all_categories(&ctx.request()?.db, since, sort, page).await?;
        Ok(CategoryConnection::from_page(page, |row| {
            encode_cursor(&RowKey::of(sort.order, row.id, row.change_position))
        }))
    }

    /// One product by global id or by slug (give exactly one); null when there is none you may see.
    async fn product(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product's global id.")] id: Option<ID>,
        #[graphql(desc = "The product's slug.")] slug: Option<String>,
    ) -> Result<Option<ProductNode>> {
        match (id, slug) {
            (Some(id), None) => {
                let id = GlobalId::parse_kind(&id, NodeKind::Product)?;
                let loader = ctx.data::<Loader>()?;
                Ok(loader.load_one(ProductId(id)).await?.map(ProductNode::from))
            }
            (None, Some(slug)) => {
                let request = ctx.request()?;
                let found =
                    catalog::product_by_slug(&request.db, request.visibility(), slug).await?;
                Ok(found.map(ProductNode::from))
            }
            _ => Err(AppError::bad_input("give exactly one of `id` and `slug`").into()),
        }
    }

    /// One variant by its exact SKU (trimmed and upper-cased first, as SKUs are stored), with the
    /// visibility rules of `node(id:)`: customers and anonymous callers find only variants on sale
    /// (of an `ACTIVE` product, not archived); staff and partner keys with `READ_PRODUCTS` find
    /// every one. Null when there is none you may see, or when the text cannot be a SKU.
    async fn variant(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The SKU, e.g. `TEE-M-NAVY` (case and surrounding spaces do not matter)."
        )]
        sku: String,
    ) -> Result<Option<VariantNode>> {
        let sku = normalize_sku(&sku);
        if !is_valid_sku(&sku) {
            return Ok(None);
        }
        let loader = ctx.data::<Loader>()?;
        Ok(loader
            .load_one(VariantBySku(sku))
            .await?
            .map(VariantNode::from))
    }

    /// The top-level categories, in display order. At most 50: the shop has no more.
    async fn categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return the first N categories: 0 to 50, by default 50 (every one).",
            default_with = "MAX_CATEGORY_CHILDREN as i32"
        )]
        first: i32,
    ) -> Result<Vec<CategoryNode>> {
        let size = list_size(first, MAX_CATEGORY_CHILDREN)?;
        let request = ctx.request()?;
        let roots = catalog::root_categories(&request.db, request.visibility()).await?;
        Ok(roots
            .into_iter()
            .take(size)
            .map(CategoryNode::from)
            .collect())
    }

    /// One category by slug; null when there is none.
    async fn category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category's slug.")] slug: String,
    ) -> Result<Option<CategoryNode>> {
        let request = ctx.request()?;
        let found = catalog::category_by_slug(&request.db, slug, request.visibility()).await?;
        Ok(found.map(CategoryNode::from))
    }
}
