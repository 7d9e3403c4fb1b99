//! Facets of a product list: how many matching products each category (with its descendants),
//! each option value and each price band holds, counted from a few grouped rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::options::{self, OptionCondition, OptionValue};

/// Most categories a facet list names (those holding the most products).
pub const MAX_CATEGORY_FACETS: usize = 100;
/// Most options a facet list names (those the most products have).
pub const MAX_OPTION_FACETS: usize = 10;
/// Most values listed for one option (those the most products have).
pub const MAX_OPTION_VALUE_FACETS: usize = 50;
/// Most price boundaries a client may give (so at most one more band).
pub const MAX_PRICE_BOUNDARIES: usize = 10;

/// Matching products whose lowest live price is at least `min` and below `max` (no upper end
/// when `None`), in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceBand {
    pub min: i64,
    pub max: Option<i64>,
    pub count: i64,
}

/// An option and how many matching products have each of its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionFacet {
    pub name: String,
    /// `(value, products)`, the most common first.
    pub values: Vec<(String, i64)>,
}

/// Checks price band boundaries: 1 to [`MAX_PRICE_BOUNDARIES`] amounts above zero, each above
/// the one before.
pub fn check_boundaries(boundaries: &[i64]) -> Result<(), String> {
    if boundaries.is_empty() || boundaries.len() > MAX_PRICE_BOUNDARIES {
        return Err(format!("give 1 to {MAX_PRICE_BOUNDARIES} price boundaries"));
    }
    if boundaries[0] <= 0 || boundaries.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err("price boundaries are above zero, each above the one before".to_owned());
    }
    Ok(())
}

/// The bands `[0, b₀)`, `[b₀, b₁)`, …, `[bₙ, ∞)` of checked `boundaries`, each with the products
/// of `by_price` (`(lowest price, products)`) that fall in it.
pub fn price_bands(boundaries: &[i64], by_price: &[(i64, i64)]) -> Vec<PriceBand> {
    let mut bands: Vec<PriceBand> = std::iter::once(0)
        .chain(boundaries.iter().copied())
        .zip(boundaries.iter().copied().map(Some).chain([None]))
        .map(|(min, max)| PriceBand { min, max, count: 0 })
        .collect();
    for &(price, count) in by_price {
        let band = boundaries.partition_point(|boundary| *boundary <= price);
        bands[band].count = bands[band].count.saturating_add(count);
    }
    bands
}

/// Products per category, each category counting its descendants' products too, from
/// `by_category` (`(category filed under, products)`) and each category's materialised path
/// (`/1/5/9/`): the categories holding the most first, at most [`MAX_CATEGORY_FACETS`].
pub fn category_counts(
    by_category: &[(Option<i64>, i64)],
    paths: &HashMap<i64, &str>,
) -> Vec<(i64, i64)> {
    let mut totals: HashMap<i64, i64> = HashMap::new();
    for &(category, count) in by_category {
        let Some(path) = category.and_then(|id| paths.get(&id)) else {
            continue;
        };
        for ancestor in path.split('/').filter_map(|part| part.parse::<i64>().ok()) {
            let total = totals.entry(ancestor).or_default();
            *total = total.saturating_add(count);
        }
    }
    let mut counts: Vec<(i64, i64)> = totals.into_iter().collect();
    counts.sort_by_key(|&(id, count)| (std::cmp::Reverse(count), id));
    counts.truncate(MAX_CATEGORY_FACETS);
    counts
}

/// Options and how many products have each value, from `(product, stored options)` rows of
/// the products that match the filter but for its option `conditions` (a product counts once
/// per value however many of its variants have it). Disjunctive, as a filter sidebar needs:
/// an option's values count the products that meet every condition on *other* options, so
/// that picking `Colour: Red` still shows how many are blue. The options most products have
/// first, at most [`MAX_OPTION_FACETS`], each with at most [`MAX_OPTION_VALUE_FACETS`] values,
/// the most common first.
pub fn option_counts(sets: &[(i64, String)], conditions: &[OptionCondition]) -> Vec<OptionFacet> {
    let mut values_of: BTreeMap<i64, Vec<OptionValue>> = BTreeMap::new();
    for (product, json) in sets {
        values_of
            .entry(*product)
            .or_default()
            .extend(options::from_json(json));
    }
    let mut holders: BTreeMap<String, BTreeMap<String, BTreeSet<i64>>> = BTreeMap::new();
    for (product, values) in &values_of {
        let unmet: Vec<&str> = conditions
            .iter()
            .filter(|condition| !values.iter().any(|value| condition.holds_for(value)))
            .map(|condition| condition.name.as_str())
            .collect();
        for value in values {
            if unmet.iter().all(|name| *name == value.name) {
                holders
                    .entry(value.name.clone())
                    .or_default()
                    .entry(value.value.clone())
                    .or_default()
                    .insert(*product);
            }
        }
    }
    let mut facets: Vec<(usize, OptionFacet)> = holders
        .into_iter()
        .map(|(name, values)| {
            let products: BTreeSet<i64> = values.values().flatten().copied().collect();
            let mut values: Vec<(String, i64)> = values
                .into_iter()
                .map(|(value, products)| (value, i64::try_from(products.len()).unwrap_or(i64::MAX)))
                .collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            values.truncate(MAX_OPTION_VALUE_FACETS);
            (products.len(), OptionFacet { name, values })
        })
        .collect();
    facets.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.name.cmp(&b.1.name)));
    facets
        .into_iter()
        .take(MAX_OPTION_FACETS)
        .map(|(_, facet)| facet)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_rise_from_above_zero() {
        assert!(check_boundaries(&[2500, 5000]).is_ok());
        assert!(check_boundaries(&[]).is_err());
        assert!(check_boundaries(&[0, 10]).is_err());
        assert!(check_boundaries(&[10, 10]).is_err());
        assert!(check_boundaries(&[20, 10]).is_err());
        assert!(check_boundaries(&[1; 11]).is_err());
    }

    #[test]
    fn prices_fall_in_the_band_that_starts_at_or_below_them() {
        let bands = price_bands(&[2500, 5000], &[(0, 1), (2499, 2), (2500, 3), (9999, 4)]);
        assert_eq!(
            bands,
            [
                PriceBand {
                    min: 0,
                    max: Some(2500),
                    count: 3
                },
                PriceBand {
                    min: 2500,
                    max: Some(5000),
                    count: 3
                },
                PriceBand {
                    min: 5000,
                    max: None,
                    count: 4
                },
            ]
        );
    }

    #[test]
    fn categories_count_their_descendants() {
        let paths = HashMap::from([(1, "/1/"), (2, "/1/2/"), (3, "/1/3/"), (4, "/4/")]);
        let counts = category_counts(
            &[(Some(2), 5), (Some(3), 2), (None, 7), (Some(4), 2)],
            &paths,
        );
        assert_eq!(counts, [(1, 7), (2, 5), (3, 2), (4, 2)]);
    }

    #[test]
    fn a_product_counts_once_per_value() {
        let size = |value: &str, color: &str| {
            format!(r#"[{{"name":"Size","value":"{value}"}},{{"name":"Color","value":"{color}"}}]"#)
        };
        let rows = [
            (1, size("S", "Navy")),
            (1, size("S", "Red")),
            (1, size("M", "Navy")),
            (2, size("M", "Navy")),
            (3, r#"[{"name":"Material","value":"Oak"}]"#.to_owned()),
        ];
        assert_eq!(
            option_counts(&rows, &[]),
            [
                OptionFacet {
                    name: "Color".into(),
                    values: vec![("Navy".into(), 2), ("Red".into(), 1)]
                },
                OptionFacet {
                    name: "Size".into(),
                    values: vec![("M".into(), 2), ("S".into(), 1)]
                },
                OptionFacet {
                    name: "Material".into(),
                    values: vec![("Oak".into(), 1)]
                },
            ]
        );
    }

    #[test]
    fn an_options_values_count_what_the_other_options_conditions_leave() {
        let variant = |size: &str, color: &str| {
            format!(r#"[{{"name":"Size","value":"{size}"}},{{"name":"Color","value":"{color}"}}]"#)
        };
        let rows = [
            (1, variant("S", "Navy")),
            (1, variant("M", "Red")),
            (2, variant("M", "Navy")),
            (3, variant("L", "Green")),
        ];
        let red_or_green = OptionCondition {
            name: "Color".into(),
            values: vec!["Red".into(), "Green".into()],
        };
        let medium = OptionCondition {
            name: "Size".into(),
            values: vec!["M".into()],
        };
        // Colour picked: sizes count red or green products only, colours count every product.
        assert_eq!(
            option_counts(&rows, std::slice::from_ref(&red_or_green)),
            [
                OptionFacet {
                    name: "Color".into(),
                    values: vec![("Navy".into(), 2), ("Green".into(), 1), ("Red".into(), 1)]
                },
                OptionFacet {
                    name: "Size".into(),
                    values: vec![("L".into(), 1), ("M".into(), 1), ("S".into(), 1)]
                },
            ]
        );
        // Both picked: colours count medium products, sizes count red or green ones.
        assert_eq!(
            option_counts(&rows, &[red_or_green, medium]),
            [
                OptionFacet {
                    name: "Color".into(),
                    values: vec![("Navy".into(), 2), ("Red".into(), 1)]
                },
                OptionFacet {
                    name: "Size".into(),
                    values: vec![("L".into(), 1), ("M".into(), 1), ("S".into(), 1)]
                },
            ]
        );
    }
}
