//! What every resolver may ask of the request: the database handle (counting this request's
//! statements), the caller, the client address, and the shop-wide services and settings.

use std::sync::Arc;

use async_graphql::Context;

use crate::db::Db;
use crate::domain::accounts::Principal;
use crate::domain::catalog::CatalogVisibility;
use crate::domain::money::Currency;
use crate::domain::pricing::PricingPolicy;
use crate::domain::stock::StockDisclosure;
use crate::services::accounts::Accounts;
use crate::services::catalog::CategoryTreeCache;
use crate::services::payments::PaymentGateway;
use crate::services::rate_limits::{Limited, RateLimits};

/// Per-request data, put in the GraphQL request by the HTTP handler.
#[derive(Clone)]
pub struct RequestContext {
    /// Database handle counting into this request's statistics.
    pub db: Db,
    /// Who is calling.
    pub principal: Principal,
    /// The client's address, for throttling.
    pub client_address: Option<String>,
}

impl RequestContext {
    /// Which products the caller may see.
    pub fn visibility(&self) -> CatalogVisibility {
        self.principal.catalog_visibility()
    }
}

/// Schema-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct ShopSettings {
    /// The store currency.
    pub currency: Currency,
    /// Shipping and tax.
    pub pricing: PricingPolicy,
    /// How much of the stock on hand non-staff callers may learn.
    pub stock: StockDisclosure,
}

/// Accessors for the data every resolver needs.
pub trait ContextExt {
    /// This request's context.
    fn request(&self) -> async_graphql::Result<&RequestContext>;
    /// The shop settings.
    fn shop(&self) -> async_graphql::Result<&ShopSettings>;
    /// The account services.
    fn accounts(&self) -> async_graphql::Result<&Accounts>;
    /// The category tree, as last read.
    fn categories(&self) -> async_graphql::Result<&Arc<CategoryTreeCache>>;
    /// The payment gateway.
    fn gateway(&self) -> async_graphql::Result<&Arc<dyn PaymentGateway>>;
    /// Counts one `action` on `target` from this request's client address; `RATE_LIMITED`
    /// past the allowance.
    fn rate_limit(
        &self,
        action: Limited,
        target: Option<&str>,
    ) -> impl Future<Output = async_graphql::Result<()>> + Send;
}

impl ContextExt for Context<'_> {
    fn request(&self) -> async_graphql::Result<&RequestContext> {
        self.data::<RequestContext>()
    }

    fn shop(&self) -> async_graphql::Result<&ShopSettings> {
        self.data::<ShopSettings>()
    }

    fn accounts(&self) -> async_graphql::Result<&Accounts> {
        Ok(self.data::<Arc<Accounts>>()?.as_ref())
    }

    fn categories(&self) -> async_graphql::Result<&Arc<CategoryTreeCache>> {
        self.data::<Arc<CategoryTreeCache>>()
    }

    fn gateway(&self) -> async_graphql::Result<&Arc<dyn PaymentGateway>> {
        self.data::<Arc<dyn PaymentGateway>>()
    }

    async fn rate_limit(&self, action: Limited, target: Option<&str>) -> async_graphql::Result<()> {
        let address = self.request()?.client_address.as_deref();
        Ok(self
            .data::<Arc<RateLimits>>()?
            .admit(action, target, address)
            .await?)
    }
}
