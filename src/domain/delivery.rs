//! Delivery: which shipping zone serves an address, which of its methods a cart may choose and
//! what each costs, and which tax rates apply there.

use crate::domain::pricing::{PricingPolicy, TaxRule, default_shipping};
use crate::domain::rejection::{Rejection, RejectionCode};

/// Most shipping zones a shop keeps.
pub const MAX_SHIPPING_ZONES: usize = 100;
/// Most countries and regions in one zone.
pub const MAX_ZONE_REGIONS: usize = 300;
/// Most shipping methods in one zone.
pub const MAX_ZONE_METHODS: usize = 20;
/// Most tax rates a shop keeps.
pub const MAX_TAX_RATES: usize = 500;
/// Most tax rates for one country as a whole, or for one region.
pub const MAX_RATES_PER_PLACE: usize = 5;
/// Most tax lines of one cart or order: its country's rates and its region's.
pub const MAX_TAX_LINES: usize = 2 * MAX_RATES_PER_PLACE;
/// Longest zone, method or tax rate name.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest region code (ISO 3166-2 subdivisions have at most three characters; some shops use
/// their own short codes).
pub const MAX_REGION_CHARS: usize = 10;

/// The handle of the shop's own delivery option, offered where it has no shipping zones.
pub const STANDARD_HANDLE: &str = "standard";

/// Where a cart goes, as zones and tax rates see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: String,
    /// The address's region, upper case; empty when it has none.
    pub region_code: String,
}

impl Destination {
    /// The destination of an address's country and region as written.
    pub fn new(country_code: &str, region: &str) -> Self {
        Self {
            country_code: country_code.trim().to_ascii_uppercase(),
            region_code: region.trim().to_ascii_uppercase(),
        }
    }
}

/// A zone's entry for a country (region empty) or one of its regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneEntry {
    /// The zone.
    pub zone_id: i64,
    /// Upper case; empty for the whole country.
    pub region_code: String,
}

/// The zone serving `destination` among the entries for its country: the one listing its region,
/// else the one listing the whole country.
pub fn serving_zone(entries: &[ZoneEntry], destination: &Destination) -> Option<i64> {
    let listed = |region: &str| {
        entries
            .iter()
            .find(|entry| entry.region_code == region)
            .map(|entry| entry.zone_id)
    };
    (!destination.region_code.is_empty())
        .then(|| listed(&destination.region_code))
        .flatten()
        .or_else(|| listed(""))
}

/// A shipping method's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodRule {
    /// Its id.
    pub id: i64,
    /// What the customer sees.
    pub name: String,
    /// Its charge, minor units.
    pub price: i64,
    /// The discounted subtotal from which it is free, if any.
    pub free_from: Option<i64>,
    /// The smallest discounted subtotal it serves.
    pub min_subtotal: i64,
    /// The discounted subtotal from which it no longer serves (exclusive), if any.
    pub max_subtotal: Option<i64>,
    /// The smallest total weight it serves, grams.
    pub min_weight: i64,
    /// The total weight from which it no longer serves (exclusive, grams), if any.
    pub max_weight: Option<i64>,
}

impl MethodRule {
    /// Whether it serves a cart of this discounted subtotal and total weight (grams).
    pub fn serves(&self, discounted: i64, weight: i64) -> bool {
        discounted >= self.min_subtotal
            && self.max_subtotal.is_none_or(|max| discounted < max)
            && weight >= self.min_weight
            && self.max_weight.is_none_or(|max| weight < max)
    }

    /// What it charges a cart of this discounted subtotal.
    pub fn charge(&self, discounted: i64) -> i64 {
        if self.free_from.is_some_and(|from| discounted >= from) {
            0
        } else {
            self.price
        }
    }
}

/// A way a cart can be delivered, and what it costs that cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOption {
    /// What a client sends to choose it.
    pub handle: String,
    /// The shipping method, or `None` for the shop's own option.
    pub method_id: Option<i64>,
    /// What the customer sees.
    pub title: String,
    /// Its charge for this cart, minor units.
    pub price: i64,
}

/// The total weight of a cart's lines in grams: each line's weight per unit times its quantity,
/// saturating (no band reaches that far).
pub fn cart_weight(lines: impl IntoIterator<Item = (i64, u32)>) -> i64 {
    lines.into_iter().fold(0i64, |total, (grams, quantity)| {
        total.saturating_add(grams.saturating_mul(i64::from(quantity)))
    })
}

/// The handle of a shipping method's option.
pub fn method_handle(method_id: i64) -> String {
    format!("method-{method_id}")
}

/// Where a cart stands with delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The options, cheapest first (never empty), and the one the cart uses: the one it chose
    /// when still offered, else the cheapest.
    Options {
        /// Every option.
        offered: Vec<DeliveryOption>,
        /// Index into `offered`.
        chosen: usize,
    },
    /// The shop does not deliver there (or has no method for a cart of this subtotal).
    Unavailable,
}

impl Delivery {
    /// The option the cart uses, if any.
    pub fn chosen(&self) -> Option<&DeliveryOption> {
        match self {
            Self::Options { offered, chosen } => offered.get(*chosen),
            Self::Unavailable => None,
        }
    }

    /// What the cart pays for shipping (nothing when it cannot be delivered).
    pub fn charge(&self) -> i64 {
        self.chosen().map_or(0, |option| option.price)
    }

    /// Every option offered.
    pub fn offered(&self) -> &[DeliveryOption] {
        match self {
            Self::Options { offered, .. } => offered,
            Self::Unavailable => &[],
        }
    }

    /// The refusal to check out a cart that cannot be delivered.
    pub fn refusal(&self, destination: Option<&Destination>) -> Option<Rejection> {
        match (self, destination) {
            (Self::Options { .. }, _) => None,
            (Self::Unavailable, Some(destination)) => Some(Rejection::new(
                &["shippingAddress", "countryCode"],
                RejectionCode::Unavailable,
                format!(
                    "the shop does not deliver this cart to {}",
                    destination.country_code
                ),
            )),
            (Self::Unavailable, None) => Some(Rejection::new(
                &["shippingAddress"],
                RejectionCode::Invalid,
                "the cart needs a shipping address",
            )),
        }
    }
}

/// Where a shop's zones put a cart: `zone_methods` are the serving zone's methods (`None` when
/// no zone serves the destination, or no destination is known), `shop_has_zones` whether the
/// shop has any zone, `weight` the cart's total weight in grams ([`cart_weight`]). Without zones
/// the shop's own option serves everywhere; with zones, a cart without an address is quoted its
/// destination's cheapest option only once it has one.
pub fn delivery(
    shop_has_zones: bool,
    zone_methods: Option<&[MethodRule]>,
    discounted: i64,
    weight: i64,
    chosen_method: Option<i64>,
    policy: &PricingPolicy,
) -> Delivery {
    let offered: Vec<DeliveryOption> = if shop_has_zones {
        let mut offered: Vec<DeliveryOption> = zone_methods
            .unwrap_or_default()
            .iter()
            .filter(|method| method.serves(discounted, weight))
            .map(|method| DeliveryOption {
                handle: method_handle(method.id),
                method_id: Some(method.id),
                title: method.name.clone(),
                price: method.charge(discounted),
            })
            .collect();
        offered.sort_by_key(|option| (option.price, option.method_id));
        offered.truncate(MAX_ZONE_METHODS);
        offered
    } else {
        vec![DeliveryOption {
            handle: STANDARD_HANDLE.to_owned(),
            method_id: None,
            title: "Standard shipping".to_owned(),
            price: default_shipping(discounted, policy),
        }]
    };
    if offered.is_empty() {
        return Delivery::Unavailable;
    }
    let chosen = offered
        .iter()
        .position(|option| chosen_method.is_some() && option.method_id == chosen_method)
        .unwrap_or(0);
    Delivery::Options { offered, chosen }
}

/// A shop's tax rate for a country or one of its regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRateRule {
    /// What the customer sees.
    pub name: String,
    /// Upper case; empty for the whole country.
    pub region_code: String,
    /// Basis points.
    pub rate_bp: u32,
}

/// The tax rules for a destination from its country's rates: the country-wide ones and its
/// region's, which add up (at most [`MAX_TAX_LINES`]); where none matches (or no destination is
/// known), the shop's default rate.
pub fn tax_rules(
    country_rates: &[TaxRateRule],
    destination: Option<&Destination>,
    policy: &PricingPolicy,
) -> Vec<TaxRule> {
    let matching: Vec<TaxRule> = destination
        .map(|destination| {
            country_rates
                .iter()
                .filter(|rate| {
                    rate.region_code.is_empty() || rate.region_code == destination.region_code
                })
                .map(|rate| TaxRule {
                    name: rate.name.clone(),
                    rate_bp: rate.rate_bp,
                })
                .take(MAX_TAX_LINES)
                .collect()
        })
        .unwrap_or_default();
    if matching.is_empty() {
        vec![TaxRule {
            name: "Tax".to_owned(),
            rate_bp: policy.tax_rate_bp,
        }]
    } else {
        matching
    }
}

/// Checks a region code as staff write it: upper-cased, letters, digits and `-`, at most
/// [`MAX_REGION_CHARS`]; empty for the whole country.
pub fn parse_region_code(raw: &str, field: &[&str]) -> Result<String, Rejection> {
    let code = raw.trim().to_ascii_uppercase();
    let valid = code.chars().count() <= MAX_REGION_CHARS
        && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(code)
    } else {
        Err(Rejection::new(
            field,
            RejectionCode::Invalid,
            format!(
                "a region code has at most {MAX_REGION_CHARS} letters, digits or dashes, such as CA"
            ),
        ))
    }
}

/// Checks a country code: two letters, upper-cased.
pub fn parse_country_code(raw: &str, field: &[&str]) -> Result<String, Rejection> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Rejection::new(
            field,
            RejectionCode::Invalid,
            "a country code is a two-letter ISO 3166-1 code such as US or DE",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::{DiscountKind, LineAmount, goods, totals};
    use proptest::prelude::*;

    const POLICY: PricingPolicy = PricingPolicy {
        flat_shipping: 500,
        free_shipping_from: Some(5_000),
        tax_rate_bp: 0,
        prices_include_tax: false,
        tax_shipping: false,
    };

    fn method(id: i64, price: i64, free_from: Option<i64>, band: (i64, Option<i64>)) -> MethodRule {
        MethodRule {
            id,
            name: format!("Method {id}"),
            price,
            free_from,
            min_subtotal: band.0,
            max_subtotal: band.1,
            min_weight: 0,
            max_weight: None,
        }
    }

    fn by_weight(id: i64, price: i64, grams: (i64, Option<i64>)) -> MethodRule {
        MethodRule {
            min_weight: grams.0,
            max_weight: grams.1,
            ..method(id, price, None, (0, None))
        }
    }

    fn entry(zone_id: i64, region: &str) -> ZoneEntry {
        ZoneEntry {
            zone_id,
            region_code: region.into(),
        }
    }

    #[test]
    fn a_region_entry_wins_over_its_country() {
        let entries = [entry(1, ""), entry(2, "CA")];
        assert_eq!(
            serving_zone(&entries, &Destination::new("us", " ca ")),
            Some(2)
        );
        assert_eq!(
            serving_zone(&entries, &Destination::new("US", "NY")),
            Some(1)
        );
        assert_eq!(serving_zone(&entries, &Destination::new("US", "")), Some(1));
        assert_eq!(
            serving_zone(&[entry(2, "CA")], &Destination::new("US", "NY")),
            None
        );
    }

    #[test]
    fn options_are_the_serving_methods_cheapest_first_and_the_choice_sticks() {
        let methods = [
            method(1, 1_500, None, (0, None)),
            method(2, 500, Some(10_000), (0, None)),
            method(3, 300, None, (0, Some(2_000))),
        ];
        let small = delivery(true, Some(&methods), 1_000, 0, None, &POLICY);
        let handles: Vec<&str> = small.offered().iter().map(|o| o.handle.as_str()).collect();
        assert_eq!(handles, ["method-3", "method-2", "method-1"]);
        assert_eq!(small.charge(), 300);
        // Past its band, method 3 is gone; past the threshold, method 2 is free.
        let large = delivery(true, Some(&methods), 10_000, 0, Some(1), &POLICY);
        let prices: Vec<i64> = large.offered().iter().map(|o| o.price).collect();
        assert_eq!(prices, [0, 1_500]);
        assert_eq!(large.chosen().map(|o| o.title.as_str()), Some("Method 1"));
        // A choice no longer offered falls back to the cheapest.
        let fallback = delivery(true, Some(&methods), 10_000, 0, Some(3), &POLICY);
        assert_eq!(fallback.charge(), 0);
    }

    #[test]
    fn weight_bands_pick_the_methods_for_the_carts_weight() {
        // A carrier's parcel rates: under 2 kg, 2 to 10 kg, and freight from 10 kg.
        let methods = [
            by_weight(1, 500, (0, Some(2_000))),
            by_weight(2, 1_200, (2_000, Some(10_000))),
            by_weight(3, 4_000, (10_000, None)),
        ];
        let charge = |grams| delivery(true, Some(&methods), 1_000, grams, None, &POLICY).charge();
        assert_eq!(charge(0), 500);
        assert_eq!(charge(1_999), 500);
        assert_eq!(charge(2_000), 1_200);
        assert_eq!(charge(9_999), 1_200);
        assert_eq!(charge(10_000), 4_000);
        assert_eq!(charge(i64::MAX), 4_000);
        // One band only: a heavier cart cannot be delivered.
        let parcels = &methods[..2];
        let heavy = delivery(true, Some(parcels), 1_000, 10_000, None, &POLICY);
        assert_eq!(heavy, Delivery::Unavailable);
    }

    #[test]
    fn a_carts_weight_is_each_lines_weight_times_its_quantity() {
        assert_eq!(cart_weight([]), 0);
        assert_eq!(cart_weight([(250, 2), (1_000, 3), (0, 7)]), 3_500);
        assert_eq!(cart_weight([(i64::MAX, 2), (1, 1)]), i64::MAX);
    }

    #[test]
    fn without_zones_the_shop_option_serves_and_with_zones_an_unserved_place_gets_none() {
        let standard = delivery(false, None, 1_000, 0, None, &POLICY);
        assert_eq!(standard.charge(), 500);
        assert_eq!(standard.offered()[0].handle, STANDARD_HANDLE);
        assert_eq!(delivery(false, None, 5_000, 0, None, &POLICY).charge(), 0);
        let nowhere = delivery(true, None, 1_000, 0, None, &POLICY);
        assert_eq!(nowhere, Delivery::Unavailable);
        let destination = Destination::new("NZ", "");
        let refusal = nowhere.refusal(Some(&destination)).expect("refused");
        assert!(refusal.message.contains("NZ"), "{}", refusal.message);
    }

    #[test]
    fn a_country_rate_and_its_region_rate_add_up_and_the_default_fills_in() {
        let rates = [
            TaxRateRule {
                name: "GST".into(),
                region_code: String::new(),
                rate_bp: 500,
            },
            TaxRateRule {
                name: "PST".into(),
                region_code: "BC".into(),
                rate_bp: 700,
            },
        ];
        let policy = PricingPolicy {
            tax_rate_bp: 825,
            ..POLICY
        };
        let names = |rules: Vec<TaxRule>| -> Vec<(String, u32)> {
            rules.into_iter().map(|r| (r.name, r.rate_bp)).collect()
        };
        assert_eq!(
            names(tax_rules(
                &rates,
                Some(&Destination::new("CA", "bc")),
                &policy
            )),
            [("GST".to_owned(), 500), ("PST".to_owned(), 700)]
        );
        assert_eq!(
            names(tax_rules(
                &rates,
                Some(&Destination::new("CA", "ON")),
                &policy
            )),
            [("GST".to_owned(), 500)]
        );
        assert_eq!(
            names(tax_rules(&[], Some(&Destination::new("FR", "")), &policy)),
            [("Tax".to_owned(), 825)]
        );
        assert_eq!(
            names(tax_rules(&rates, None, &policy)),
            [("Tax".to_owned(), 825)]
        );
    }

    #[test]
    fn codes_are_checked_and_upper_cased() {
        assert_eq!(parse_country_code(" de ", &["c"]).as_deref(), Ok("DE"));
        assert!(parse_country_code("DEU", &["c"]).is_err());
        assert_eq!(parse_region_code("qc", &["r"]).as_deref(), Ok("QC"));
        assert_eq!(parse_region_code("", &["r"]).as_deref(), Ok(""));
        assert!(parse_region_code("a b", &["r"]).is_err());
        assert!(parse_region_code("ABCDEFGHIJK", &["r"]).is_err());
    }

    fn methods() -> impl Strategy<Value = Vec<MethodRule>> {
        prop::collection::vec(
            (
                0_i64..5_000,
                prop::option::of(0_i64..50_000),
                0_i64..20_000,
                prop::option::of(1_i64..50_000),
                (0_i64..5_000, prop::option::of(1_i64..10_000)),
            ),
            0..6,
        )
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(
                    |(i, (price, free_from, min, span, (grams, grams_span)))| MethodRule {
                        min_weight: grams,
                        max_weight: grams_span.map(|s| grams + s),
                        ..method(i as i64 + 1, price, free_from, (min, span.map(|s| min + s)))
                    },
                )
                .collect()
        })
    }

    proptest! {
        /// Over random carts, zones, tax rules and discounts, with tax inclusive and exclusive:
        /// the order total is the sum of its lines less the discount, plus the chosen shipping
        /// and (unless included) the tax lines, in minor units.
        #[test]
        fn order_totals_are_the_sum_of_lines_taxes_and_shipping(
            lines in prop::collection::vec((0_i64..100_000, 1_u32..=99, 0_i64..2_000), 1..10),
            percent in prop::option::of(1_u8..=100),
            methods in methods(),
            chosen in prop::option::of(1_i64..7),
            rates in prop::collection::vec((0_u32..3_000, any::<bool>()), 0..4),
            region_matches in any::<bool>(),
            include in any::<bool>(),
            tax_shipping in any::<bool>(),
        ) {
            let policy = PricingPolicy { prices_include_tax: include, tax_shipping, ..POLICY };
            let weight = cart_weight(lines.iter().map(|&(_, quantity, grams)| (grams, quantity)));
            let lines: Vec<LineAmount> = lines
                .into_iter()
                .map(|(unit_price, quantity, _)| LineAmount { unit_price, quantity })
                .collect();
            let discount = percent.map(DiscountKind::Percentage);
            let (subtotal, taken) = goods(&lines, discount);
            let offer = delivery(true, Some(&methods), subtotal - taken, weight, chosen, &policy);
            let destination = Destination::new("CA", if region_matches { "BC" } else { "ON" });
            let rates: Vec<TaxRateRule> = rates
                .into_iter()
                .map(|(rate_bp, regional)| TaxRateRule {
                    name: "T".into(),
                    region_code: if regional { "BC".into() } else { String::new() },
                    rate_bp,
                })
                .collect();
            let rules = tax_rules(&rates, Some(&destination), &policy);
            let t = totals(&lines, discount, offer.charge(), &rules, &policy);
            let line_sum: i64 = lines.iter().map(|l| l.unit_price * i64::from(l.quantity)).sum();
            let tax_sum: i64 = t.tax_lines.iter().map(|l| l.amount).sum();
            prop_assert_eq!(t.subtotal, line_sum);
            prop_assert_eq!(t.tax, tax_sum);
            prop_assert_eq!(t.shipping, offer.charge());
            let added = if include { 0 } else { tax_sum };
            prop_assert_eq!(t.total, line_sum - t.discount + t.shipping + added);
            if let Some(option) = offer.chosen() {
                let rule = methods.iter().find(|m| Some(m.id) == option.method_id).unwrap();
                prop_assert!(rule.serves(subtotal - taken, weight));
                prop_assert!(offer.offered().iter().all(|o| o.price >= offer.offered()[0].price));
            } else {
                prop_assert!(methods.iter().all(|m| !m.serves(subtotal - taken, weight)));
            }
        }
    }
}
