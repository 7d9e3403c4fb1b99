//! `Shop` (what a front end needs to show prices), shipping zones and methods, tax rates, and
//! `PostalAddress`, the typed address of a cart or order.

use async_graphql::{Context, ID, Object, Result, SimpleObject};

use crate::db::models::shipping::{ShippingMethod, ShippingZone, TaxRate, ZoneRegion};
use crate::domain::address::AddressParts;
use crate::domain::delivery::{MAX_SHIPPING_ZONES, MAX_TAX_RATES};
use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::cart::percent_of_bp;
use crate::graphql::types::{Decimal, Money};
use crate::services::shipping::{self, ZoneSetup};

/// A postal address as given for a cart or order.
pub struct PostalAddressNode(pub AddressParts);

/// A postal address as given for a cart or order.
#[Object(name = "PostalAddress")]
impl PostalAddressNode {
    /// Recipient's given name.
    async fn first_name(&self) -> &str {
        &self.0.first_name
    }

    /// Recipient's family name.
    async fn last_name(&self) -> &str {
        &self.0.last_name
    }

    /// Company; may be empty.
    async fn company(&self) -> &str {
        &self.0.company
    }

    /// Street address.
    async fn line1(&self) -> &str {
        &self.0.line1
    }

    /// Apartment, suite, floor; may be empty.
    async fn line2(&self) -> &str {
        &self.0.line2
    }

    /// City or town.
    async fn city(&self) -> &str {
        &self.0.city
    }

    /// State, province or region; may be empty.
    async fn region(&self) -> &str {
        &self.0.region
    }

    /// Postal or ZIP code; may be empty.
    async fn postal_code(&self) -> &str {
        &self.0.postal_code
    }

    /// ISO 3166-1 alpha-2 country code, e.g. `US`.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }

    /// Phone number for the carrier; may be empty.
    async fn phone(&self) -> &str {
        &self.0.phone
    }
}

/// A country, or a region of one, that a shipping zone serves.
#[derive(SimpleObject)]
pub struct ShippingZoneRegion {
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// The region's code (matched against an address's `region`, ignoring case); empty for the
    /// whole country.
    pub region_code: String,
}

/// Countries and regions the shop ships to, with the methods it offers there.
pub struct ShippingZoneNode {
    /// The zone.
    pub zone: ShippingZone,
    /// Its countries and regions.
    pub regions: Vec<ZoneRegion>,
    /// Its methods.
    pub methods: Vec<ShippingMethod>,
}

impl From<ZoneSetup> for ShippingZoneNode {
    fn from(setup: ZoneSetup) -> Self {
        Self {
            zone: setup.zone,
            regions: setup.regions,
            methods: setup.methods,
        }
    }
}

/// Countries and regions the shop ships to, with the methods it offers there.
#[Object(name = "ShippingZone")]
impl ShippingZoneNode {
    /// Globally unique id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::ShippingZone, self.zone.id).into()
    }

    /// Its name, e.g. `Europe`.
    async fn name(&self) -> &str {
        &self.zone.name
    }

    /// The countries and regions it serves. An address is served by the zone listing its
    /// region, else by the one listing its whole country. At most 300.
    async fn regions(&self) -> Vec<ShippingZoneRegion> {
        self.regions
            .iter()
            .map(|region| ShippingZoneRegion {
                country_code: region.country_code.clone(),
                region_code: region.region_code.clone(),
            })
            .collect()
    }

    /// Its shipping methods, oldest first. At most 20.
    async fn methods(&self) -> Vec<ShippingMethodNode> {
        self.methods
            .iter()
            .cloned()
            .map(ShippingMethodNode)
            .collect()
    }
}

/// A way a zone ships, with its charge and the carts it serves.
pub struct ShippingMethodNode(pub ShippingMethod);

/// A way a zone ships, with its charge and the carts it serves.
#[Object(name = "ShippingMethod")]
impl ShippingMethodNode {
    /// Globally unique id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::ShippingMethod, self.0.id).into()
    }

    /// What the customer sees, e.g. `Express`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Its charge.
    async fn price(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.0.price, ctx.shop()?.currency))
    }

    /// The discounted subtotal from which it is free; null: never.
    async fn free_from(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        let currency = ctx.shop()?.currency;
        Ok(self.0.free_from.map(|amount| Money::new(amount, currency)))
    }

    /// The smallest discounted subtotal it serves.
    async fn min_subtotal(&self, ctx: &Context<'_>) -> Result<Money> {
        Ok(Money::new(self.0.min_subtotal, ctx.shop()?.currency))
    }

    /// The discounted subtotal from which it no longer serves; null: no limit.
    async fn max_subtotal(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        let currency = ctx.shop()?.currency;
        Ok(self
            .0
            .max_subtotal
            .map(|amount| Money::new(amount, currency)))
    }

    /// The smallest total weight, in grams, of a cart it serves (its lines' `weightGrams` ×
    /// quantity).
    async fn min_weight_grams(&self) -> i32 {
        super::saturating_int(self.0.min_weight_grams)
    }

    /// The total weight, in grams, from which it no longer serves; null: no limit.
    async fn max_weight_grams(&self) -> Option<i32> {
        self.0.max_weight_grams.map(super::saturating_int)
    }
}

/// A tax rate for a country or one of its regions. Every rate matching an address applies, each
/// as its own tax line (a country's and its region's add up).
pub struct TaxRateNode(pub TaxRate);

/// A tax rate for a country or one of its regions. Every rate matching an address applies, each
/// as its own tax line (a country's and its region's add up).
#[Object(name = "TaxRate")]
impl TaxRateNode {
    /// Globally unique id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::TaxRate, self.0.id).into()
    }

    /// What the customer sees, e.g. `VAT`.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// ISO 3166-1 alpha-2 country code.
    async fn country_code(&self) -> &str {
        &self.0.country_code
    }

    /// The region's code; empty for the whole country.
    async fn region_code(&self) -> &str {
        &self.0.region_code
    }

    /// The rate in percent, e.g. `19.00`.
    async fn rate_percent(&self) -> Decimal {
        percent_of_bp(u32::try_from(self.0.rate_bp).unwrap_or(0))
    }
}

/// The shop's settings a front end needs to show prices and delivery.
pub struct ShopNode;

/// The shop's settings a front end needs to show prices and delivery.
#[Object(name = "Shop")]
impl ShopNode {
    /// The currency of every price, ISO 4217.
    async fn currency_code(&self, ctx: &Context<'_>) -> Result<String> {
        Ok(ctx.shop()?.currency.code().to_owned())
    }

    /// Whether prices include the taxes (show them as they are), or taxes are added at
    /// checkout (show "plus tax").
    async fn prices_include_tax(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.shop()?.pricing.prices_include_tax)
    }

    /// Whether shipping is taxed like the goods.
    async fn shipping_taxed(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(ctx.shop()?.pricing.tax_shipping)
    }

    /// The tax rate where no `taxRates` entry matches the address (and before an address is
    /// known), in percent.
    async fn default_tax_rate_percent(&self, ctx: &Context<'_>) -> Result<Decimal> {
        Ok(percent_of_bp(ctx.shop()?.pricing.tax_rate_bp))
    }

    /// Where the shop ships and what it charges there, oldest first. Empty: the shop ships
    /// everywhere with its one standard option (`standardShipping`). At most 100.
    async fn shipping_zones(&self, ctx: &Context<'_>) -> Result<Vec<ShippingZoneNode>> {
        let zones = shipping::zones(&ctx.request()?.db).await?;
        Ok(zones
            .into_iter()
            .take(MAX_SHIPPING_ZONES)
            .map(ShippingZoneNode::from)
            .collect())
    }

    /// The standard option's charge, offered everywhere while the shop has no shipping zones.
    async fn standard_shipping(&self, ctx: &Context<'_>) -> Result<Money> {
        let shop = ctx.shop()?;
        Ok(Money::new(shop.pricing.flat_shipping, shop.currency))
    }

    /// The discounted subtotal from which the standard option is free; null: never.
    async fn standard_shipping_free_from(&self, ctx: &Context<'_>) -> Result<Option<Money>> {
        let shop = ctx.shop()?;
        Ok(shop
            .pricing
            .free_shipping_from
            .map(|amount| Money::new(amount, shop.currency)))
    }

    /// Tax rates by country and region, by country code, region and name. At most 500.
    async fn tax_rates(&self, ctx: &Context<'_>) -> Result<Vec<TaxRateNode>> {
        let rates = shipping::tax_rates(&ctx.request()?.db).await?;
        Ok(rates
            .into_iter()
            .take(MAX_TAX_RATES)
            .map(TaxRateNode)
            .collect())
    }
}
