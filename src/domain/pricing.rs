//! Cart pricing: subtotal, discount, shipping, tax and total, in integer minor units.
//!
//! Rounding rule: every derived amount (a percentage discount, the tax) is computed exactly in
//! integers and rounded once, half up, to the minor unit. Nothing else is ever rounded, so
//! `total = subtotal − discount + shipping + tax` holds to the unit.

use chrono::NaiveDateTime;

use crate::domain::rejection::{Rejection, RejectionCode};

/// Most units of one variant in a cart line.
pub const MAX_LINE_QUANTITY: u32 = 99;

/// The shop's pricing settings: its own delivery option (used where it has no shipping zones),
/// its default tax rate (used where no tax rate of the shop matches the address, and before an
/// address is known), and how taxes are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingPolicy {
    /// Flat shipping charge per order, minor units.
    pub flat_shipping: i64,
    /// Discounted subtotal from which shipping is free; `None`: never free.
    pub free_shipping_from: Option<i64>,
    /// Tax rate in basis points (hundredths of a percent): 825 is 8.25 %.
    pub tax_rate_bp: u32,
    /// Whether prices (and shipping charges) already include tax, as in EU-style shops: the tax
    /// is then the part of the price it makes up, and the total does not add it again.
    pub prices_include_tax: bool,
    /// Whether shipping is taxed like the goods.
    pub tax_shipping: bool,
}

/// A tax rate that applies to an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxRule {
    /// What the customer sees, e.g. `GST`.
    pub name: String,
    /// Basis points: 825 is 8.25 %.
    pub rate_bp: u32,
}

/// One tax charged: a rule and its amount.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxLine {
    /// The rule's name.
    pub name: String,
    /// Basis points.
    pub rate_bp: u32,
    /// Minor units.
    pub amount: i64,
}

/// One cart line as pricing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineAmount {
    /// Current unit price, minor units.
    pub unit_price: i64,
    /// Units.
    pub quantity: u32,
}

/// How a discount code takes money off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    /// A percentage (1–100) of the subtotal.
    Percentage(u8),
    /// A fixed amount in minor units, at most the subtotal.
    FixedAmount(i64),
}

/// How a discount code takes money off, without its value: what is stored beside the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiscountType {
    /// The value is a whole percentage (1–100) of the subtotal.
    Percentage,
    /// The value is an amount in minor units.
    FixedAmount,
}

crate::domain::text_enum!(DiscountType { Percentage => "PERCENTAGE", FixedAmount => "FIXED_AMOUNT" });

/// A discount code's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountRules {
    /// What it takes off.
    pub kind: DiscountKind,
    /// Smallest subtotal it applies to.
    pub minimum_subtotal: i64,
    /// How many orders may use it; `None`: unlimited.
    pub usage_limit: Option<u32>,
    /// How many orders have.
    pub times_used: u32,
    /// Valid from.
    pub starts_at: Option<NaiveDateTime>,
    /// Valid until (exclusive).
    pub ends_at: Option<NaiveDateTime>,
    /// Whether staff disabled it (then it applies to nothing until enabled again).
    pub disabled: bool,
}

impl DiscountRules {
    /// Why this code cannot apply to a cart with `subtotal` at `now`, if it cannot.
    pub fn refusal(&self, subtotal: i64, now: NaiveDateTime) -> Option<Rejection> {
        let refuse = |message: String| {
            Some(Rejection::new(
                &["code"],
                RejectionCode::DiscountNotApplicable,
                message,
            ))
        };
        if self.disabled {
            return refuse("the discount code has been disabled".into());
        }
        if self.starts_at.is_some_and(|start| now < start) {
            return refuse("the discount code is not valid yet".into());
        }
        if self.ends_at.is_some_and(|end| now >= end) {
            return refuse("the discount code has expired".into());
        }
        if self
            .usage_limit
            .is_some_and(|limit| self.times_used >= limit)
        {
            return refuse("the discount code has been used up".into());
        }
        if subtotal < self.minimum_subtotal {
            return refuse(format!(
                "the discount code needs a subtotal of at least {} (minor units)",
                self.minimum_subtotal
            ));
        }
        None
    }
}

/// What a cart or order costs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Totals {
    /// Sum of the lines.
    pub subtotal: i64,
    /// Taken off by the discount code.
    pub discount: i64,
    /// Shipping charge.
    pub shipping: i64,
    /// Sum of the tax lines.
    pub tax: i64,
    /// What the customer pays: `subtotal − discount + shipping`, plus `tax` unless
    /// `taxes_included`.
    pub total: i64,
    /// Each tax charged, in the order of the rules.
    pub tax_lines: Vec<TaxLine>,
    /// Whether `tax` is already inside the prices (and so inside the total once).
    pub taxes_included: bool,
}

/// Reads a tax rate in percent with at most two decimals (`"8.25"`) as basis points (825).
pub fn parse_percent_bp(text: &str) -> Result<u32, String> {
    let invalid = || format!("{text:?} is not a percentage such as 8.25 (0 to 100, two decimals)");
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if whole.is_empty()
        || fraction.len() > 2
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return Err(invalid());
    }
    let whole: u32 = whole.parse().map_err(|_| invalid())?;
    let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| invalid())?;
    let bp = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(invalid)?;
    if bp > 10_000 {
        return Err(invalid());
    }
    Ok(bp)
}

/// `numerator / denominator`, rounded half up; both non-negative.
fn divide_half_up(numerator: i128, denominator: i128) -> i128 {
    (numerator + denominator / 2) / denominator
}

fn clamp(amount: i128) -> i64 {
    i64::try_from(amount.max(0)).unwrap_or(i64::MAX)
}

/// The subtotal of `lines` and what an (already applicable) discount takes off it.
pub fn goods(lines: &[LineAmount], discount: Option<DiscountKind>) -> (i64, i64) {
    let (subtotal, discount) = goods_exact(lines, discount);
    (clamp(subtotal), clamp(discount))
}

fn goods_exact(lines: &[LineAmount], discount: Option<DiscountKind>) -> (i128, i128) {
    let subtotal: i128 = lines
        .iter()
        .map(|line| i128::from(line.unit_price.max(0)) * i128::from(line.quantity))
        .sum();
    let discount = match discount {
        None => 0,
        Some(DiscountKind::Percentage(percent)) => {
            divide_half_up(subtotal * i128::from(percent.min(100)), 100)
        }
        Some(DiscountKind::FixedAmount(amount)) => i128::from(amount.max(0)).min(subtotal),
    };
    (subtotal, discount)
}

/// The shop's own shipping charge for a discounted subtotal (where it has no zones).
pub fn default_shipping(discounted: i64, policy: &PricingPolicy) -> i64 {
    let free = policy
        .free_shipping_from
        .is_some_and(|threshold| discounted >= threshold);
    if free { 0 } else { policy.flat_shipping.max(0) }
}

/// Prices `lines` with an (already applicable) discount, a `shipping` charge and the tax
/// `rules` that apply, under `policy`. Each tax line is rounded once, half up; an empty cart
/// costs nothing.
pub fn totals(
    lines: &[LineAmount],
    discount: Option<DiscountKind>,
    shipping: i64,
    rules: &[TaxRule],
    policy: &PricingPolicy,
) -> Totals {
    if lines.is_empty() {
        return Totals {
            taxes_included: policy.prices_include_tax,
            ..Totals::default()
        };
    }
    let (subtotal, discount) = goods_exact(lines, discount);
    let discounted = subtotal - discount;
    let shipping = i128::from(shipping.max(0));
    let base = if policy.tax_shipping {
        discounted + shipping
    } else {
        discounted
    };
    let combined: i128 = rules.iter().map(|rule| i128::from(rule.rate_bp)).sum();
    let denominator = if policy.prices_include_tax {
        10_000 + combined
    } else {
        10_000
    };
    let tax_lines: Vec<TaxLine> = rules
        .iter()
        .filter(|rule| rule.rate_bp > 0)
        .map(|rule| TaxLine {
            name: rule.name.clone(),
            rate_bp: rule.rate_bp,
            amount: clamp(divide_half_up(base * i128::from(rule.rate_bp), denominator)),
        })
        .collect();
    let tax: i128 = tax_lines.iter().map(|line| i128::from(line.amount)).sum();
    let added_tax = if policy.prices_include_tax { 0 } else { tax };
    Totals {
        subtotal: clamp(subtotal),
        discount: clamp(discount),
        shipping: clamp(shipping),
        tax: clamp(tax),
        total: clamp(discounted + shipping + added_tax),
        tax_lines,
        taxes_included: policy.prices_include_tax,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: PricingPolicy = PricingPolicy {
        flat_shipping: 500,
        free_shipping_from: Some(5_000),
        tax_rate_bp: 825,
        prices_include_tax: false,
        tax_shipping: false,
    };

    fn rule(name: &str, rate_bp: u32) -> TaxRule {
        TaxRule {
            name: name.into(),
            rate_bp,
        }
    }

    /// The shop's own shipping and its default tax rate, as a cart without zones is priced.
    fn priced(
        lines: &[LineAmount],
        discount: Option<DiscountKind>,
        policy: &PricingPolicy,
    ) -> Totals {
        let (subtotal, taken) = goods(lines, discount);
        let shipping = default_shipping(subtotal - taken, policy);
        totals(
            lines,
            discount,
            shipping,
            &[rule("Tax", policy.tax_rate_bp)],
            policy,
        )
    }

    fn line(unit_price: i64, quantity: u32) -> LineAmount {
        LineAmount {
            unit_price,
            quantity,
        }
    }

    #[test]
    fn percentages_parse_to_basis_points() {
        assert_eq!(parse_percent_bp("8.25"), Ok(825));
        assert_eq!(parse_percent_bp("7.5"), Ok(750));
        assert_eq!(parse_percent_bp("0"), Ok(0));
        assert_eq!(parse_percent_bp("100"), Ok(10_000));
        for bad in ["", "-1", "8.255", "101", "x", "1e2", ".5"] {
            assert!(parse_percent_bp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn worked_example() {
        // 2 × 19.99 + 1 × 5.00 = 44.98; 10 % off = 4.498 → 4.50; 40.48 discounted; shipping 5.00
        // (under 50.00); tax 8.25 % of 40.48 = 3.3396 → 3.34; total 40.48 + 5.00 + 3.34 = 48.82.
        let totals = priced(
            &[line(1_999, 2), line(500, 1)],
            Some(DiscountKind::Percentage(10)),
            &POLICY,
        );
        assert_eq!(
            totals,
            Totals {
                subtotal: 4_498,
                discount: 450,
                shipping: 500,
                tax: 334,
                total: 4_882,
                tax_lines: vec![TaxLine {
                    name: "Tax".into(),
                    rate_bp: 825,
                    amount: 334
                }],
                taxes_included: false,
            }
        );
    }

    #[test]
    fn shipping_is_free_from_the_threshold_and_an_empty_cart_costs_nothing() {
        let free = priced(&[line(5_000, 1)], None, &POLICY);
        assert_eq!(free.shipping, 0);
        let just_under = priced(&[line(4_999, 1)], None, &POLICY);
        assert_eq!(just_under.shipping, 500);
        assert_eq!(priced(&[], None, &POLICY), Totals::default());
        // The threshold looks at the discounted subtotal.
        let discounted = priced(
            &[line(5_000, 1)],
            Some(DiscountKind::FixedAmount(1)),
            &POLICY,
        );
        assert_eq!(discounted.shipping, 500);
    }

    #[test]
    fn fixed_discounts_never_exceed_the_subtotal() {
        let totals = priced(
            &[line(300, 1)],
            Some(DiscountKind::FixedAmount(1_000)),
            &POLICY,
        );
        assert_eq!(totals.discount, 300);
        assert_eq!(totals.tax, 0);
        assert_eq!(totals.total, 500);
    }

    #[test]
    fn discount_rules_check_window_usage_and_minimum() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let rules = DiscountRules {
            kind: DiscountKind::Percentage(10),
            minimum_subtotal: 1_000,
            usage_limit: Some(5),
            times_used: 4,
            starts_at: Some(now - chrono::TimeDelta::days(1)),
            ends_at: Some(now + chrono::TimeDelta::days(1)),
            disabled: false,
        };
        assert!(rules.refusal(1_000, now).is_none());
        assert!(rules.refusal(999, now).is_some());
        assert!(
            rules
                .refusal(1_000, now + chrono::TimeDelta::days(2))
                .is_some()
        );
        assert!(
            rules
                .refusal(1_000, now - chrono::TimeDelta::days(2))
                .is_some()
        );
        let used_up = DiscountRules {
            times_used: 5,
            ..rules.clone()
        };
        assert!(used_up.refusal(1_000, now).is_some());
        let disabled = DiscountRules {
            disabled: true,
            ..rules
        };
        assert_eq!(
            disabled.refusal(1_000, now).map(|r| r.message).as_deref(),
            Some("the discount code has been disabled")
        );
    }

    fn lines() -> impl Strategy<Value = Vec<LineAmount>> {
        prop::collection::vec(
            (0_i64..1_000_000, 1_u32..=MAX_LINE_QUANTITY).prop_map(|(p, q)| line(p, q)),
            0..20,
        )
    }

    fn discount() -> impl Strategy<Value = Option<DiscountKind>> {
        prop_oneof![
            Just(None),
            (1_u8..=100).prop_map(|p| Some(DiscountKind::Percentage(p))),
            (1_i64..10_000_000).prop_map(|a| Some(DiscountKind::FixedAmount(a))),
        ]
    }

    fn policy() -> impl Strategy<Value = PricingPolicy> {
        (
            0_i64..10_000,
            prop::option::of(0_i64..100_000),
            0_u32..3_000,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(
                    flat_shipping,
                    free_shipping_from,
                    tax_rate_bp,
                    prices_include_tax,
                    tax_shipping,
                )| {
                    PricingPolicy {
                        flat_shipping,
                        free_shipping_from,
                        tax_rate_bp,
                        prices_include_tax,
                        tax_shipping,
                    }
                },
            )
    }

    fn rules() -> impl Strategy<Value = Vec<TaxRule>> {
        prop::collection::vec((0_u32..=3_000).prop_map(|bp| rule("Tax", bp)), 0..4)
    }

    proptest! {
        /// Totals stay exact in minor units, with tax inclusive and exclusive, whatever the
        /// lines, discount, shipping charge and tax rules.
        #[test]
        fn totals_add_up(
            lines in lines(), discount in discount(), shipping in 0_i64..100_000,
            rules in rules(), policy in policy()
        ) {
            let t = totals(&lines, discount, shipping, &rules, &policy);
            let added_tax = if policy.prices_include_tax { 0 } else { t.tax };
            prop_assert_eq!(t.taxes_included, policy.prices_include_tax);
            if lines.is_empty() {
                prop_assert_eq!(t.total, 0);
                return Ok(());
            }
            prop_assert_eq!(t.total, t.subtotal - t.discount + t.shipping + added_tax);
            prop_assert_eq!(t.tax, t.tax_lines.iter().map(|l| l.amount).sum::<i64>());
            prop_assert!(t.discount >= 0 && t.discount <= t.subtotal);
            prop_assert!(t.tax >= 0 && t.shipping >= 0 && t.total >= 0);
            let expected: i64 = lines.iter().map(|l| l.unit_price * i64::from(l.quantity)).sum();
            prop_assert_eq!(t.subtotal, expected);
            prop_assert_eq!(t.shipping, shipping);
        }

        /// Each tax line is its rate of the taxed amount (the discounted subtotal, and shipping
        /// when taxed), rounded half up: added on top, or as the part of a tax-inclusive price
        /// that the rates together make up.
        #[test]
        fn each_tax_line_is_its_rate_rounded_half_up(
            lines in lines(), discount in discount(), shipping in 0_i64..100_000,
            rules in rules(), policy in policy()
        ) {
            let t = totals(&lines, discount, shipping, &rules, &policy);
            let base = i128::from(t.subtotal - t.discount)
                + if policy.tax_shipping { i128::from(t.shipping) } else { 0 };
            let combined: i128 = rules.iter().map(|r| i128::from(r.rate_bp)).sum();
            let denominator = if policy.prices_include_tax { 10_000 + combined } else { 10_000 };
            for line in &t.tax_lines {
                let exact = base * i128::from(line.rate_bp);
                let charged = i128::from(line.amount) * denominator;
                // |charged − exact| ≤ half a minor unit, and exactly half rounds up.
                prop_assert!(2 * (charged - exact) <= denominator);
                prop_assert!(2 * (charged - exact) > -denominator);
            }
            if policy.prices_include_tax {
                prop_assert!(i128::from(t.tax) <= base);
            }
        }

        #[test]
        fn more_items_never_cost_less_before_discounts(
            lines in lines(), extra in (0_i64..1_000_000, 1_u32..10), policy in policy()
        ) {
            let before = priced(&lines, None, &policy);
            let mut more = lines.clone();
            more.push(line(extra.0, extra.1));
            let after = priced(&more, None, &policy);
            prop_assert!(after.subtotal >= before.subtotal);
            prop_assert!(after.tax >= before.tax);
        }
    }

    #[test]
    fn tax_inclusive_prices_hold_their_tax() {
        // A 119.00 price with 19 % VAT inside: 19.00 of it is tax, the total stays 119.00.
        let policy = PricingPolicy {
            prices_include_tax: true,
            flat_shipping: 0,
            ..POLICY
        };
        let t = totals(&[line(11_900, 1)], None, 0, &[rule("VAT", 1_900)], &policy);
        assert_eq!((t.tax, t.total, t.taxes_included), (1_900, 11_900, true));
    }

    #[test]
    fn rates_of_one_address_add_up_as_separate_lines() {
        // Canada, British Columbia: GST 5 % and PST 7 % on 100.00, shipping 10.00 taxed.
        let policy = PricingPolicy {
            tax_shipping: true,
            ..POLICY
        };
        let t = totals(
            &[line(10_000, 1)],
            None,
            1_000,
            &[rule("GST", 500), rule("PST", 700)],
            &policy,
        );
        let amounts: Vec<i64> = t.tax_lines.iter().map(|l| l.amount).collect();
        assert_eq!(amounts, vec![550, 770]);
        assert_eq!((t.tax, t.total), (1_320, 12_320));
    }
}
