//! The GraphQL schema: root objects by area, output types, inputs, guards, per-request loaders,
//! `userErrors`, operation limits, Relay pagination and global ids.

pub mod context;
pub mod documents;
pub mod guards;
pub mod ids;
pub mod input_rules;
pub mod inputs;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod pagination;
pub mod persisted;
pub mod pipeline;
pub mod query;
pub mod query_cost;
pub mod response_order;
pub mod subscription;
pub mod types;
pub mod user_errors;

use std::sync::Arc;

use async_graphql::{Schema, SchemaBuilder};

pub use context::{RequestContext, ShopSettings};

use crate::services::accounts::Accounts;
use crate::services::catalog::CategoryTreeCache;
use crate::services::checkout::CheckoutServices;
use crate::services::live::LiveEvents;
use crate::services::payments::PaymentGateway;
use crate::services::rate_limits::RateLimits;
use crate::services::webhooks::Webhooks;

/// The Bazaar schema.
pub type AppSchema = Schema<query::Query, mutation::Mutation, subscription::Subscription>;

/// How the schema is built.
#[derive(Clone)]
pub struct SchemaOptions {
    /// Shop-wide settings available to every resolver.
    pub shop: ShopSettings,
    /// The account services.
    pub accounts: Arc<Accounts>,
    /// The category tree, as last read.
    pub categories: Arc<CategoryTreeCache>,
    /// The payment gateway.
    pub gateway: Arc<dyn PaymentGateway>,
    /// Guest checkout limits and order confirmations.
    pub checkout: Arc<CheckoutServices>,
    /// Rate limits on abusable mutations.
    pub rate_limits: Arc<RateLimits>,
    /// Webhook subscriptions and their deliveries.
    pub webhooks: Arc<Webhooks>,
    /// New events, for subscriptions.
    pub live: Arc<LiveEvents>,
    /// Whether introspection queries are answered.
    pub introspection: bool,
    /// Whether validation errors suggest field names.
    pub suggestions: bool,
}

fn builder() -> SchemaBuilder<query::Query, mutation::Mutation, subscription::Subscription> {
    Schema::build(
        query::Query::default(),
        mutation::Mutation::default(),
        subscription::Subscription,
    )
}

/// Builds the schema.
pub fn build_schema(options: SchemaOptions) -> AppSchema {
    let mut builder = builder()
        .data(options.shop)
        .data(options.accounts)
        .data(options.categories)
        .data(options.gateway)
        .data(options.checkout)
        .data(options.rate_limits)
        .data(options.webhooks)
        .data(options.live);
    if !options.introspection {
        builder = builder.disable_introspection();
    }
    if !options.suggestions {
        builder = builder.disable_suggestions();
    }
    builder.finish()
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    builder().finish().sdl()
}
