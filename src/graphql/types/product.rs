//! `Product`, its price range, images, and the product connection.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::{CategoryNode, CollectionNode, Money, VariantNode};
use crate::db::models::category::Category;
use crate::db::models::image::Image;
use crate::db::models::product::{Product, ProductKey, ProductSortField, ProductWithCategory};
use crate::db::models::variant::Variant;
use crate::domain::bounds::{
    MAX_IMAGES_PER_PRODUCT, MAX_OPTIONS_PER_VARIANT, MAX_VARIANTS_PER_PRODUCT,
};
use crate::domain::catalog;
use crate::domain::ids::ProductId;
use crate::domain::metadata::MetadataOwner;
use crate::domain::options::{self, OptionValue};
use crate::domain::paging::Page;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::merchandising::VariantOptionInput;
use crate::graphql::loaders::{CollectionsOf, RatingOf, ReviewsPage};
use crate::graphql::loaders::{ImagesOf, Loader, VariantsOf, each_row};
use crate::graphql::pagination::{encode_cursor, list_size, page_request};
use crate::graphql::types::metadata::{MetadataItem, metadata_of, metafield_of};
use crate::graphql::types::review::{ProductRating, ReviewConnection};

/// One option of a product and its values, e.g. `Size` with `S`, `M`, `L`.
#[derive(Debug, Clone, SimpleObject)]
pub struct ProductOption {
    /// The option, e.g. `Size`.
    pub name: String,
    /// Its values among the variants on sale, in the order they first appear, e.g.
    /// `["S", "M", "L"]`. At most 100 (one per variant).
    pub values: Vec<String>,
}

/// Where a product is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ProductStatus")]
pub enum ProductStatusValue {
    /// Being prepared; only staff see it.
    Draft,
    /// On sale.
    Active,
    /// No longer sold; only staff see it.
    Archived,
}

impl From<ProductStatusValue> for catalog::ProductStatus {
    fn from(status: ProductStatusValue) -> Self {
        match status {
            ProductStatusValue::Draft => Self::Draft,
            ProductStatusValue::Active => Self::Active,
            ProductStatusValue::Archived => Self::Archived,
        }
    }
}

impl From<catalog::ProductStatus> for ProductStatusValue {
    fn from(status: catalog::ProductStatus) -> Self {
        match status {
            catalog::ProductStatus::Draft => Self::Draft,
            catalog::ProductStatus::Active => Self::Active,
            catalog::ProductStatus::Archived => Self::Archived,
        }
    }
}

/// A product: what a shopper browses. Its variants are what is bought.
pub struct ProductNode {
    /// Shared with every variant of the response that was read with it.
    row: Arc<Product>,
    /// The category, when it was read with the product.
    category: Option<Category>,
}

impl From<ProductWithCategory> for ProductNode {
    fn from((row, category): ProductWithCategory) -> Self {
        Self {
            row: Arc::new(row),
            category,
        }
    }
}

impl From<Arc<Product>> for ProductNode {
    fn from(row: Arc<Product>) -> Self {
        Self {
            row,
            category: None,
        }
    }
}

impl ProductNode {
    /// The variants on sale (not archived, whoever asks), in display order, with their options.
    async fn live_variant_options(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<(Variant, Vec<OptionValue>)>> {
        let loader = ctx.data::<Loader>()?;
        let variants = loader.load_one(VariantsOf(self.product_id())).await?;
        Ok(each_row(variants)
            .filter(|variant| variant.archived_at.is_none())
            .map(|variant| {
                let options = options::from_json(&variant.options);
                (variant, options)
            })
            .collect())
    }

    /// The database id.
    pub fn product_id(&self) -> ProductId {
        self.row.id
    }
}

/// The lowest and highest variant price of a product.
#[derive(SimpleObject)]
pub struct PriceRange {
    /// The cheapest variant's price.
    pub min_variant_price: Money,
    /// The dearest variant's price.
    pub max_variant_price: Money,
}

/// A product image.
pub struct ImageNode(Image);

impl From<Image> for ImageNode {
    fn from(image: Image) -> Self {
        Self(image)
    }
}

/// A product image.
#[Object(name = "Image")]
impl ImageNode {
    /// Globally unique id (staff remove images by it).
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Image, self.0.id).into()
    }

    /// Absolute URL of the image.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Text describing the image, for screen readers.
    async fn alt_text(&self) -> &str {
        &self.0.alt_text
    }

    /// Display position, starting at 0.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// The product it shows; null when the caller may not see it.
    async fn product(&self, ctx: &Context<'_>) -> Result<Option<ProductNode>> {
        visible_product(ctx, self.0.product_id).await
    }
}

/// The product `id` if the caller may see it (through the request's loader).
pub(crate) async fn visible_product(
    ctx: &Context<'_>,
    id: ProductId,
) -> Result<Option<ProductNode>> {
    let loader = ctx.data::<Loader>()?;
    Ok(loader.load_one(id).await?.map(ProductNode::from))
}

/// A product: what a shopper browses. Its variants are what is bought.
#[Object(name = "Product")]
impl ProductNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Product, self.row.id).into()
    }

    /// Metadata staff and partners attached, by key: the public entries, or with `private:
    /// true` the private ones (staff, and partner keys with `READ_PRODUCTS`). At most 50.
    async fn metadata(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The private entries instead of the public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<Vec<MetadataItem>> {
        metadata_of(ctx, MetadataOwner::Product(self.row.id), private).await
    }

    /// The metadata value under `key`; null when there is none (see `metadata`).
    async fn metafield(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key, e.g. `erp.id`.")] key: String,
        #[graphql(
            desc = "Read the private entries instead of the public ones.",
            default = false
        )]
        private: bool,
    ) -> Result<Option<String>> {
        metafield_of(ctx, MetadataOwner::Product(self.row.id), private, &key).await
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.row.name
    }

    /// URL-safe unique handle, e.g. `classic-t-shirt`.
    async fn slug(&self) -> &str {
        &self.row.slug
    }

    /// The reference a partner system (an ERP) gave the product through `productUpsert`; null
    /// when none did. Shown to staff and to partner keys with `READ_PRODUCTS` or
    /// `WRITE_PRODUCTS`; null for everyone else (customers and anonymous callers).
    async fn external_ref(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let shown = ctx.request()?.principal.sees_external_refs();
        Ok(self.row.external_ref.as_deref().filter(|_| shown))
    }

    /// Plain-text description.
    async fn description(&self) -> &str {
        &self.row.description
    }

    /// Lifecycle status. Customers only ever see `ACTIVE` products.
    async fn status(&self) -> ProductStatusValue {
        self.row.status.into()
    }

    /// The category the product is filed under (null while it is archived, for customers).
    async fn category(&self, ctx: &Context<'_>) -> Result<Option<CategoryNode>> {
        let Some(id) = self.row.category_id else {
            return Ok(None);
        };
        let category = match &self.category {
            Some(category) => {
                let visibility = ctx.request()?.visibility();
                Some(category.clone())
                    .filter(|c| visibility.shows_category(c.archived_at.is_some()))
            }
            // The loader leaves out what the caller may not see.
            None => ctx.data::<Loader>()?.load_one(id).await?,
        };
        Ok(category.map(CategoryNode::from))
    }

    /// The variants on sale, in display order (staff also see archived ones). At most 100: a
    /// product has no more.
    async fn variants(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return the first N variants: 0 to 100, by default 100 (every variant). Ask \
                    for fewer to pay less query cost.",
            default_with = "MAX_VARIANTS_PER_PRODUCT as i32"
        )]
        first: i32,
    ) -> Result<Vec<VariantNode>> {
        let size = list_size(first, MAX_VARIANTS_PER_PRODUCT)?;
        let loader = ctx.data::<Loader>()?;
        let variants = loader.load_one(VariantsOf(self.product_id())).await?;
        Ok(each_row(variants)
            .take(size)
            .map(VariantNode::from)
            .collect())
    }

    /// The options its variants on sale differ by, e.g. `Size` with `S`, `M`, `L`: what a
    /// product page builds its pickers from. Names and values in the order the variants (in
    /// display order) first use them. At most 3.
    async fn options(&self, ctx: &Context<'_>) -> Result<Vec<ProductOption>> {
        let variants = self.live_variant_options(ctx).await?;
        Ok(
            options::product_options(variants.iter().map(|(_, o)| o.as_slice()))
                .into_iter()
                .map(|option| ProductOption {
                    name: option.name,
                    values: option.values,
                })
                .collect(),
        )
    }

    /// The variant on sale with exactly these options (in any order, names and values without
    /// regard to case), or `null` if none has them: what a product page shows once a shopper
    /// has picked a value of every option. Variants on sale with options never share them;
    /// `[]` names the first variant without options.
    async fn variant_by_selected_options(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "A value of each of the product's options, e.g. `[{name: \"Size\", value: \"M\"}]` \
                    (at most 3)."
        )]
        selected_options: Vec<VariantOptionInput>,
    ) -> Result<Option<VariantNode>> {
        let selection = options::selection(selected_options.into_iter().map(|o| (o.name, o.value)))
            .ok_or_else(|| {
                AppError::bad_input(format!(
                    "selectedOptions: a variant has at most {MAX_OPTIONS_PER_VARIANT} options"
                ))
            })?;
        let variants = self.live_variant_options(ctx).await?;
        Ok(variants
            .into_iter()
            .find(|(_, options)| options::matches_selection(options, &selection))
            .map(|(variant, _)| VariantNode::from(variant)))
    }

    /// What customers think of it, from approved reviews (one statement for every product of
    /// the response).
    async fn rating(&self, ctx: &Context<'_>) -> Result<ProductRating> {
        let loader = ctx.data::<Loader>()?;
        let (count, sum) = loader
            .load_one(RatingOf(self.product_id()))
            .await?
            .unwrap_or((0, 0));
        Ok(ProductRating::new(count, sum))
    }

    /// The approved reviews, newest first, as a Relay connection. One statement serves this
    /// field for every product of the response.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return the first N reviews (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return reviews after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last N reviews (at most 100).")] last: Option<i32>,
        #[graphql(desc = "Return reviews before this cursor.")] before: Option<String>,
    ) -> Result<ReviewConnection> {
        let page = page_request::<i64>(first, after, last, before)?;
        let key = ReviewsPage {
            product: self.product_id(),
            window: page.id_window(),
        };
        let rows = ctx
            .data::<Loader>()?
            .load_one(key)
            .await?
            .unwrap_or_default();
        Ok(ReviewConnection::from_page(page.into_page(rows), |row| {
            encode_cursor(&row.id)
        }))
    }

    /// Product images, in display order. At most 20: a product has no more.
    async fn images(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Return the first N images: 0 to 20, by default 20 (every image).",
            default_with = "MAX_IMAGES_PER_PRODUCT as i32"
        )]
        first: i32,
    ) -> Result<Vec<ImageNode>> {
        let size = list_size(first, MAX_IMAGES_PER_PRODUCT)?;
        let loader = ctx.data::<Loader>()?;
        let images = loader.load_one(ImagesOf(self.product_id())).await?;
        Ok(each_row(images).take(size).map(ImageNode::from).collect())
    }

    /// The manual collections the product is in that you may see, by title. At most 25: a
    /// product is in no more.
    async fn collections(&self, ctx: &Context<'_>) -> Result<Vec<CollectionNode>> {
        let loader = ctx.data::<Loader>()?;
        let collections = loader.load_one(CollectionsOf(self.product_id())).await?;
        Ok(each_row(collections).map(CollectionNode::from).collect())
    }

    /// The lowest and highest variant price.
    async fn price_range(&self, ctx: &Context<'_>) -> Result<PriceRange> {
        let currency = ctx.shop()?.currency;
        Ok(PriceRange {
            min_variant_price: Money::new(self.row.price_min, currency),
            max_variant_price: Money::new(self.row.price_max, currency),
        })
    }

    /// When the product was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at.and_utc()
    }

    /// When the product was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at.and_utc()
    }
}

crate::connection_types!(
    ProductConnection,
    ProductEdge,
    ProductNode,
    "A page of products (a Relay connection).",
    "A product in a page, with its cursor."
);

/// Builds a connection from a page of products sorted by `field`.
pub fn product_connection(
    page: Page<ProductWithCategory>,
    field: ProductSortField,
) -> ProductConnection {
    ProductConnection::from_page(page, |row| encode_cursor(&ProductKey::of(&row.0, field)))
}
