//! What every resolver may ask of the request: the database handle (counting this request's
//! statements), the caller's catalog visibility and the store currency.

use async_graphql::Context;

use crate::db::Db;
use crate::domain::catalog::CatalogVisibility;
use crate::domain::money::Currency;

/// Per-request data, put in the GraphQL request by the HTTP handler.
#[derive(Clone)]
pub struct RequestContext {
    /// Database handle counting into this request's statistics.
    pub db: Db,
    /// Which products the caller may see.
    pub visibility: CatalogVisibility,
}

/// Schema-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct ShopSettings {
    /// The store currency.
    pub currency: Currency,
}

/// Accessors for the data every resolver needs.
pub trait ContextExt {
    /// This request's context.
    fn request(&self) -> async_graphql::Result<&RequestContext>;
    /// The shop settings.
    fn shop(&self) -> async_graphql::Result<&ShopSettings>;
}

impl ContextExt for Context<'_> {
    fn request(&self) -> async_graphql::Result<&RequestContext> {
        self.data::<RequestContext>()
    }

    fn shop(&self) -> async_graphql::Result<&ShopSettings> {
        self.data::<ShopSettings>()
    }
}
