//! Staff catalog mutations: categories, products (and partners' upserts by external reference),
//! variants, images and inventory. Every field here is for staff and admins, or partner keys
//! with the scope it names.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};

use crate::db::models::variant::{StockLine, StockSet};
use crate::domain::ids::{CategoryId, ImageId, ProductId, VariantId};
use crate::domain::partners::Scope;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::StaffOr;
use crate::graphql::ids::global_id_of;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::merchandising::{
    CategoryFields, InventoryQuantityInput, ProductFields, ProductUpsertFields, VariantFields,
};
use crate::graphql::loaders::Loader;
use crate::graphql::types::{CategoryNode, ProductNode, VariantNode};
use crate::graphql::user_errors::{UserError, respond};
use crate::payload;
use crate::services::merchandising::{self, ProductInput};
use crate::services::product_upsert;

/// A variant's stock after `inventorySetQuantities`.
#[derive(async_graphql::SimpleObject)]
pub struct InventoryLevel {
    /// The variant.
    pub variant_id: ID,
    /// Its SKU.
    pub sku: String,
    /// Its stock now.
    pub quantity: i32,
}

impl From<StockSet> for InventoryLevel {
    fn from(set: StockSet) -> Self {
        Self {
            variant_id: global_id_of(NodeKind::Variant, set.id),
            sku: set.sku,
            quantity: set.stock,
        }
    }
}

/// The result of `inventorySetQuantities`.
#[derive(async_graphql::SimpleObject, Default)]
pub struct InventorySetQuantitiesPayload {
    /// The stock of every line's variant, in no particular order; empty when refused. At most
    /// 250.
    pub levels: Vec<InventoryLevel>,
    /// Why nothing was set: one entry per refused line; empty when all were. At most 250.
    pub user_errors: Vec<UserError>,
}

payload!(
    /// The result of a category mutation.
    CategoryPayload {
        /// The category as stored.
        category: Option<CategoryNode>,
    }
);

payload!(
    /// The result of a product or image mutation.
    ProductPayload {
        /// The product as stored.
        product: Option<ProductNode>,
    }
);

payload!(
    /// The result of a variant or inventory mutation.
    VariantPayload {
        /// The variant as stored.
        variant: Option<VariantNode>,
    }
);

payload!(
    /// The result of `productUpsert`.
    ProductUpsertPayload {
        /// The product as stored (also when it is a draft and the caller's key does not read
        /// products: the caller just wrote it).
        product: Option<ProductNode>,
        /// Whether this call created the product (false: it existed and was updated).
        created: bool,
        /// Whether anything was written: false when the product and the variants sent already
        /// matched (nothing changes, `updatedAt` included).
        changed: bool,
    }
);

/// The product as staff see it, through the request's loader.
async fn product_node(ctx: &Context<'_>, id: ProductId) -> Result<Option<ProductNode>> {
    let loader = ctx.data::<Loader>()?;
    Ok(loader.load_one(id).await?.map(ProductNode::from))
}

/// Staff catalog writes.
#[derive(Default)]
pub struct MerchandisingMutation;

#[Object]
impl MerchandisingMutation {
    /// Creates a category.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn category_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new category.")] input: CategoryFields,
    ) -> Result<CategoryPayload> {
        let result = merchandising::create_category(&ctx.request()?.db, input.into_input()?).await;
        respond(result, |c| CategoryPayload {
            category: Some(c.into()),
            ..Default::default()
        })
    }

    /// Changes a category's name, slug or position.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn category_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category.")] id: ID,
        #[graphql(desc = "The changes.")] input: CategoryFields,
    ) -> Result<CategoryPayload> {
        let id = GlobalId::parse_as::<CategoryId>(&id)?;
        let result =
            merchandising::update_category(&ctx.request()?.db, id, input.into_input()?).await;
        respond(result, |c| CategoryPayload {
            category: Some(c.into()),
            ..Default::default()
        })
    }

    /// Archives a category: customers no longer see it (its products stay on sale).
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn category_archive(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category.")] id: ID,
        #[graphql(desc = "False restores it.", default = true)] archived: bool,
    ) -> Result<CategoryPayload> {
        let id = GlobalId::parse_as::<CategoryId>(&id)?;
        let result = merchandising::archive_category(&ctx.request()?.db, id, archived).await;
        respond(result, |c| CategoryPayload {
            category: Some(c.into()),
            ..Default::default()
        })
    }

    /// Creates a product (DRAFT unless a status is given).
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn product_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new product.")] input: ProductFields,
    ) -> Result<ProductPayload> {
        let result = merchandising::create_product(&ctx.request()?.db, input.into_input()?).await;
        let product = match &result {
            Ok(product) => product_node(ctx, product.id).await?,
            Err(_) => None,
        };
        respond(result, |_| ProductPayload {
            product,
            ..Default::default()
        })
    }

    /// Changes a product; setting `status: ARCHIVED` takes it off sale.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn product_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] id: ID,
        #[graphql(desc = "The changes.")] input: ProductFields,
    ) -> Result<ProductPayload> {
        let id = GlobalId::parse_as::<ProductId>(&id)?;
        let result =
            merchandising::update_product(&ctx.request()?.db, id, input.into_input()?).await;
        let product = match &result {
            Ok(_) => product_node(ctx, id).await?,
            Err(_) => None,
        };
        respond(result, |_| ProductPayload {
            product,
            ..Default::default()
        })
    }

    /// Creates or updates the product a partner system (an ERP) knows by `externalRef`, so that
    /// it can push its catalog again and again: the first push creates the product (DRAFT
    /// unless a status is given), later ones update it (omitted fields stay) and upsert its
    /// variants by SKU. A push that changes nothing writes nothing. Concurrent pushes of one
    /// reference make one product. Staff, or a partner key with `WRITE_PRODUCTS`.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn product_upsert(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The partner system's own reference for the product (1 to 200 characters, \
                    trimmed; unique in the shop), shown as `Product.externalRef`."
        )]
        external_ref: String,
        #[graphql(desc = "The product and, optionally, its variants by SKU.")]
        input: ProductUpsertFields,
    ) -> Result<ProductUpsertPayload> {
        let (product, variants) = input.into_inputs(ctx.shop()?.currency)?;
        let result =
            product_upsert::upsert_product(&ctx.request()?.db, &external_ref, product, variants)
                .await;
        respond(result, |upserted| ProductUpsertPayload {
            product: Some(ProductNode::from(Arc::new(upserted.product))),
            created: upserted.created,
            changed: upserted.changed,
            ..Default::default()
        })
    }

    /// Archives a product: off sale, hidden from customers, kept for order history.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn product_archive(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] id: ID,
    ) -> Result<ProductPayload> {
        let id = GlobalId::parse_as::<ProductId>(&id)?;
        let input = ProductInput {
            status: Some(crate::domain::catalog::ProductStatus::Archived),
            ..ProductInput::default()
        };
        let result = merchandising::update_product(&ctx.request()?.db, id, input).await;
        let product = match &result {
            Ok(_) => product_node(ctx, id).await?,
            Err(_) => None,
        };
        respond(result, |_| ProductPayload {
            product,
            ..Default::default()
        })
    }

    /// Adds a variant to a product.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn variant_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] product_id: ID,
        #[graphql(desc = "The new variant (sku, title and price required).")] input: VariantFields,
    ) -> Result<VariantPayload> {
        let product_id = GlobalId::parse_as::<ProductId>(&product_id)?;
        let input = input.into_input(ctx.shop()?.currency)?;
        let result = merchandising::create_variant(&ctx.request()?.db, product_id, input).await;
        respond(result, |v| VariantPayload {
            variant: Some(v.into()),
            ..Default::default()
        })
    }

    /// Changes a variant's SKU, title, options, prices, position or weight.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn variant_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The variant.")] id: ID,
        #[graphql(desc = "The changes.")] input: VariantFields,
    ) -> Result<VariantPayload> {
        let id = GlobalId::parse_as::<VariantId>(&id)?;
        let input = input.into_input(ctx.shop()?.currency)?;
        let result = merchandising::update_variant(&ctx.request()?.db, id, input).await;
        respond(result, |v| VariantPayload {
            variant: Some(v.into()),
            ..Default::default()
        })
    }

    /// Archives a variant (no longer sold; kept for order history), or restores it.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn variant_archive(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The variant.")] id: ID,
        #[graphql(desc = "False restores it.", default = true)] archived: bool,
    ) -> Result<VariantPayload> {
        let id = GlobalId::parse_as::<VariantId>(&id)?;
        let result = merchandising::archive_variant(&ctx.request()?.db, id, archived).await;
        respond(result, |v| VariantPayload {
            variant: Some(v.into()),
            ..Default::default()
        })
    }

    /// Sets a variant's stock, but only if it is still `expectedQuantity` (compare-and-swap):
    /// if someone changed it meanwhile, nothing changes and a `STALE` user error says what it is.
    #[graphql(guard = "StaffOr(Scope::WriteInventory)")]
    async fn inventory_adjust(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The variant.")] variant_id: ID,
        #[graphql(desc = "The stock you last saw.")] expected_quantity: i32,
        #[graphql(desc = "The new stock (0 or more).")] quantity: i32,
    ) -> Result<VariantPayload> {
        let id = GlobalId::parse_as::<VariantId>(&variant_id)?;
        let result =
            merchandising::adjust_inventory(&ctx.request()?.db, id, expected_quantity, quantity)
                .await;
        respond(result, |v| VariantPayload {
            variant: Some(v.into()),
            ..Default::default()
        })
    }

    /// Sets the stock of up to 250 SKUs at once, each only if it is still its
    /// `expectedQuantity` (compare-and-swap, as `inventoryAdjust`): all lines or none, in one
    /// transaction of a few statements. A refused batch changes nothing and has a user error for
    /// each refused line (`STALE` with the stock it has now, or `NOT_FOUND`), its `field` the
    /// line's index (`["lines", "3", "expectedQuantity"]`).
    #[graphql(guard = "StaffOr(Scope::WriteInventory)")]
    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "1 to 250 lines, each a different SKU.")] lines: Vec<
            InventoryQuantityInput,
        >,
    ) -> Result<InventorySetQuantitiesPayload> {
        let lines = lines
            .into_iter()
            .map(|line| StockLine {
                sku: line.sku,
                expected: line.expected_quantity,
                quantity: line.quantity,
            })
            .collect();
        Ok(
            match merchandising::set_quantities(&ctx.request()?.db, lines).await {
                Ok(set) => InventorySetQuantitiesPayload {
                    levels: set.into_iter().map(InventoryLevel::from).collect(),
                    user_errors: Vec::new(),
                },
                Err(AppError::Rejected(refused)) => InventorySetQuantitiesPayload {
                    levels: Vec::new(),
                    user_errors: refused.into_iter().map(UserError::from).collect(),
                },
                Err(other) => return Err(other.into()),
            },
        )
    }

    /// Adds an image (an http or https URL) to a product.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn product_image_add(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] product_id: ID,
        #[graphql(desc = "The image URL.")] url: String,
        #[graphql(desc = "Alternative text.", default)] alt_text: String,
        #[graphql(desc = "Display order.", default)] position: i32,
    ) -> Result<ProductPayload> {
        let product_id = GlobalId::parse_as::<ProductId>(&product_id)?;
        let result =
            merchandising::add_image(&ctx.request()?.db, product_id, url, alt_text, position).await;
        let product = match &result {
            Ok(_) => product_node(ctx, product_id).await?,
            Err(_) => None,
        };
        respond(result, |_| ProductPayload {
            product,
            ..Default::default()
        })
    }

    /// Removes an image from its product.
    #[graphql(guard = "StaffOr(Scope::WriteProducts)")]
    async fn product_image_remove(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The image id, as `Product.images` gives it.")] id: ID,
    ) -> Result<ProductPayload> {
        let id = GlobalId::parse_as::<ImageId>(&id)?;
        let result = merchandising::remove_image(&ctx.request()?.db, id).await;
        let product = match &result {
            Ok(product_id) => product_node(ctx, *product_id).await?,
            Err(_) => None,
        };
        respond(result, |_| ProductPayload {
            product,
            ..Default::default()
        })
    }
}
