//! The facets of a product search: how the matching products spread over categories, option
//! values and price bands, for filters a front end shows beside its results.

use async_graphql::SimpleObject;

use super::{CategoryNode, Money};

/// How the products matching a search spread over categories, option values and prices.
#[derive(SimpleObject)]
pub struct ProductFacets {
    /// How many products match the whole filter.
    pub total: i64,
    /// Categories holding products that match the filter but for its category (a category
    /// counts its descendants' products), the fullest first. At most 100.
    pub categories: Vec<CategoryFacet>,
    /// Options of the variants on sale of products that match the filter but for its
    /// conditions on that option, those the most products have first. At most 10.
    pub options: Vec<OptionFacet>,
    /// Products that match the filter but for its price range, by their lowest price, one
    /// entry per band (empty bands included), in price order. At most 11.
    pub price_bands: Vec<PriceBandFacet>,
}

/// A category and how many matching products it holds.
#[derive(SimpleObject)]
pub struct CategoryFacet {
    /// The category.
    pub category: CategoryNode,
    /// Matching products in it and its descendants.
    pub count: i64,
}

/// An option and how many matching products have each of its values.
#[derive(SimpleObject)]
pub struct OptionFacet {
    /// The option, e.g. `Size`.
    pub name: String,
    /// Its values, the most common first. At most 50.
    pub values: Vec<OptionValueFacet>,
}

/// An option value and how many matching products have it.
#[derive(SimpleObject)]
pub struct OptionValueFacet {
    /// The value, e.g. `M`.
    pub value: String,
    /// Matching products with a variant on sale of this value.
    pub count: i64,
}

/// A price band and how many matching products start in it.
#[derive(SimpleObject)]
pub struct PriceBandFacet {
    /// The lowest price of the band (included).
    pub min: Money,
    /// The price the band ends before; null for the last band.
    pub max: Option<Money>,
    /// Matching products whose lowest price falls in the band.
    pub count: i64,
}
