//! The GraphQL schema: root objects by area, output types, inputs, per-request loaders, Relay
//! pagination and global ids.

pub mod context;
pub mod ids;
pub mod inputs;
pub mod loaders;
pub mod pagination;
pub mod query;
pub mod types;

use async_graphql::{EmptyMutation, EmptySubscription, Schema};

pub use context::{RequestContext, ShopSettings};

/// The Bazaar schema.
pub type AppSchema = Schema<query::Query, EmptyMutation, EmptySubscription>;

/// How the schema is built.
#[derive(Debug, Clone, Copy)]
pub struct SchemaOptions {
    /// Shop-wide settings available to every resolver.
    pub shop: ShopSettings,
    /// Whether introspection queries are answered.
    pub introspection: bool,
}

/// Builds the schema.
pub fn build_schema(options: SchemaOptions) -> AppSchema {
    let builder =
        Schema::build(query::Query::default(), EmptyMutation, EmptySubscription).data(options.shop);
    let builder = if options.introspection {
        builder
    } else {
        builder.disable_introspection()
    };
    builder.finish()
}

/// The schema in SDL, as `schema.graphql` holds it.
pub fn sdl() -> String {
    Schema::build(query::Query::default(), EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
