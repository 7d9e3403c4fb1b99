//! Inputs of the staff catalog mutations.

use async_graphql::{ID, InputObject, MaybeUndefined};

use crate::domain::catalog::ProductStatus;
use crate::domain::money::Currency;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeIdOf};
use crate::graphql::types::Decimal;
use crate::graphql::types::product::ProductStatusValue;
use crate::services::merchandising::{CategoryInput, ProductInput, VariantInput};

fn id_of<T: NodeIdOf>(id: &ID) -> Result<T, AppError> {
    GlobalId::parse_as(id).map_err(|e| e.under("input"))
}

/// A category's fields; omitted ones stay as they are (on update) or take their defaults.
#[derive(InputObject, Default)]
pub struct CategoryFields {
    /// Display name (1–200 characters).
    pub name: Option<String>,
    /// URL handle (lower-case letters, digits, dashes); made from the name when omitted.
    pub slug: Option<String>,
    /// The parent category (create only: refused on update); a root category when omitted.
    pub parent_id: Option<ID>,
    /// Display order among its siblings.
    pub position: Option<i32>,
}

impl CategoryFields {
    /// The checked service input.
    pub fn into_input(self) -> Result<CategoryInput, AppError> {
        Ok(CategoryInput {
            name: self.name,
            slug: self.slug,
            parent_id: self.parent_id.map(|id| id_of(&id)).transpose()?,
            position: self.position,
        })
    }
}

/// A product's fields; omitted ones stay as they are (on update) or take their defaults.
#[derive(InputObject, Default)]
pub struct ProductFields {
    /// Display name (1–200 characters).
    pub name: Option<String>,
    /// URL handle (lower-case letters, digits, dashes); made from the name when omitted.
    pub slug: Option<String>,
    /// Description (at most 10,000 characters).
    pub description: Option<String>,
    /// Lifecycle status; new products are DRAFT unless given.
    pub status: Option<ProductStatusValue>,
    /// The category; `null` files it under none.
    pub category_id: MaybeUndefined<ID>,
}

impl ProductFields {
    /// The checked service input.
    pub fn into_input(self) -> Result<ProductInput, AppError> {
        let category_id = match self.category_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id_of(&id)?)),
        };
        Ok(ProductInput {
            name: self.name,
            slug: self.slug,
            description: self.description,
            status: self.status.map(ProductStatus::from),
            category_id,
        })
    }
}

/// One option of a variant, e.g. `{ name: "Size", value: "M" }`.
#[derive(Debug, InputObject)]
pub struct VariantOptionInput {
    /// The option, e.g. `Size` (1–100 characters).
    pub name: String,
    /// Its value, e.g. `M` (1–100 characters).
    pub value: String,
}

/// A variant's fields; omitted ones stay as they are (on update) or take their defaults.
#[derive(InputObject, Default)]
pub struct VariantFields {
    /// Stock-keeping unit: letters, digits, `-`, `_`; stored upper-cased, unique.
    pub sku: Option<String>,
    /// Display title, e.g. `M / Navy`.
    pub title: Option<String>,
    /// Option values, replacing the variant's (all of them; `[]` removes them): at most 3,
    /// each name and value 1 to 100 characters, each name once. The product's variants on sale
    /// with options have different ones (`TAKEN`) and at most 3 option names between them
    /// (`LIMIT_REACHED`).
    pub options: Option<Vec<VariantOptionInput>>,
    /// Price in the store currency, e.g. `"19.99"` (required on create).
    pub price: Option<Decimal>,
    /// Former price shown struck through; `null` clears it.
    pub compare_at_price: MaybeUndefined<Decimal>,
    /// Units in stock (create only: refused on update, where `inventoryAdjust` sets it).
    pub stock: Option<i32>,
    /// Display order among the product's variants.
    pub position: Option<i32>,
    /// What one unit weighs, in grams, 0 to 10,000,000 (0, the default: not set): shipping
    /// methods with weight bands price the cart's total weight.
    pub weight_grams: Option<i32>,
}

impl VariantFields {
    /// The checked service input, prices in `currency`'s minor units.
    pub fn into_input(self, currency: Currency) -> Result<VariantInput, AppError> {
        let amount = |value: &Decimal, field: &str| {
            currency
                .parse_amount(&value.0)
                .map_err(|e| AppError::bad_input(format!("input.{field}: {e}")))
        };
        Ok(VariantInput {
            sku: self.sku,
            title: self.title,
            options: self
                .options
                .map(|options| options.into_iter().map(|o| (o.name, o.value)).collect()),
            price: self
                .price
                .as_ref()
                .map(|p| amount(p, "price"))
                .transpose()?,
            compare_at_price: match &self.compare_at_price {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(price) => Some(Some(amount(price, "compareAtPrice")?)),
            },
            stock: self.stock,
            position: self.position,
            weight_grams: self.weight_grams.map(i64::from),
        })
    }
}

/// One line of `inventorySetQuantities`: set a SKU's stock, if it is still what you last saw.
#[derive(InputObject)]
pub struct InventoryQuantityInput {
    /// The variant's SKU (matched trimmed, upper-case).
    pub sku: String,
    /// The stock you last saw (compare-and-swap).
    pub expected_quantity: i32,
    /// The new stock (0 or more).
    pub quantity: i32,
}

/// A product as a partner system pushes it with `productUpsert`: the product's fields (as for
/// `productCreate` the first time, `productUpdate` after: omitted fields stay) and, optionally,
/// its variants by SKU.
#[derive(InputObject, Default)]
pub struct ProductUpsertFields {
    /// The product's own fields.
    #[graphql(flatten)]
    pub product: ProductFields,
    /// Variants by SKU, at most 100, each SKU once: a SKU the product has is updated (title,
    /// options, prices, position; its `stock` applies only when a variant is created, after
    /// which stock changes through `inventoryAdjust`), a new one is added (SKU, title and price
    /// required). Variants left out stay as they are. A SKU of another product is `TAKEN`.
    pub variants: Option<Vec<VariantFields>>,
}

impl ProductUpsertFields {
    /// The checked service inputs: the product's, and its variants' in `currency`.
    pub fn into_inputs(
        self,
        currency: Currency,
    ) -> Result<(ProductInput, Vec<VariantInput>), AppError> {
        let variants =
            self.variants
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(index, variant)| {
                    variant.into_input(currency).map_err(|e| match e {
                        AppError::BadUserInput(message) => AppError::BadUserInput(
                            message.replacen("input.", &format!("input.variants.{index}."), 1),
                        ),
                        other => other,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
        Ok((self.product.into_input()?, variants))
    }
}
