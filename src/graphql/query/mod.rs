//! The query root, merged from one object per area.

mod accounts;
mod catalog;
mod commerce;
mod discounts;
mod node;
mod partners;
mod reviews;

use async_graphql::MergedObject;

/// Everything a client can read.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    catalog::CatalogQuery,
    accounts::AccountQuery,
    commerce::CommerceQuery,
    discounts::DiscountQuery,
    partners::PartnerQuery,
    reviews::ReviewQuery,
);
