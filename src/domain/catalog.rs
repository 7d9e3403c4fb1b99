//! Catalog rules: product status and who sees what, slugs, the text search matches, and a
//! variant's options.

use std::collections::HashMap;

/// Lifecycle of a product. Customers see `Active` products only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProductStatus {
    /// Being prepared by staff; hidden from customers.
    Draft,
    /// On sale.
    Active,
    /// No longer sold; hidden from customers, kept for order history.
    Archived,
}

crate::domain::text_enum!(ProductStatus {
    Draft => "DRAFT",
    Active => "ACTIVE",
    Archived => "ARCHIVED",
});

/// Which products a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogVisibility {
    /// Customers and anonymous callers: active products only.
    Storefront,
    /// Staff: every product, whatever its status.
    Everything,
}

impl CatalogVisibility {
    /// Whether a category archived at `archived_at` (if ever) is shown.
    pub fn shows_category(self, archived: bool) -> bool {
        self == Self::Everything || !archived
    }

    /// Whether a variant, archived or not, of a product in `product_status` is shown.
    pub fn shows_variant(self, product_status: ProductStatus, archived: bool) -> bool {
        self == Self::Everything || (product_status == ProductStatus::Active && !archived)
    }
}

/// The text a product's search matches: its name, description and SKUs, lower-cased.
pub fn search_text<'a>(
    name: &str,
    description: &str,
    skus: impl IntoIterator<Item = &'a str>,
) -> String {
    let mut text = format!("{name} {description}");
    for sku in skus {
        text.push(' ');
        text.push_str(sku);
    }
    text.to_lowercase()
}

/// A SKU as stored: trimmed and upper-cased, so that `abc-1 ` and `ABC-1` name one variant.
pub fn normalize_sku(raw: &str) -> String {
    raw.trim().to_uppercase()
}

/// Longest SKU, in bytes.
pub const MAX_SKU_LEN: usize = 64;

/// The most one unit of a variant may weigh, in grams (10 tonnes).
pub const MAX_WEIGHT_GRAMS: i64 = 10_000_000;

/// Whether a normalised SKU is well formed: 1 to [`MAX_SKU_LEN`] ASCII letters, digits, `-` or
/// `_`. No stored variant has any other.
pub fn is_valid_sku(sku: &str) -> bool {
    !sku.is_empty()
        && sku.len() <= MAX_SKU_LEN
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Longest search phrase accepted, in characters (SQLite refuses `LIKE` patterns over 50,000
/// bytes; no product is found by a paragraph).
pub const MAX_SEARCH_CHARS: usize = 100;

/// A search phrase as matched against [`search_text`]: trimmed, lower-cased, with `LIKE`
/// wildcards escaped (escape character `\`). `None` for a blank phrase, which matches everything;
/// an error for one longer than [`MAX_SEARCH_CHARS`] or holding a control character.
pub fn search_pattern(phrase: &str) -> Result<Option<String>, String> {
    if phrase.chars().count() > MAX_SEARCH_CHARS || phrase.chars().any(char::is_control) {
        return Err(format!(
            "a search phrase has at most {MAX_SEARCH_CHARS} characters, none of them control \
             characters"
        ));
    }
    let phrase = phrase.trim().to_lowercase();
    if phrase.is_empty() {
        return Ok(None);
    }
    let mut pattern = String::with_capacity(phrase.len() + 2);
    pattern.push('%');
    for c in phrase.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    Ok(Some(pattern))
}

/// Makes a URL slug from a name: lower-case ASCII letters and digits joined by single hyphens.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_owned()
}

/// The category tree as its materialised paths (`/1/5/` is category 5 under category 1): which
/// categories lie under which.
#[derive(Debug, Default)]
pub struct CategoryTree {
    ids_by_slug: HashMap<String, i64>,
    paths: Vec<(i64, String)>,
}

impl CategoryTree {
    /// The tree of these categories: `(id, slug, path)` each.
    pub fn new(categories: impl IntoIterator<Item = (i64, String, String)>) -> Self {
        let mut tree = Self::default();
        for (id, slug, path) in categories {
            tree.ids_by_slug.insert(slug, id);
            tree.paths.push((id, path));
        }
        tree
    }

    /// Every category's id and materialised path (`/1/5/9/`).
    pub fn paths(&self) -> impl Iterator<Item = (i64, &str)> {
        self.paths.iter().map(|(id, path)| (*id, path.as_str()))
    }

    /// The id of the category with this slug and the ids of all its descendants; `None` when no
    /// category has that slug.
    pub fn subtree_of_slug(&self, slug: &str) -> Option<Vec<i64>> {
        self.subtree_of_id(*self.ids_by_slug.get(slug)?)
    }

    /// This id and the ids of all its descendants, in id order; `None` when there is no such
    /// category.
    pub fn subtree_of_id(&self, id: i64) -> Option<Vec<i64>> {
        let (_, root) = self.paths.iter().find(|(candidate, _)| *candidate == id)?;
        let mut ids: Vec<i64> = self
            .paths
            .iter()
            .filter(|(_, path)| path.starts_with(root.as_str()))
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        Some(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_normalised_and_checked() {
        assert_eq!(normalize_sku("  abc-1_x "), "ABC-1_X");
        assert!(is_valid_sku(&normalize_sku(" tee-m ")));
        assert!(!is_valid_sku(""));
        assert!(!is_valid_sku("A B"));
        assert!(!is_valid_sku(&"A".repeat(MAX_SKU_LEN + 1)));
        assert!(is_valid_sku(&"A".repeat(MAX_SKU_LEN)));
    }

    #[test]
    fn the_storefront_shows_live_variants_of_active_products_only() {
        let storefront = CatalogVisibility::Storefront;
        assert!(storefront.shows_variant(ProductStatus::Active, false));
        assert!(!storefront.shows_variant(ProductStatus::Active, true));
        assert!(!storefront.shows_variant(ProductStatus::Draft, false));
        assert!(!storefront.shows_variant(ProductStatus::Archived, false));
        assert!(CatalogVisibility::Everything.shows_variant(ProductStatus::Draft, true));
    }

    #[test]
    fn status_round_trips_through_its_stored_form() {
        for status in [
            ProductStatus::Draft,
            ProductStatus::Active,
            ProductStatus::Archived,
        ] {
            assert_eq!(status.as_str().parse::<ProductStatus>(), Ok(status));
        }
        assert!("active".parse::<ProductStatus>().is_err());
    }

    #[test]
    fn search_patterns_escape_wildcards() {
        assert_eq!(search_pattern("  Mug "), Ok(Some("%mug%".into())));
        assert_eq!(
            search_pattern("100%_off\\"),
            Ok(Some("%100\\%\\_off\\\\%".into()))
        );
        assert_eq!(search_pattern("   "), Ok(None));
        assert!(search_pattern("mug\u{0}").is_err());
        assert!(search_pattern(&"m".repeat(MAX_SEARCH_CHARS + 1)).is_err());
    }

    #[test]
    fn search_text_lowercases_everything() {
        assert_eq!(
            search_text("Blue Mug", "Big", ["MUG-1"]),
            "blue mug big mug-1"
        );
    }

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("Coffee & Tea — Mugs!"), "coffee-tea-mugs");
        assert_eq!(slugify("  Émile's 2 Chairs "), "mile-s-2-chairs");
    }

    #[test]
    fn a_subtree_holds_the_category_and_everything_below_it() {
        let tree = CategoryTree::new([
            (1, "apparel".into(), "/1/".into()),
            (2, "shirts".into(), "/1/2/".into()),
            (3, "tees".into(), "/1/2/3/".into()),
            (10, "mugs".into(), "/10/".into()),
            (11, "hats".into(), "/1/11/".into()),
        ]);
        assert_eq!(tree.subtree_of_slug("apparel"), Some(vec![1, 2, 3, 11]));
        assert_eq!(tree.subtree_of_slug("shirts"), Some(vec![2, 3]));
        assert_eq!(tree.subtree_of_id(10), Some(vec![10]));
        assert_eq!(tree.subtree_of_slug("unknown"), None);
        assert_eq!(tree.subtree_of_id(4), None);
    }
}
