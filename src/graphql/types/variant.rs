//! `Variant`: a sellable SKU of a product, with its options, price and availability.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use super::{Money, ProductNode};
use crate::db::models::variant::{Variant, VariantWithProduct};
use crate::domain::metadata::MetadataOwner;
use crate::domain::options;
use crate::domain::partners::Scope;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::StaffOr;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::loaders::Loader;
use crate::graphql::types::metadata::{MetadataItem, metadata_of, metafield_of};

crate::connection_types!(
    VariantConnection,
    VariantEdge,
    VariantNode,
    "A page of variants.",
    "A variant in a list."
);

/// One option value that distinguishes a variant, e.g. `Size: M`.
#[derive(Debug, Clone, SimpleObject)]
pub struct SelectedOption {
    /// The option, e.g. `Size`.
    pub name: String,
    /// The value, e.g. `M`.
    pub value: String,
}

/// A sellable version of a product (one SKU).
pub enum VariantNode {
    /// The variant alone: its product is loaded by id if asked for.
    Alone(Variant),
    /// The variant read with its product, shared with the request's loader cache.
    WithProduct(Arc<VariantWithProduct>),
}

impl VariantNode {
    fn row(&self) -> &Variant {
        match self {
            Self::Alone(row) => row,
            Self::WithProduct(shared) => &shared.0,
        }
    }
}

impl From<Variant> for VariantNode {
    fn from(row: Variant) -> Self {
        Self::Alone(row)
    }
}

impl From<Arc<VariantWithProduct>> for VariantNode {
    fn from(shared: Arc<VariantWithProduct>) -> Self {
        Self::WithProduct(shared)
    }
}

/// A sellable version of a product (one SKU).
#[Object(name = "Variant")]
impl VariantNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Variant, self.row().id).into()
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
        metadata_of(ctx, MetadataOwner::Variant(self.row().id), private).await
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
        metafield_of(ctx, MetadataOwner::Variant(self.row().id), private, &key).await
    }

    /// Stock-keeping unit, unique across the shop.
    async fn sku(&self) -> &str {
        &self.row().sku
    }

    /// When staff archived it (no longer sold; hidden from customers); null while on sale.
    async fn archived_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.row().archived_at.map(|t| t.and_utc())
    }

    /// When the variant last changed: its SKU, title, prices, position, archiving or stock
    /// (a sale, a cancellation or an adjustment).
    async fn updated_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.row().updated_at.and_utc()
    }

    /// Display title, e.g. `M` or `Black`.
    async fn title(&self) -> &str {
        &self.row().title
    }

    /// The option values that make this variant, e.g. `[{name: "Size", value: "M"}]`.
    /// At most 3.
    async fn selected_options(&self) -> Vec<SelectedOption> {
        options::from_json(&self.row().options)
            .into_iter()
            .map(|o| SelectedOption {
                name: o.name,
                value: o.value,
            })
            .collect()
    }

    /// Price of one unit.
    async fn price(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.row().price, ctx.shop()?.currency))
    }

    /// The former price, shown struck through when the variant is on sale.
    async fn compare_at_price(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        let currency = ctx.shop()?.currency;
        Ok(self
            .row()
            .compare_at_price
            .map(|price| Money::new(price, currency)))
    }

    /// What one unit weighs, in grams (0: not set). Shipping methods with weight bands price
    /// a cart by the total weight of its lines.
    async fn weight_grams(&self) -> i32 {
        super::saturating_int(self.row().weight_grams)
    }

    /// Whether at least one unit is in stock.
    async fn in_stock(&self) -> bool {
        self.row().stock > 0
    }

    /// Units on hand (staff and admins only; anyone else gets an error). Partner keys with the
    /// `read_products` scope will see it too once partner keys exist.
    #[graphql(guard = "StaffOr(Scope::ReadProducts)")]
    async fn stock(&self) -> Option<i32> {
        Some(self.row().stock)
    }

    /// "Only N left": the units in stock when there are some but no more than the shop's
    /// low-stock threshold; null otherwise (plenty, or none: see `inStock`). For everyone.
    async fn low_stock(&self, ctx: &Context<'_>) -> Result<Option<i32>> {
        Ok(ctx.shop()?.stock.low_stock(self.row().stock))
    }

    /// The product this variant belongs to.
    async fn product(&self, ctx: &Context<'_>) -> Result<Option<ProductNode>> {
        if let Self::WithProduct(shared) = self {
            return Ok(Some(ProductNode::from(shared.1.clone())));
        }
        let loader = ctx.data::<Loader>()?;
        Ok(loader
            .load_one(self.row().product_id)
            .await?
            .map(ProductNode::from))
    }
}
