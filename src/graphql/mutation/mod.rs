//! The mutation root, merged from one object per area. Every mutation returns a payload with
//! `userErrors`.

mod accounts;
mod collections;
mod commerce;
mod discounts;
mod fulfillments;
mod merchandising;
mod metadata;
mod partners;
mod product_reviews;
mod shipping;
mod webhooks;

use async_graphql::MergedObject;

/// Everything a client can change.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutation,
    collections::CollectionMutation,
    commerce::CommerceMutation,
    discounts::DiscountMutation,
    fulfillments::FulfillmentMutation,
    merchandising::MerchandisingMutation,
    metadata::MetadataMutation,
    partners::PartnerMutation,
    product_reviews::ReviewMutation,
    shipping::ShippingMutation,
    webhooks::WebhookMutation,
);
