//! Inputs of the catalog queries: product filters and sort orders.

use async_graphql::{Enum, ID, InputObject};
use chrono::{DateTime, Utc};

use crate::db::models::product::ProductSortField;
use crate::domain::money::Currency;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::inputs::feeds::since;
use crate::graphql::inputs::merchandising::VariantOptionInput;
use crate::graphql::inputs::metadata::{MetadataFilter, conditions};
use crate::graphql::types::Decimal;
use crate::services::catalog::{CategoryRef, ProductQuery, ProductSort};

/// Filters for a product list; all given conditions must hold.
#[derive(Debug, Default, InputObject)]
pub struct ProductWhere {
    /// Words to find in the name, description or SKUs (case-insensitive substring).
    pub search: Option<String>,
    /// Only products in this category or its descendants.
    pub category_id: Option<ID>,
    /// Only products in the category with this slug or its descendants.
    pub category_slug: Option<String>,
    /// Only products with a variant priced within this range.
    pub price: Option<PriceRangeInput>,
    /// `true`: only products with a variant in stock; `false`: only sold-out products.
    pub in_stock: Option<bool>,
    /// Only products changed at or after this time (`updatedAt >= updatedSince`; a year from 1
    /// to 9999). For a first sync with `sortBy: {field: UPDATED_AT}`; afterwards continue from
    /// the last cursor, which never skips a change (see "Sync by updatedSince" in the README).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only products with these metadata entries (at most 5 conditions, all to hold); private
    /// entries for staff and partner keys with `READ_PRODUCTS`.
    pub metadata: Option<Vec<MetadataFilter>>,
    /// Only products with a variant on sale having each named option (at most 10 values in
    /// all; names and values spelled exactly as `productFacets` lists them). Several values of
    /// one option mean any one of them: `[{name: "Colour", value: "Red"}, {name: "Colour",
    /// value: "Blue"}, {name: "Size", value: "M"}]` is (red or blue) and medium.
    pub options: Option<Vec<VariantOptionInput>>,
}

/// An inclusive price range in the store currency; either end may be left open.
#[derive(Debug, InputObject)]
pub struct PriceRangeInput {
    /// Lowest price, e.g. `"10.00"`.
    pub min: Option<Decimal>,
    /// Highest price, e.g. `"49.99"`.
    pub max: Option<Decimal>,
}

impl ProductWhere {
    /// Checks the filter and turns it into a service query; private metadata conditions only
    /// when the caller `sees_private` metadata of products.
    pub fn into_query(
        self,
        currency: Currency,
        sees_private: bool,
    ) -> Result<ProductQuery, AppError> {
        let category = match (self.category_id, self.category_slug) {
            (Some(_), Some(_)) => {
                return Err(AppError::bad_input(
                    "filter by `categoryId` or `categorySlug`, not both",
                ));
            }
            (Some(id), None) => Some(CategoryRef::Id(GlobalId::parse_kind(
                &id,
                NodeKind::Category,
            )?)),
            (None, Some(slug)) => Some(CategoryRef::Slug(slug)),
            (None, None) => None,
        };
        let parse = |amount: Option<Decimal>| -> Result<Option<i64>, AppError> {
            amount
                .map(|Decimal(text)| currency.parse_amount(&text).map_err(AppError::BadUserInput))
                .transpose()
        };
        let (min_price, max_price) = match self.price {
            Some(range) => (parse(range.min)?, parse(range.max)?),
            None => (None, None),
        };
        Ok(ProductQuery {
            search: self.search,
            category,
            min_price,
            max_price,
            in_stock: self.in_stock,
            updated_since: since(self.updated_since),
            metadata: conditions(self.metadata, sees_private)?,
            options: self
                .options
                .unwrap_or_default()
                .into_iter()
                .map(|option| (option.name, option.value))
                .collect(),
        })
    }
}

/// What to sort products by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum ProductSortKey {
    /// Product name, A to Z when ascending.
    #[default]
    Name,
    /// Lowest variant price.
    Price,
    /// When the product was created; `DESC` lists the newest first.
    CreatedAt,
    /// When each product last changed, in the order the changes were committed (not by the
    /// `updatedAt` timestamps, which are taken before commit): `ASC` walks every change once, a
    /// product changed during the walk comes again at its new version. The change feed; see
    /// "Sync by updatedSince" in the README.
    UpdatedAt,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// The order of a product list. Ties are broken by id, so the order is total and stable.
#[derive(Debug, Clone, Copy, Default, InputObject)]
pub struct ProductSortBy {
    /// The sort key.
    #[graphql(default)]
    pub field: ProductSortKey,
    /// The direction.
    #[graphql(default)]
    pub direction: SortDirection,
}

impl From<ProductSortBy> for ProductSort {
    fn from(sort: ProductSortBy) -> Self {
        let field = match sort.field {
            ProductSortKey::Name => ProductSortField::Name,
            ProductSortKey::Price => ProductSortField::Price,
            ProductSortKey::CreatedAt => ProductSortField::CreatedAt,
            ProductSortKey::UpdatedAt => ProductSortField::UpdatedAt,
        };
        Self {
            field,
            descending: sort.direction == SortDirection::Desc,
        }
    }
}
