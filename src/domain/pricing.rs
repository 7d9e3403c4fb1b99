//! Cart pricing: subtotal, discount, shipping, tax and total, in integer minor units.
//!
//! Rounding rule: every derived amount (a percentage discount, the tax) is computed exactly in
//! integers and rounded once, half up, to the minor unit. Nothing else is ever rounded, so
//! `total = subtotal − discount + shipping + tax` holds to the unit.

use chrono::NaiveDateTime;

use crate::domain::rejection::{Rejection, RejectionCode};

/// Most units of one variant in a cart line.
pub const MAX_LINE_QUANTITY: u32 = 99;

/// Shop-wide shipping and tax settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricingPolicy {
    /// Flat shipping charge per order, minor units.
    pub flat_shipping: i64,
    /// Discounted subtotal from which shipping is free; `None`: never free.
    pub free_shipping_from: Option<i64>,
    /// Tax rate in basis points (hundredths of a percent): 825 is 8.25 %.
    pub tax_rate_bp: u32,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Sum of the lines.
    pub subtotal: i64,
    /// Taken off by the discount code.
    pub discount: i64,
    /// Shipping charge.
    pub shipping: i64,
    /// Tax on the discounted subtotal.
    pub tax: i64,
    /// What the customer pays.
    pub total: i64,
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

/// Prices `lines` with an (already applicable) discount under `policy`.
pub fn totals(
    lines: &[LineAmount],
    discount: Option<DiscountKind>,
    policy: &PricingPolicy,
) -> Totals {
    if lines.is_empty() {
        return Totals::default();
    }
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
    let discounted = subtotal - discount;
    let free = policy
        .free_shipping_from
        .is_some_and(|threshold| discounted >= i128::from(threshold));
    let shipping = if free {
        0
    } else {
        i128::from(policy.flat_shipping.max(0))
    };
    let tax = divide_half_up(discounted * i128::from(policy.tax_rate_bp), 10_000);
    Totals {
        subtotal: clamp(subtotal),
        discount: clamp(discount),
        shipping: clamp(shipping),
        tax: clamp(tax),
        total: clamp(discounted + shipping + tax),
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
    };

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
        let totals = totals(
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
            }
        );
    }

    #[test]
    fn shipping_is_free_from_the_threshold_and_an_empty_cart_costs_nothing() {
        let free = totals(&[line(5_000, 1)], None, &POLICY);
        assert_eq!(free.shipping, 0);
        let just_under = totals(&[line(4_999, 1)], None, &POLICY);
        assert_eq!(just_under.shipping, 500);
        assert_eq!(totals(&[], None, &POLICY), Totals::default());
        // The threshold looks at the discounted subtotal.
        let discounted = totals(
            &[line(5_000, 1)],
            Some(DiscountKind::FixedAmount(1)),
            &POLICY,
        );
        assert_eq!(discounted.shipping, 500);
    }

    #[test]
    fn fixed_discounts_never_exceed_the_subtotal() {
        let totals = totals(
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
        )
            .prop_map(
                |(flat_shipping, free_shipping_from, tax_rate_bp)| PricingPolicy {
                    flat_shipping,
                    free_shipping_from,
                    tax_rate_bp,
                },
            )
    }

    proptest! {
        #[test]
        fn totals_add_up(lines in lines(), discount in discount(), policy in policy()) {
            let t = totals(&lines, discount, &policy);
            prop_assert_eq!(t.total, t.subtotal - t.discount + t.shipping + t.tax);
            prop_assert!(t.discount >= 0 && t.discount <= t.subtotal);
            prop_assert!(t.tax >= 0 && t.shipping >= 0 && t.total >= 0);
            let expected: i64 = lines.iter().map(|l| l.unit_price * i64::from(l.quantity)).sum();
            prop_assert_eq!(t.subtotal, expected);
        }

        #[test]
        fn tax_is_the_rate_of_the_discounted_subtotal_rounded_half_up(
            lines in lines(), discount in discount(), policy in policy()
        ) {
            let t = totals(&lines, discount, &policy);
            let exact = i128::from(t.subtotal - t.discount) * i128::from(policy.tax_rate_bp);
            let tax = i128::from(t.tax) * 10_000;
            // |tax − exact| ≤ half a minor unit, and exactly half rounds up.
            prop_assert!((tax - exact).abs() <= 5_000);
            prop_assert!(tax - exact > -5_000);
        }

        #[test]
        fn more_items_never_cost_less_before_discounts(
            lines in lines(), extra in (0_i64..1_000_000, 1_u32..10), policy in policy()
        ) {
            let before = totals(&lines, None, &policy);
            let mut more = lines.clone();
            more.push(line(extra.0, extra.1));
            let after = totals(&more, None, &policy);
            prop_assert!(after.subtotal >= before.subtotal);
            prop_assert!(after.tax >= before.tax);
        }
    }
}
