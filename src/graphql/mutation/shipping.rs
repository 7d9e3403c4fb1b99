//! Shipping zone, shipping method and tax rate mutations (staff), each recorded in the audit log.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::money::Currency;
use crate::error::AppError;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::RoleGuard;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::Decimal;
use crate::graphql::types::shipping::{ShippingMethodNode, ShippingZoneNode, TaxRateNode};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::shipping::{self, MethodRequest, TaxRateRequest, ZoneRequest};

payload!(
    /// The result of a shipping zone mutation.
    ShippingZonePayload {
        /// The zone as it is now, with its regions and methods.
        shipping_zone: Option<ShippingZoneNode>,
    }
);

payload!(
    /// The result of a shipping method mutation.
    ShippingMethodPayload {
        /// The method as it is now.
        shipping_method: Option<ShippingMethodNode>,
    }
);

payload!(
    /// The result of `taxRateCreate`.
    TaxRatePayload {
        /// The new tax rate.
        tax_rate: Option<TaxRateNode>,
    }
);

payload!(
    /// The result of a delete.
    DeletePayload {
        /// The id of what was deleted.
        deleted_id: Option<ID>,
    }
);

/// A country, or a region of one.
#[derive(InputObject)]
pub struct ShippingZoneRegionInput {
    /// ISO 3166-1 alpha-2 country code, e.g. `US`.
    pub country_code: String,
    /// The region's code as addresses write it (compared ignoring case), e.g. `CA`; empty or
    /// left out for the whole country.
    #[graphql(default)]
    pub region_code: String,
}

/// A shipping zone: its name and what it serves.
#[derive(InputObject)]
pub struct ShippingZoneInput {
    /// Its name, 1 to 100 characters.
    pub name: String,
    /// The countries and regions it serves: 1 to 300, none served by another zone.
    pub regions: Vec<ShippingZoneRegionInput>,
}

impl From<ShippingZoneInput> for ZoneRequest {
    fn from(input: ShippingZoneInput) -> Self {
        Self {
            name: input.name,
            regions: input
                .regions
                .into_iter()
                .map(|region| (region.country_code, region.region_code))
                .collect(),
        }
    }
}

/// A shipping method's settings (every one; an update replaces them all).
#[derive(InputObject)]
pub struct ShippingMethodInput {
    /// What the customer sees, 1 to 100 characters, e.g. `Express`.
    pub name: String,
    /// Its charge, in the store currency.
    pub price: Decimal,
    /// The discounted subtotal from which it is free; left out: never.
    pub free_from: Option<Decimal>,
    /// The smallest discounted subtotal it serves; left out: any.
    pub min_subtotal: Option<Decimal>,
    /// The discounted subtotal from which it no longer serves; left out: no limit.
    pub max_subtotal: Option<Decimal>,
    /// The smallest total weight, in grams, of a cart it serves (the sum of its lines'
    /// `weightGrams` × quantity); left out: 0.
    pub min_weight_grams: Option<i32>,
    /// The total weight, in grams, from which it no longer serves; left out: no limit.
    pub max_weight_grams: Option<i32>,
}

impl ShippingMethodInput {
    fn request(&self, currency: Currency) -> Result<MethodRequest, AppError> {
        let amount = |field: &str, text: &Decimal| {
            currency
                .parse_amount(&text.0)
                .map_err(|e| AppError::bad_input(format!("input.{field}: {e}")))
        };
        let optional = |field: &str, text: &Option<Decimal>| {
            text.as_ref().map(|text| amount(field, text)).transpose()
        };
        Ok(MethodRequest {
            name: self.name.clone(),
            price: amount("price", &self.price)?,
            free_from: optional("freeFrom", &self.free_from)?,
            min_subtotal: optional("minSubtotal", &self.min_subtotal)?.unwrap_or(0),
            max_subtotal: optional("maxSubtotal", &self.max_subtotal)?,
            min_weight_grams: self.min_weight_grams.map_or(0, i64::from),
            max_weight_grams: self.max_weight_grams.map(i64::from),
        })
    }
}

/// A tax rate.
#[derive(InputObject)]
pub struct TaxRateInput {
    /// What the customer sees, 1 to 100 characters, e.g. `VAT`.
    pub name: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country_code: String,
    /// The region's code; empty or left out for the whole country.
    #[graphql(default)]
    pub region_code: String,
    /// The rate in percent with up to two decimals, e.g. `19` or `8.25`.
    pub rate_percent: Decimal,
}

fn id_of(id: &ID, kind: NodeKind) -> Result<i64> {
    Ok(GlobalId::parse_kind(id, kind)?)
}

/// Shipping and tax setup (staff).
#[derive(Default)]
pub struct ShippingMutation;

#[Object]
impl ShippingMutation {
    /// Creates a shipping zone (staff; at most 100). Once the shop has a zone, carts are offered
    /// only the methods of the zone serving their address.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn shipping_zone_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Its name and what it serves.")] input: ShippingZoneInput,
    ) -> Result<ShippingZonePayload> {
        let result = shipping::create_zone(&ctx.request()?.db, input.into()).await;
        respond(result, |zone| ShippingZonePayload {
            shipping_zone: Some(zone.into()),
            ..Default::default()
        })
    }

    /// Renames a shipping zone and replaces what it serves (staff).
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn shipping_zone_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The zone.")] id: ID,
        #[graphql(desc = "Its new name and what it serves.")] input: ShippingZoneInput,
    ) -> Result<ShippingZonePayload> {
        let id = id_of(&id, NodeKind::ShippingZone)?;
        let result = shipping::update_zone(&ctx.request()?.db, id, input.into()).await;
        respond(result, |zone| ShippingZonePayload {
            shipping_zone: Some(zone.into()),
            ..Default::default()
        })
    }

    /// Deletes a shipping zone and its methods (staff); carts that chose one of them are
    /// charged the cheapest option left.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn shipping_zone_delete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The zone.")] id: ID,
    ) -> Result<DeletePayload> {
        let zone = id_of(&id, NodeKind::ShippingZone)?;
        let result = shipping::delete_zone(&ctx.request()?.db, zone).await;
        respond(result, |_| DeletePayload {
            deleted_id: Some(id),
            ..Default::default()
        })
    }

    /// Adds a shipping method to a zone (staff; at most 20 per zone).
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn shipping_method_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The zone.")] zone_id: ID,
        #[graphql(desc = "Its settings.")] input: ShippingMethodInput,
    ) -> Result<ShippingMethodPayload> {
        let zone = id_of(&zone_id, NodeKind::ShippingZone)?;
        let request = input.request(ctx.shop()?.currency)?;
        let result = shipping::create_method(&ctx.request()?.db, zone, request).await;
        respond(result, |method| ShippingMethodPayload {
            shipping_method: Some(ShippingMethodNode(method)),
            ..Default::default()
        })
    }

    /// Replaces a shipping method's settings (staff). Carts are priced by them from now on;
    /// orders keep what they were charged.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn shipping_method_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The method.")] id: ID,
        #[graphql(desc = "Its new settings.")] input: ShippingMethodInput,
    ) -> Result<ShippingMethodPayload> {
        let id = id_of(&id, NodeKind::ShippingMethod)?;
        let request = input.request(ctx.shop()?.currency)?;
        let result = shipping::update_method(&ctx.request()?.db, id, request).await;
        respond(result, |method| ShippingMethodPayload {
            shipping_method: Some(ShippingMethodNode(method)),
            ..Default::default()
        })
    }

    /// Deletes a shipping method (staff); carts that chose it are charged the cheapest option
    /// left.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn shipping_method_delete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The method.")] id: ID,
    ) -> Result<DeletePayload> {
        let method = id_of(&id, NodeKind::ShippingMethod)?;
        let result = shipping::delete_method(&ctx.request()?.db, method).await;
        respond(result, |_| DeletePayload {
            deleted_id: Some(id),
            ..Default::default()
        })
    }

    /// Adds a tax rate for a country or one of its regions (staff; at most 5 per country as a
    /// whole and 5 per region, 500 in all). Every rate matching an address applies.
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn tax_rate_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The rate and where it applies.")] input: TaxRateInput,
    ) -> Result<TaxRatePayload> {
        let request = TaxRateRequest {
            name: input.name,
            country_code: input.country_code,
            region_code: input.region_code,
            rate_percent: input.rate_percent.0,
        };
        let result = shipping::create_tax_rate(&ctx.request()?.db, request).await;
        respond(result, |rate| TaxRatePayload {
            tax_rate: Some(TaxRateNode(rate)),
            ..Default::default()
        })
    }

    /// Deletes a tax rate (staff).
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn tax_rate_delete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The tax rate.")] id: ID,
    ) -> Result<DeletePayload> {
        let rate = id_of(&id, NodeKind::TaxRate)?;
        let result = shipping::delete_tax_rate(&ctx.request()?.db, rate).await;
        respond(result, |_| DeletePayload {
            deleted_id: Some(id),
            ..Default::default()
        })
    }
}
