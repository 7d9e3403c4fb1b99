//! A product's options (`Size`, `Colour`…) as its variants spell them: the pickers a product
//! page builds, the variant a selection names, and the rule that no two variants of a product
//! have the same options.

use serde::{Deserialize, Serialize};

use crate::domain::bounds::{MAX_OPTIONS_PER_PRODUCT, MAX_OPTIONS_PER_VARIANT};
use crate::domain::rejection::{Rejection, RejectionCode};

/// One option value of a variant, e.g. `Size: M`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionValue {
    /// The option, e.g. `Size`.
    pub name: String,
    /// The value, e.g. `M`.
    pub value: String,
}

/// Longest option name or value, in characters.
pub const MAX_OPTION_CHARS: usize = 100;

/// A variant's options as given (`(name, value)` pairs), checked: at most
/// [`MAX_OPTIONS_PER_VARIANT`], each name and value 1 to [`MAX_OPTION_CHARS`] characters once
/// trimmed, no name twice (without regard to case); returned trimmed. Every problem at once,
/// under `["input", "options", …]`.
pub fn checked(options: Vec<(String, String)>) -> Result<Vec<OptionValue>, Vec<Rejection>> {
    if options.len() > MAX_OPTIONS_PER_VARIANT {
        return Err(vec![Rejection::new(
            &["input", "options"],
            RejectionCode::TooLong,
            format!("a variant has at most {MAX_OPTIONS_PER_VARIANT} options"),
        )]);
    }
    let mut problems = Vec::new();
    let mut checked: Vec<OptionValue> = Vec::with_capacity(options.len());
    for (index, (name, value)) in options.into_iter().enumerate() {
        let option = OptionValue {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
        };
        for (part, text) in [("name", &option.name), ("value", &option.value)] {
            if text.is_empty() || text.chars().count() > MAX_OPTION_CHARS {
                problems.push(Rejection::new(
                    &["input", "options", &index.to_string(), part],
                    RejectionCode::Invalid,
                    format!("an option's {part} has 1 to {MAX_OPTION_CHARS} characters"),
                ));
            }
        }
        if checked
            .iter()
            .any(|known| same_text(&known.name, &option.name))
        {
            problems.push(Rejection::new(
                &["input", "options", &index.to_string(), "name"],
                RejectionCode::Invalid,
                "a variant has each option once",
            ));
        }
        checked.push(option);
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

/// A variant's options as stored: a JSON array of `{"name": …, "value": …}`, in the order staff
/// gave them. A value that does not parse reads as no options (rows are written only by
/// [`to_json`]); more than [`MAX_OPTIONS_PER_VARIANT`] are cut.
pub fn from_json(json: &str) -> Vec<OptionValue> {
    let mut options: Vec<OptionValue> = serde_json::from_str(json).unwrap_or_default();
    options.truncate(MAX_OPTIONS_PER_VARIANT);
    options
}

/// The stored form of checked options (see [`from_json`]).
pub fn to_json(options: &[OptionValue]) -> String {
    serde_json::to_string(options).unwrap_or_else(|_| "[]".to_owned())
}

/// Most option values one product filter names (over all its options).
pub const MAX_FILTER_OPTION_VALUES: usize = 10;

/// A product filter's condition on one option: a variant with any of `values` of the option
/// `name`, both spelled exactly as stored (as `productFacets` lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionCondition {
    /// The option, e.g. `Colour`.
    pub name: String,
    /// The values any one of which will do, e.g. `["Red", "Blue"]`.
    pub values: Vec<String>,
}

impl OptionCondition {
    /// Whether a variant's option `option` meets the condition.
    pub fn holds_for(&self, option: &OptionValue) -> bool {
        option.name == self.name && self.values.contains(&option.value)
    }

    /// The text each value leaves in a variant's stored options ([`to_json`]): a stored array
    /// holds one of these exactly when its variant has that value (JSON escapes every quote
    /// inside a string, so an element's text cannot appear anywhere but at an element).
    pub fn stored_forms(&self) -> Vec<String> {
        self.values
            .iter()
            .map(|value| {
                serde_json::to_string(&OptionValue {
                    name: self.name.clone(),
                    value: value.clone(),
                })
                .unwrap_or_default()
            })
            .collect()
    }
}

/// A product filter's option conditions from `(name, value)` pairs: trimmed, one condition per
/// name (its values any one of which will do), at most [`MAX_FILTER_OPTION_VALUES`] pairs, each
/// name and value 1 to [`MAX_OPTION_CHARS`] characters.
pub fn conditions(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<OptionCondition>, String> {
    let mut conditions: Vec<OptionCondition> = Vec::new();
    for (count, (name, value)) in pairs.into_iter().enumerate() {
        if count == MAX_FILTER_OPTION_VALUES {
            return Err(format!(
                "a filter names at most {MAX_FILTER_OPTION_VALUES} option values"
            ));
        }
        let (name, value) = (name.trim(), value.trim());
        for text in [name, value] {
            if text.is_empty() || text.chars().count() > MAX_OPTION_CHARS {
                return Err(format!(
                    "an option's name and value have 1 to {MAX_OPTION_CHARS} characters"
                ));
            }
        }
        match conditions.iter_mut().find(|known| known.name == name) {
            Some(known) if known.values.iter().any(|v| v == value) => {}
            Some(known) => known.values.push(value.to_owned()),
            None => conditions.push(OptionCondition {
                name: name.to_owned(),
                values: vec![value.to_owned()],
            }),
        }
    }
    Ok(conditions)
}

/// One option of a product and its values, each in the order the variants first use it
/// (variants in display order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductOption {
    /// The option, e.g. `Size`.
    pub name: String,
    /// Its values, e.g. `["S", "M", "L"]`.
    pub values: Vec<String>,
}

/// The options of a product whose variants (in display order) have these options: names and
/// values in order of first use, compared without regard to case. At most
/// [`MAX_OPTIONS_PER_PRODUCT`] options (writes refuse more; a read cuts there besides).
pub fn product_options<'a>(
    variants: impl IntoIterator<Item = &'a [OptionValue]>,
) -> Vec<ProductOption> {
    let mut product: Vec<ProductOption> = Vec::new();
    for option in variants.into_iter().flatten() {
        let at = product
            .iter()
            .position(|known| same_text(&known.name, &option.name));
        let known = match at {
            Some(at) => &mut product[at],
            None if product.len() < MAX_OPTIONS_PER_PRODUCT => {
                product.push(ProductOption {
                    name: option.name.clone(),
                    values: Vec::new(),
                });
                product.last_mut().expect("just pushed")
            }
            None => continue,
        };
        if !known.values.iter().any(|v| same_text(v, &option.value)) {
            known.values.push(option.value.clone());
        }
    }
    product
}

/// Whether a variant with `options` is the one `selection` names: the same options, each with
/// the same value, in any order, without regard to case.
pub fn matches_selection(options: &[OptionValue], selection: &[OptionValue]) -> bool {
    options.len() == selection.len()
        && selection.iter().all(|wanted| {
            options.iter().any(|have| {
                same_text(&have.name, &wanted.name) && same_text(&have.value, &wanted.value)
            })
        })
}

/// Checks that a variant with `candidate` options can sit beside the product's other variants
/// on sale (`siblings`): options it has differ from each of theirs (one variant per combination,
/// so that a selection names one variant; variants without options, as a product sold in one
/// form or told apart by title alone has, are exempt), and the product keeps at most
/// [`MAX_OPTIONS_PER_PRODUCT`] options.
pub fn check_beside<'a>(
    candidate: &'a [OptionValue],
    siblings: impl IntoIterator<Item = &'a [OptionValue]> + Clone,
) -> Result<(), Rejection> {
    if !candidate.is_empty()
        && siblings
            .clone()
            .into_iter()
            .any(|sibling| matches_selection(sibling, candidate))
    {
        return Err(Rejection::new(
            &["input", "options"],
            RejectionCode::Taken,
            "another variant of this product on sale has these options",
        ));
    }
    let all = product_options(siblings.into_iter().chain([candidate]));
    let named = candidate
        .iter()
        .all(|option| all.iter().any(|known| same_text(&known.name, &option.name)));
    if !named {
        return Err(Rejection::new(
            &["input", "options"],
            RejectionCode::LimitReached,
            format!("a product has at most {MAX_OPTIONS_PER_PRODUCT} options"),
        ));
    }
    Ok(())
}

/// Equal without regard to case. (No byte-length shortcut: lower-casing can change a string's
/// length in bytes, e.g. the Kelvin sign `K` becomes `k`.)
fn same_text(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

/// A shopper's selection as a client sends it, trimmed; `None` when it names more options than
/// a variant has ([`MAX_OPTIONS_PER_VARIANT`]), which no variant can match.
pub fn selection(pairs: impl IntoIterator<Item = (String, String)>) -> Option<Vec<OptionValue>> {
    let selection: Vec<OptionValue> = pairs
        .into_iter()
        .map(|(name, value)| OptionValue {
            name: name.trim().to_owned(),
            value: value.trim().to_owned(),
        })
        .collect();
    (selection.len() <= MAX_OPTIONS_PER_VARIANT).then_some(selection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> Vec<OptionValue> {
        pairs
            .iter()
            .map(|(name, value)| OptionValue {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect()
    }

    #[test]
    fn options_are_bounded_trimmed_and_named_once() {
        let option = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        assert_eq!(
            checked(vec![option(" Size ", "M")]).unwrap(),
            options(&[("Size", "M")])
        );
        let problems =
            checked(vec![option("", "M"), option("Colour", &"x".repeat(101))]).unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field.join(".")).collect();
        assert_eq!(fields, ["input.options.0.name", "input.options.1.value"]);
        let three = vec![option("a", "1"), option("b", "1"), option("c", "1")];
        assert!(checked(three.clone()).is_ok());
        assert!(checked([three, vec![option("d", "1")]].concat()).is_err());
        let twice = checked(vec![option("Size", "M"), option("size", "L")]).unwrap_err();
        assert_eq!(twice[0].field.join("."), "input.options.1.name");
    }

    #[test]
    fn product_options_keep_the_order_of_first_use() {
        let variants = [
            options(&[("Size", "M"), ("Colour", "Red")]),
            options(&[("Size", "S"), ("Colour", "red")]),
            options(&[("colour", "Blue"), ("Size", "M")]),
        ];
        let product = product_options(variants.iter().map(Vec::as_slice));
        assert_eq!(
            product,
            [
                ProductOption {
                    name: "Size".into(),
                    values: vec!["M".into(), "S".into()],
                },
                ProductOption {
                    name: "Colour".into(),
                    values: vec!["Red".into(), "Blue".into()],
                },
            ]
        );
    }

    #[test]
    fn a_selection_names_the_variant_with_exactly_those_options() {
        let variant = options(&[("Size", "M"), ("Colour", "Red")]);
        assert!(matches_selection(
            &variant,
            &options(&[("colour", "RED"), ("size", "m")])
        ));
        assert!(!matches_selection(&variant, &options(&[("Size", "M")])));
        assert!(!matches_selection(
            &variant,
            &options(&[("Size", "M"), ("Colour", "Blue")])
        ));
        assert!(matches_selection(&[], &[]));
        assert!(matches_selection(
            &options(&[("Temp", "\u{212A}")]),
            &options(&[("temp", "k")])
        ));
        let picked = selection([(" Size ".to_owned(), " M".to_owned())]).unwrap();
        assert_eq!(picked, options(&[("Size", "M")]));
        assert!(selection((0..4).map(|n| (n.to_string(), "v".to_owned()))).is_none());
    }

    #[test]
    fn two_variants_on_sale_never_share_options_and_a_product_has_three_at_most() {
        let siblings = [
            options(&[("Size", "M"), ("Colour", "Red")]),
            options(&[("Size", "S"), ("Colour", "Red")]),
        ];
        let beside = |candidate: &[OptionValue]| {
            check_beside(candidate, siblings.iter().map(Vec::as_slice)).map_err(|r| r.code)
        };
        assert_eq!(
            beside(&options(&[("colour", "red"), ("size", "m")])),
            Err(RejectionCode::Taken)
        );
        assert_eq!(
            beside(&options(&[("Size", "L"), ("Colour", "Red")])),
            Ok(())
        );
        assert_eq!(
            beside(&options(&[("Size", "L"), ("Fit", "Slim")])),
            Ok(()),
            "a third option"
        );
        let three = [options(&[
            ("Size", "M"),
            ("Colour", "Red"),
            ("Fit", "Slim"),
        ])];
        assert_eq!(
            check_beside(
                &options(&[("Size", "M"), ("Sleeve", "Long")]),
                three.iter().map(Vec::as_slice)
            )
            .map_err(|r| r.code),
            Err(RejectionCode::LimitReached)
        );
    }

    #[test]
    fn filter_conditions_group_values_by_name_and_find_them_in_stored_options() {
        let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
        let grouped = conditions([
            pair("Colour", " Red "),
            pair("Size", "M"),
            pair("Colour", "Blue"),
            pair("Colour", "Red"),
        ])
        .unwrap();
        assert_eq!(
            grouped,
            [
                OptionCondition {
                    name: "Colour".into(),
                    values: vec!["Red".into(), "Blue".into()]
                },
                OptionCondition {
                    name: "Size".into(),
                    values: vec!["M".into()]
                }
            ]
        );
        let stored = to_json(&options(&[("Size", "M"), ("Colour", "Blue")]));
        assert!(
            grouped[0]
                .stored_forms()
                .iter()
                .any(|f| stored.contains(f.as_str()))
        );
        assert!(
            grouped[1]
                .stored_forms()
                .iter()
                .all(|f| stored.contains(f.as_str()))
        );
        // A quote in a value cannot forge another element.
        let forged = to_json(&options(&[("Note", r#"x"},{"name":"Size","value":"M"#)]));
        assert!(!forged.contains(grouped[1].stored_forms()[0].as_str()));
        assert!(conditions([pair("Size", " ")]).is_err());
        assert!(conditions((0..11).map(|n| pair("Size", &n.to_string()))).is_err());
        assert!(conditions((0..10).map(|n| pair("Size", &n.to_string()))).is_ok());
    }
}
