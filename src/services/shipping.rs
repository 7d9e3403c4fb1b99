//! Shipping zones, their methods and tax rates: staff set them up (each change in the audit
//! log), front ends read them through `shop`, and cart pricing looks them up per destination.

use chrono::Utc;
use serde_json::json;

use crate::db::models::shipping::{
    self, MethodSettings, ShippingMethod, ShippingZone, TaxRate, ZoneRegion,
};
use crate::db::{Db, DbConnection, write_transaction};
use crate::domain::accounts::parse_text;
use crate::domain::bounds::room_for;
use crate::domain::delivery::{
    MAX_NAME_CHARS, MAX_RATES_PER_PLACE, MAX_SHIPPING_ZONES, MAX_TAX_RATES, MAX_ZONE_METHODS,
    MAX_ZONE_REGIONS, parse_country_code, parse_region_code,
};
use crate::domain::pricing::parse_percent_bp;
use crate::domain::rejection::{Rejection, RejectionCode};
use crate::error::{AppError, AppResult, is_unique_violation};
use crate::services::audit::{self, Subject};

/// A zone with its countries and regions and its methods.
#[derive(Debug, Clone)]
pub struct ZoneSetup {
    /// The zone.
    pub zone: ShippingZone,
    /// Its countries and regions, as listed.
    pub regions: Vec<ZoneRegion>,
    /// Its methods, oldest first.
    pub methods: Vec<ShippingMethod>,
}

/// A zone as staff send it: its name and the countries and regions it serves.
#[derive(Debug, Clone)]
pub struct ZoneRequest {
    /// Its name.
    pub name: String,
    /// (country code, region code; empty for the whole country) pairs.
    pub regions: Vec<(String, String)>,
}

/// A method as staff send it, amounts already read in minor units.
#[derive(Debug, Clone)]
pub struct MethodRequest {
    /// What the customer sees.
    pub name: String,
    /// Its charge.
    pub price: i64,
    /// Free from this discounted subtotal.
    pub free_from: Option<i64>,
    /// Serves carts from this discounted subtotal.
    pub min_subtotal: i64,
    /// Serves carts below this discounted subtotal.
    pub max_subtotal: Option<i64>,
    /// Serves carts from this total weight (grams).
    pub min_weight_grams: i64,
    /// Serves carts below this total weight (grams).
    pub max_weight_grams: Option<i64>,
}

/// A tax rate as staff send it.
#[derive(Debug, Clone)]
pub struct TaxRateRequest {
    /// What the customer sees.
    pub name: String,
    /// The country.
    pub country_code: String,
    /// The region; empty for the whole country.
    pub region_code: String,
    /// In percent, up to two decimals.
    pub rate_percent: String,
}

fn invalid(field: &[&str], message: impl Into<String>) -> Rejection {
    Rejection::new(field, RejectionCode::Invalid, message)
}

fn not_found(field: &str, what: &str) -> AppError {
    AppError::rejected(Rejection::new(
        &[field],
        RejectionCode::NotFound,
        format!("no such {what}"),
    ))
}

fn name(raw: &str) -> Result<String, Rejection> {
    parse_text(raw, "name", MAX_NAME_CHARS, true).map_err(|r| r.under("input"))
}

/// The checked regions of a zone request; every problem at once.
fn checked_zone(request: &ZoneRequest) -> AppResult<(String, Vec<(String, String)>)> {
    let mut problems = Vec::new();
    let name = name(&request.name).unwrap_or_else(|problem| {
        problems.push(problem);
        String::new()
    });
    if request.regions.is_empty() || request.regions.len() > MAX_ZONE_REGIONS {
        problems.push(invalid(
            &["input", "regions"],
            format!("a zone serves 1 to {MAX_ZONE_REGIONS} countries or regions"),
        ));
    }
    let mut regions: Vec<(String, String)> = Vec::new();
    for (index, (country, region)) in request.regions.iter().enumerate().take(MAX_ZONE_REGIONS) {
        let index = index.to_string();
        let country = parse_country_code(country, &["input", "regions", &index, "countryCode"]);
        let region = parse_region_code(region, &["input", "regions", &index, "regionCode"]);
        match (country, region) {
            (Ok(country), Ok(region)) => {
                let pair = (country, region);
                if regions.contains(&pair) {
                    problems.push(invalid(
                        &["input", "regions", &index],
                        "this country or region is listed twice",
                    ));
                } else {
                    regions.push(pair);
                }
            }
            (country, region) => problems.extend(country.err().into_iter().chain(region.err())),
        }
    }
    if problems.is_empty() {
        Ok((name, regions))
    } else {
        Err(AppError::Rejected(problems))
    }
}

/// Refuses regions another zone serves already.
fn refuse_taken(
    conn: &mut DbConnection,
    regions: &[(String, String)],
    zone: Option<i64>,
) -> AppResult<()> {
    let countries: Vec<String> = regions.iter().map(|(country, _)| country.clone()).collect();
    let taken = shipping::regions_taken(conn, &countries, zone)?;
    let problems: Vec<Rejection> = regions
        .iter()
        .enumerate()
        .filter(|(_, (country, region))| {
            taken
                .iter()
                .any(|t| &t.country_code == country && &t.region_code == region)
        })
        .map(|(index, (country, region))| {
            Rejection::new(
                &["input", "regions", &index.to_string()],
                RejectionCode::Taken,
                format!(
                    "another zone serves {country}{}{region} already",
                    if region.is_empty() { "" } else { "-" }
                ),
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Rejected(problems))
    }
}

/// A unique violation on the regions (another zone took one meanwhile) as a user error.
fn taken_meanwhile(error: AppError) -> AppError {
    if is_unique_violation(&error) {
        AppError::rejected(Rejection::new(
            &["input", "regions"],
            RejectionCode::Taken,
            "another zone took one of these countries or regions meanwhile; try again",
        ))
    } else {
        error
    }
}

fn setup(conn: &mut DbConnection, zones: Vec<ShippingZone>) -> AppResult<Vec<ZoneSetup>> {
    let ids: Vec<i64> = zones.iter().map(|zone| zone.id).collect();
    let mut regions = shipping::regions_of(conn, &ids)?;
    let mut methods = shipping::methods_of(conn, &ids)?;
    Ok(zones
        .into_iter()
        .map(|zone| {
            let (own_regions, rest): (Vec<_>, Vec<_>) =
                regions.drain(..).partition(|r| r.zone_id == zone.id);
            regions = rest;
            let (own_methods, rest): (Vec<_>, Vec<_>) =
                methods.drain(..).partition(|m| m.zone_id == zone.id);
            methods = rest;
            ZoneSetup {
                zone,
                regions: own_regions.into_iter().take(MAX_ZONE_REGIONS).collect(),
                methods: own_methods.into_iter().take(MAX_ZONE_METHODS).collect(),
            }
        })
        .collect())
}

/// Every zone with its regions and methods, oldest first: three statements.
pub async fn zones(db: &Db) -> AppResult<Vec<ZoneSetup>> {
    db.run(|conn| {
        let zones = shipping::zones(conn)?;
        setup(conn, zones)
    })
    .await
}

/// Every tax rate.
pub async fn tax_rates(db: &Db) -> AppResult<Vec<TaxRate>> {
    db.run(|conn| Ok(shipping::tax_rates(conn)?)).await
}

fn zone_details(name: &str, regions: &[(String, String)]) -> serde_json::Value {
    let regions: Vec<String> = regions
        .iter()
        .map(|(country, region)| {
            if region.is_empty() {
                country.clone()
            } else {
                format!("{country}-{region}")
            }
        })
        .collect();
    json!({ "name": name, "regions": regions })
}

/// Creates a zone serving the given countries and regions (none served by another zone).
pub async fn create_zone(db: &Db, request: ZoneRequest) -> AppResult<ZoneSetup> {
    let (name, regions) = checked_zone(&request)?;
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let count = shipping::zone_count(conn)?;
            room_for(count, 1, MAX_SHIPPING_ZONES, &["input"], "shipping zones")
                .map_err(AppError::rejected)?;
            refuse_taken(conn, &regions, None)?;
            let zone = shipping::insert_zone(conn, &name, &regions, Utc::now().naive_utc())?;
            let details = json!({ "after": zone_details(&name, &regions) });
            audit::record(
                conn,
                actor,
                "shipping_zone.create",
                Subject::ShippingZone(zone.id),
                details,
            )?;
            Ok(setup(conn, vec![zone])?.remove(0))
        })
    })
    .await
    .map_err(taken_meanwhile)
}

/// Renames a zone and replaces its countries and regions.
pub async fn update_zone(db: &Db, id: i64, request: ZoneRequest) -> AppResult<ZoneSetup> {
    let (name, regions) = checked_zone(&request)?;
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let before = shipping::zones_by_ids(conn, &[id])?;
            let Some(before) = before.into_iter().next() else {
                return Err(not_found("id", "shipping zone"));
            };
            let old_regions: Vec<(String, String)> = shipping::regions_of(conn, &[id])?
                .into_iter()
                .map(|r| (r.country_code, r.region_code))
                .collect();
            refuse_taken(conn, &regions, Some(id))?;
            let zone = shipping::replace_zone(conn, id, &name, &regions, Utc::now().naive_utc())?
                .ok_or_else(|| not_found("id", "shipping zone"))?;
            let details = json!({
                "before": zone_details(&before.name, &old_regions),
                "after": zone_details(&name, &regions),
            });
            audit::record(
                conn,
                actor,
                "shipping_zone.update",
                Subject::ShippingZone(id),
                details,
            )?;
            Ok(setup(conn, vec![zone])?.remove(0))
        })
    })
    .await
    .map_err(taken_meanwhile)
}

/// Deletes a zone and its methods; carts that chose one of them fall back to the cheapest
/// option left.
pub async fn delete_zone(db: &Db, id: i64) -> AppResult<i64> {
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let before = shipping::zones_by_ids(conn, &[id])?;
            let Some(before) = before.into_iter().next() else {
                return Err(not_found("id", "shipping zone"));
            };
            shipping::delete_zone(conn, id)?;
            let details = json!({ "before": { "name": before.name } });
            audit::record(
                conn,
                actor,
                "shipping_zone.delete",
                Subject::ShippingZone(id),
                details,
            )?;
            Ok(id)
        })
    })
    .await
}

/// The checked settings of a method request; every problem at once.
fn checked_method(request: &MethodRequest) -> AppResult<MethodSettings> {
    let mut problems = Vec::new();
    let name = name(&request.name).unwrap_or_else(|problem| {
        problems.push(problem);
        String::new()
    });
    for (field, amount) in [
        ("price", Some(request.price)),
        ("freeFrom", request.free_from),
    ] {
        if amount.is_some_and(|amount| amount < 0) {
            problems.push(invalid(&["input", field], "an amount cannot be negative"));
        }
    }
    band_problems(
        &mut problems,
        ("minSubtotal", request.min_subtotal),
        ("maxSubtotal", request.max_subtotal),
        ("an amount", "subtotal"),
    );
    band_problems(
        &mut problems,
        ("minWeightGrams", request.min_weight_grams),
        ("maxWeightGrams", request.max_weight_grams),
        ("a weight", "weight"),
    );
    if problems.is_empty() {
        Ok(MethodSettings {
            name,
            price: request.price,
            free_from: request.free_from,
            min_subtotal: request.min_subtotal,
            max_subtotal: request.max_subtotal,
            min_weight_grams: request.min_weight_grams,
            max_weight_grams: request.max_weight_grams,
        })
    } else {
        Err(AppError::Rejected(problems))
    }
}

/// Adds the problems of a band `min ≤ x < max` (`what`: the kind of value and what it measures):
/// a negative end, or a top not above its bottom.
fn band_problems(
    problems: &mut Vec<Rejection>,
    (min_field, min): (&str, i64),
    (max_field, max): (&str, Option<i64>),
    (kind, measure): (&str, &str),
) {
    for (field, end) in [(min_field, Some(min)), (max_field, max)] {
        if end.is_some_and(|end| end < 0) {
            problems.push(invalid(
                &["input", field],
                format!("{kind} cannot be negative"),
            ));
        }
    }
    if max.is_some_and(|max| max <= min) {
        problems.push(invalid(
            &["input", max_field],
            format!("the largest {measure} served is above the smallest"),
        ));
    }
}

fn method_details(settings: &MethodSettings) -> serde_json::Value {
    json!({
        "name": settings.name,
        "price": settings.price,
        "freeFrom": settings.free_from,
        "minSubtotal": settings.min_subtotal,
        "maxSubtotal": settings.max_subtotal,
        "minWeightGrams": settings.min_weight_grams,
        "maxWeightGrams": settings.max_weight_grams,
    })
}

fn settings_of(method: &ShippingMethod) -> MethodSettings {
    MethodSettings {
        name: method.name.clone(),
        price: method.price,
        free_from: method.free_from,
        min_subtotal: method.min_subtotal,
        max_subtotal: method.max_subtotal,
        min_weight_grams: method.min_weight_grams,
        max_weight_grams: method.max_weight_grams,
    }
}

/// Adds a method to a zone (at most [`MAX_ZONE_METHODS`]; the zone's row is locked first, so
/// concurrent additions take turns).
pub async fn create_method(
    db: &Db,
    zone_id: i64,
    request: MethodRequest,
) -> AppResult<ShippingMethod> {
    let settings = checked_method(&request)?;
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let now = Utc::now().naive_utc();
            if !shipping::touch_zone(conn, zone_id, now)? {
                return Err(not_found("zoneId", "shipping zone"));
            }
            let count = shipping::method_count(conn, zone_id)?;
            room_for(count, 1, MAX_ZONE_METHODS, &["zoneId"], "methods per zone")
                .map_err(AppError::rejected)?;
            let method = shipping::insert_method(conn, zone_id, &settings, now)?;
            let details = json!({ "zone": zone_id, "after": method_details(&settings) });
            audit::record(
                conn,
                actor,
                "shipping_method.create",
                Subject::ShippingMethod(method.id),
                details,
            )?;
            Ok(method)
        })
    })
    .await
}

/// Replaces a method's settings.
pub async fn update_method(db: &Db, id: i64, request: MethodRequest) -> AppResult<ShippingMethod> {
    let settings = checked_method(&request)?;
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let before = shipping::method_by_id(conn, id)?
                .ok_or_else(|| not_found("id", "shipping method"))?;
            let method = shipping::update_method(conn, id, &settings, Utc::now().naive_utc())?
                .ok_or_else(|| not_found("id", "shipping method"))?;
            let details = json!({
                "before": method_details(&settings_of(&before)),
                "after": method_details(&settings),
            });
            audit::record(
                conn,
                actor,
                "shipping_method.update",
                Subject::ShippingMethod(id),
                details,
            )?;
            Ok(method)
        })
    })
    .await
}

/// Deletes a method; carts that chose it fall back to the cheapest option left.
pub async fn delete_method(db: &Db, id: i64) -> AppResult<i64> {
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let before = shipping::method_by_id(conn, id)?
                .ok_or_else(|| not_found("id", "shipping method"))?;
            shipping::delete_method(conn, id)?;
            let details =
                json!({ "zone": before.zone_id, "before": method_details(&settings_of(&before)) });
            audit::record(
                conn,
                actor,
                "shipping_method.delete",
                Subject::ShippingMethod(id),
                details,
            )?;
            Ok(id)
        })
    })
    .await
}

/// Adds a tax rate (at most [`MAX_RATES_PER_PLACE`] for one country as a whole or one region,
/// [`MAX_TAX_RATES`] in all; names unique per place).
pub async fn create_tax_rate(db: &Db, request: TaxRateRequest) -> AppResult<TaxRate> {
    let mut problems = Vec::new();
    let mut check = |result: Result<String, Rejection>| {
        result.unwrap_or_else(|problem| {
            problems.push(problem);
            String::new()
        })
    };
    let name = check(name(&request.name));
    let country = check(parse_country_code(
        &request.country_code,
        &["input", "countryCode"],
    ));
    let region = check(parse_region_code(
        &request.region_code,
        &["input", "regionCode"],
    ));
    let rate_bp = parse_percent_bp(&request.rate_percent)
        .map_err(|message| problems.push(invalid(&["input", "ratePercent"], message)))
        .unwrap_or(0);
    if !problems.is_empty() {
        return Err(AppError::Rejected(problems));
    }
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let all = shipping::tax_rates(conn)?;
            room_for(all.len() as i64, 1, MAX_TAX_RATES, &["input"], "tax rates")
                .map_err(AppError::rejected)?;
            let here = all
                .iter()
                .filter(|rate| rate.country_code == country && rate.region_code == region);
            if here.clone().any(|rate| rate.name == name) {
                return Err(AppError::rejected(Rejection::new(
                    &["input", "name"],
                    RejectionCode::Taken,
                    "this place has a tax rate of this name already",
                )));
            }
            room_for(here.count() as i64, 1, MAX_RATES_PER_PLACE, &["input", "regionCode"], "tax rates per place")
                .map_err(AppError::rejected)?;
            let rate_bp = i32::try_from(rate_bp).unwrap_or(i32::MAX);
            let rate = shipping::insert_tax_rate(conn, &name, &country, &region, rate_bp, Utc::now().naive_utc())?;
            let details = json!({ "after": { "name": name, "country": country, "region": region, "rateBp": rate_bp } });
            audit::record(conn, actor, "tax_rate.create", Subject::TaxRate(rate.id), details)?;
            Ok(rate)
        })
    })
    .await
    .map_err(|error| {
        if is_unique_violation(&error) {
            AppError::rejected(Rejection::new(
                &["input", "name"],
                RejectionCode::Taken,
                "this place has a tax rate of this name already",
            ))
        } else {
            error
        }
    })
}

/// Deletes a tax rate.
pub async fn delete_tax_rate(db: &Db, id: i64) -> AppResult<i64> {
    let actor = db.actor();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let rate = shipping::delete_tax_rate(conn, id)?.ok_or_else(|| not_found("id", "tax rate"))?;
            let details = json!({ "before": { "name": rate.name, "country": rate.country_code, "region": rate.region_code, "rateBp": rate.rate_bp } });
            audit::record(conn, actor, "tax_rate.delete", Subject::TaxRate(id), details)?;
            Ok(id)
        })
    })
    .await
}
