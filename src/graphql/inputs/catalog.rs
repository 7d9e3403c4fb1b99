//! Inputs of the catalog queries: product filters and sort orders.

use async_graphql::{Enum, ID, InputObject};

use crate::db::models::product::ProductSortField;
use crate::domain::money::Currency;
use crate::error::AppError;
use crate::graphql::ids::{GlobalId, NodeKind};
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
    /// Checks the filter and turns it into a service query.
    pub fn into_query(self, currency: Currency) -> Result<ProductQuery, AppError> {
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
        };
        Self {
            field,
            descending: sort.direction == SortDirection::Desc,
        }
    }
}
