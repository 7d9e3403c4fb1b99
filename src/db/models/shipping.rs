//! Shipping zones, their countries and regions and methods, and tax rates: what staff set up,
//! and the look-ups that price a cart for its destination.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{shipping_methods, shipping_zone_regions, shipping_zones, tax_rates};
use crate::domain::delivery::{Destination, MethodRule, TaxRateRule, ZoneEntry};
use crate::on_backend;

/// A shipping zone row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = shipping_zones)]
pub struct ShippingZone {
    pub id: i64,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A country (region empty) or region of a zone.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = shipping_zone_regions)]
pub struct ZoneRegion {
    pub zone_id: i64,
    pub country_code: String,
    pub region_code: String,
}

/// A shipping method row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = shipping_methods)]
pub struct ShippingMethod {
    pub id: i64,
    pub zone_id: i64,
    pub name: String,
    pub price: i64,
    pub free_from: Option<i64>,
    pub min_subtotal: i64,
    pub max_subtotal: Option<i64>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub min_weight_grams: i64,
    pub max_weight_grams: Option<i64>,
}

impl ShippingMethod {
    /// Its rules, as pricing reads them.
    pub fn rule(&self) -> MethodRule {
        MethodRule {
            id: self.id,
            name: self.name.clone(),
            price: self.price,
            free_from: self.free_from,
            min_subtotal: self.min_subtotal,
            max_subtotal: self.max_subtotal,
            min_weight: self.min_weight_grams,
            max_weight: self.max_weight_grams,
        }
    }
}

/// A shipping method's settings, to insert or to replace.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = shipping_methods, treat_none_as_null = true)]
pub struct MethodSettings {
    pub name: String,
    pub price: i64,
    pub free_from: Option<i64>,
    pub min_subtotal: i64,
    pub max_subtotal: Option<i64>,
    pub min_weight_grams: i64,
    pub max_weight_grams: Option<i64>,
}

/// A tax rate row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tax_rates)]
pub struct TaxRate {
    pub id: i64,
    pub name: String,
    pub country_code: String,
    pub region_code: String,
    pub rate_bp: i32,
    pub created_at: NaiveDateTime,
}

/// The methods of the zone serving a destination (`None` when no zone serves it, or no
/// destination is known). No statement without a destination, two with one.
pub fn delivery_for(
    conn: &mut DbConnection,
    destination: Option<&Destination>,
) -> QueryResult<Option<Vec<MethodRule>>> {
    let Some(destination) = destination else {
        return Ok(None);
    };
    let entries: Vec<ZoneEntry> = shipping_zone_regions::table
        .filter(shipping_zone_regions::country_code.eq(&destination.country_code))
        .select((
            shipping_zone_regions::zone_id,
            shipping_zone_regions::region_code,
        ))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(zone_id, region_code)| ZoneEntry {
            zone_id,
            region_code,
        })
        .collect();
    let Some(zone) = crate::domain::delivery::serving_zone(&entries, destination) else {
        return Ok(None);
    };
    let methods = methods_of(conn, &[zone])?;
    Ok(Some(methods.iter().map(ShippingMethod::rule).collect()))
}

/// Whether the shop has any shipping zone.
pub fn any_zone(conn: &mut DbConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        shipping_zones::table.select(shipping_zones::id),
    ))
    .get_result(conn)
}

/// The tax rates of a country (its regions' included).
pub fn tax_rates_of_country(
    conn: &mut DbConnection,
    country_code: &str,
) -> QueryResult<Vec<TaxRateRule>> {
    Ok(tax_rates::table
        .filter(tax_rates::country_code.eq(country_code))
        .order_by(tax_rates::id)
        .select(TaxRate::as_select())
        .load(conn)?
        .into_iter()
        .map(|rate| TaxRateRule {
            name: rate.name,
            region_code: rate.region_code,
            rate_bp: u32::try_from(rate.rate_bp).unwrap_or(0),
        })
        .collect())
}

/// Every zone, oldest first.
pub fn zones(conn: &mut DbConnection) -> QueryResult<Vec<ShippingZone>> {
    shipping_zones::table
        .order_by(shipping_zones::id)
        .select(ShippingZone::as_select())
        .load(conn)
}

/// The zones with these ids.
pub fn zones_by_ids(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<ShippingZone>> {
    shipping_zones::table
        .filter(shipping_zones::id.eq_any(ids))
        .select(ShippingZone::as_select())
        .load(conn)
}

/// The countries and regions of these zones, in the order they were listed.
pub fn regions_of(conn: &mut DbConnection, zone_ids: &[i64]) -> QueryResult<Vec<ZoneRegion>> {
    shipping_zone_regions::table
        .filter(shipping_zone_regions::zone_id.eq_any(zone_ids))
        .order_by((shipping_zone_regions::zone_id, shipping_zone_regions::id))
        .select(ZoneRegion::as_select())
        .load(conn)
}

/// The methods of these zones, oldest first.
pub fn methods_of(conn: &mut DbConnection, zone_ids: &[i64]) -> QueryResult<Vec<ShippingMethod>> {
    shipping_methods::table
        .filter(shipping_methods::zone_id.eq_any(zone_ids))
        .order_by((shipping_methods::zone_id, shipping_methods::id))
        .select(ShippingMethod::as_select())
        .load(conn)
}

/// The method with this id.
pub fn method_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<ShippingMethod>> {
    shipping_methods::table
        .find(id)
        .select(ShippingMethod::as_select())
        .first(conn)
        .optional()
}

/// How many zones the shop has.
pub fn zone_count(conn: &mut DbConnection) -> QueryResult<i64> {
    shipping_zones::table.count().get_result(conn)
}

/// How many methods a zone has.
pub fn method_count(conn: &mut DbConnection, zone_id: i64) -> QueryResult<i64> {
    shipping_methods::table
        .filter(shipping_methods::zone_id.eq(zone_id))
        .count()
        .get_result(conn)
}

/// Which of these (country, region) pairs another zone than `except` lists already.
pub fn regions_taken(
    conn: &mut DbConnection,
    countries: &[String],
    except: Option<i64>,
) -> QueryResult<Vec<ZoneRegion>> {
    let mut query = shipping_zone_regions::table
        .filter(shipping_zone_regions::country_code.eq_any(countries))
        .select(ZoneRegion::as_select())
        .into_boxed();
    if let Some(zone) = except {
        query = query.filter(shipping_zone_regions::zone_id.ne(zone));
    }
    query.load(conn)
}

/// Inserts a zone with its countries and regions.
pub fn insert_zone(
    conn: &mut DbConnection,
    name: &str,
    regions: &[(String, String)],
    now: NaiveDateTime,
) -> QueryResult<ShippingZone> {
    let id: i64 = diesel::insert_into(shipping_zones::table)
        .values((
            shipping_zones::name.eq(name),
            shipping_zones::created_at.eq(now),
            shipping_zones::updated_at.eq(now),
        ))
        .returning(shipping_zones::id)
        .get_result(conn)?;
    insert_regions(conn, id, regions)?;
    shipping_zones::table
        .find(id)
        .select(ShippingZone::as_select())
        .first(conn)
}

fn insert_regions(
    conn: &mut DbConnection,
    zone_id: i64,
    regions: &[(String, String)],
) -> QueryResult<()> {
    if regions.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = regions
        .iter()
        .map(|(country, region)| {
            (
                shipping_zone_regions::zone_id.eq(zone_id),
                shipping_zone_regions::country_code.eq(country),
                shipping_zone_regions::region_code.eq(region),
            )
        })
        .collect();
    on_backend!(&mut *conn, |c| diesel::insert_into(
        shipping_zone_regions::table
    )
    .values(&rows)
    .execute(c))?;
    Ok(())
}

/// Renames a zone and replaces its countries and regions; the zone as it now is, or `None` when
/// there is no such zone. Its row is updated first, so concurrent changes of one zone take turns.
pub fn replace_zone(
    conn: &mut DbConnection,
    id: i64,
    name: &str,
    regions: &[(String, String)],
    now: NaiveDateTime,
) -> QueryResult<Option<ShippingZone>> {
    let updated = diesel::update(shipping_zones::table.find(id))
        .set((
            shipping_zones::name.eq(name),
            shipping_zones::updated_at.eq(now),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Ok(None);
    }
    diesel::delete(shipping_zone_regions::table.filter(shipping_zone_regions::zone_id.eq(id)))
        .execute(conn)?;
    insert_regions(conn, id, regions)?;
    shipping_zones::table
        .find(id)
        .select(ShippingZone::as_select())
        .first(conn)
        .optional()
}

/// Marks a zone changed (locking its row on PostgreSQL, so that changes of its methods take
/// turns); whether it exists.
pub fn touch_zone(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    Ok(diesel::update(shipping_zones::table.find(id))
        .set(shipping_zones::updated_at.eq(now))
        .execute(conn)?
        == 1)
}

/// Deletes a zone and its methods; whether it existed.
pub fn delete_zone(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(shipping_zones::table.find(id)).execute(conn)? == 1)
}

/// Inserts a method into a zone.
pub fn insert_method(
    conn: &mut DbConnection,
    zone_id: i64,
    settings: &MethodSettings,
    now: NaiveDateTime,
) -> QueryResult<ShippingMethod> {
    let id = diesel::insert_into(shipping_methods::table)
        .values((
            shipping_methods::zone_id.eq(zone_id),
            shipping_methods::name.eq(&settings.name),
            shipping_methods::price.eq(settings.price),
            shipping_methods::free_from.eq(settings.free_from),
            shipping_methods::min_subtotal.eq(settings.min_subtotal),
            shipping_methods::max_subtotal.eq(settings.max_subtotal),
            shipping_methods::min_weight_grams.eq(settings.min_weight_grams),
            shipping_methods::max_weight_grams.eq(settings.max_weight_grams),
            shipping_methods::created_at.eq(now),
            shipping_methods::updated_at.eq(now),
        ))
        .returning(shipping_methods::id)
        .get_result::<i64>(conn)?;
    shipping_methods::table
        .find(id)
        .select(ShippingMethod::as_select())
        .first(conn)
}

/// Replaces a method's settings; the method as it now is, if it exists.
pub fn update_method(
    conn: &mut DbConnection,
    id: i64,
    settings: &MethodSettings,
    now: NaiveDateTime,
) -> QueryResult<Option<ShippingMethod>> {
    diesel::update(shipping_methods::table.find(id))
        .set((settings, shipping_methods::updated_at.eq(now)))
        .execute(conn)?;
    method_by_id(conn, id)
}

/// Deletes a method; whether it existed. Carts that chose it fall back to the cheapest option.
pub fn delete_method(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    Ok(diesel::delete(shipping_methods::table.find(id)).execute(conn)? == 1)
}

/// Every tax rate, by country, region and name.
pub fn tax_rates(conn: &mut DbConnection) -> QueryResult<Vec<TaxRate>> {
    tax_rates::table
        .order_by((
            tax_rates::country_code,
            tax_rates::region_code,
            tax_rates::name,
        ))
        .select(TaxRate::as_select())
        .load(conn)
}

/// How many tax rates the shop has.
pub fn tax_rate_count(conn: &mut DbConnection) -> QueryResult<i64> {
    tax_rates::table.count().get_result(conn)
}

/// Inserts a tax rate.
pub fn insert_tax_rate(
    conn: &mut DbConnection,
    name: &str,
    country_code: &str,
    region_code: &str,
    rate_bp: i32,
    now: NaiveDateTime,
) -> QueryResult<TaxRate> {
    let id = diesel::insert_into(tax_rates::table)
        .values((
            tax_rates::name.eq(name),
            tax_rates::country_code.eq(country_code),
            tax_rates::region_code.eq(region_code),
            tax_rates::rate_bp.eq(rate_bp),
            tax_rates::created_at.eq(now),
        ))
        .returning(tax_rates::id)
        .get_result::<i64>(conn)?;
    tax_rates::table
        .find(id)
        .select(TaxRate::as_select())
        .first(conn)
}

/// Deletes a tax rate; the rate it was, if it existed.
pub fn delete_tax_rate(conn: &mut DbConnection, id: i64) -> QueryResult<Option<TaxRate>> {
    let rate = tax_rates::table
        .find(id)
        .select(TaxRate::as_select())
        .first(conn)
        .optional()?;
    if rate.is_some() {
        diesel::delete(tax_rates::table.find(id)).execute(conn)?;
    }
    Ok(rate)
}
