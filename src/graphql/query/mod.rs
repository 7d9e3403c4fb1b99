//! The query root, merged from one object per area.

mod accounts;
mod catalog;
mod collections;
mod commerce;
mod discounts;
mod events;
pub(crate) mod node;
mod partners;
mod reviews;
mod webhooks;

use async_graphql::MergedObject;

/// Everything a client can read.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    catalog::CatalogQuery,
    collections::CollectionQuery,
    accounts::AccountQuery,
    commerce::CommerceQuery,
    discounts::DiscountQuery,
    events::EventQuery,
    partners::PartnerQuery,
    reviews::ReviewQuery,
    webhooks::WebhookQuery,
);
