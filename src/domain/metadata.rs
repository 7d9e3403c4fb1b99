//! Metadata: the key-value pairs staff and partners attach to products, variants, orders and
//! accounts; what may own them, what a key and a value may hold, and how many one owner keeps.

use std::collections::BTreeMap;

use crate::domain::ids::{AccountId, OrderId, ProductId, VariantId};
use crate::domain::partners::Scope;
use crate::domain::rejection::{Rejection, RejectionCode};

/// Most entries of one owner on each side (public and private).
pub const MAX_METADATA_ENTRIES: usize = 50;
/// Longest key, in characters.
pub const MAX_METADATA_KEY_CHARS: usize = 100;
/// Longest value, in characters.
pub const MAX_METADATA_VALUE_CHARS: usize = 2_000;
/// Most conditions of one metadata filter.
pub const MAX_METADATA_FILTERS: usize = 5;

/// What metadata belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetadataOwner {
    /// A product.
    Product(ProductId),
    /// A product variant.
    Variant(VariantId),
    /// An order.
    Order(OrderId),
    /// An account.
    Account(AccountId),
}

impl MetadataOwner {
    /// The owner's row id.
    pub fn id(self) -> i64 {
        match self {
            Self::Product(ProductId(id))
            | Self::Variant(VariantId(id))
            | Self::Order(OrderId(id))
            | Self::Account(AccountId(id)) => id,
        }
    }

    /// The scope a partner key needs to read the owner's private entries.
    pub fn read_scope(self) -> Scope {
        match self {
            Self::Product(_) | Self::Variant(_) => Scope::ReadProducts,
            Self::Order(_) => Scope::ReadOrders,
            Self::Account(_) => Scope::ReadCustomers,
        }
    }

    /// The scope a partner key needs to change the owner's entries.
    pub fn write_scope(self) -> Scope {
        match self {
            Self::Product(_) | Self::Variant(_) => Scope::WriteProducts,
            Self::Order(_) => Scope::WriteOrders,
            Self::Account(_) => Scope::WriteCustomers,
        }
    }
}

/// A checked key: 1 to 100 characters, each a letter, a digit or one of `_ - . : /`, so that
/// partners can namespace their keys (`erp.id`, `acme:sku`).
pub fn check_key(key: &str) -> Result<(), Rejection> {
    let length = key.chars().count();
    if length == 0 || length > MAX_METADATA_KEY_CHARS {
        return Err(Rejection::new(
            &["key"],
            if length == 0 {
                RejectionCode::TooShort
            } else {
                RejectionCode::TooLong
            },
            format!("a metadata key has 1 to {MAX_METADATA_KEY_CHARS} characters"),
        ));
    }
    if !key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'))
    {
        return Err(Rejection::new(
            &["key"],
            RejectionCode::Invalid,
            "a metadata key holds only letters, digits and `_ - . : /`",
        ));
    }
    Ok(())
}

/// A checked value: at most 2,000 characters (any text; the empty string is a value).
pub fn check_value(value: &str) -> Result<(), Rejection> {
    if value.chars().count() > MAX_METADATA_VALUE_CHARS {
        return Err(Rejection::new(
            &["value"],
            RejectionCode::TooLong,
            format!("a metadata value has at most {MAX_METADATA_VALUE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// The entries to write, checked: each key and value valid, no key twice, at most
/// [`MAX_METADATA_ENTRIES`]. Rejections point at `items[i]`.
pub fn checked_entries(
    entries: Vec<(String, String)>,
) -> Result<BTreeMap<String, String>, Rejection> {
    if entries.len() > MAX_METADATA_ENTRIES {
        return Err(Rejection::new(
            &["items"],
            RejectionCode::LimitReached,
            format!("at most {MAX_METADATA_ENTRIES} metadata entries"),
        ));
    }
    let mut checked = BTreeMap::new();
    for (index, (key, value)) in entries.into_iter().enumerate() {
        let at = |rejection: Rejection| rejection.under(&index.to_string()).under("items");
        check_key(&key).map_err(at)?;
        check_value(&value).map_err(at)?;
        if checked.insert(key, value).is_some() {
            return Err(at(Rejection::new(
                &["key"],
                RejectionCode::Invalid,
                "the same key is given twice",
            )));
        }
    }
    Ok(checked)
}

/// The keys to delete, checked (each a valid key, at most [`MAX_METADATA_ENTRIES`]), without
/// repeats.
pub fn checked_keys(keys: Vec<String>) -> Result<Vec<String>, Rejection> {
    if keys.len() > MAX_METADATA_ENTRIES {
        return Err(Rejection::new(
            &["keys"],
            RejectionCode::LimitReached,
            format!("at most {MAX_METADATA_ENTRIES} keys"),
        ));
    }
    for (index, key) in keys.iter().enumerate() {
        check_key(key).map_err(|rejection| Rejection {
            field: vec!["keys".to_owned(), index.to_string()],
            ..rejection
        })?;
    }
    let mut keys = keys;
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// One condition of a metadata filter: the owner has an entry with this key (and this value,
/// when given).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetadataCondition {
    /// The key.
    pub key: String,
    /// The value, when it matters.
    pub value: Option<String>,
    /// Whether the entry is private.
    pub private: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_and_plain() {
        assert!(check_key("erp.id").is_ok());
        assert!(check_key("acme:warehouse/bin-4_b").is_ok());
        assert_eq!(check_key("").unwrap_err().code, RejectionCode::TooShort);
        assert_eq!(
            check_key(&"k".repeat(101)).unwrap_err().code,
            RejectionCode::TooLong
        );
        assert!(check_key(&"k".repeat(100)).is_ok());
        for bad in ["with space", "naïve", "semi;colon", "new\nline"] {
            assert_eq!(check_key(bad).unwrap_err().code, RejectionCode::Invalid);
        }
    }

    #[test]
    fn values_are_bounded_in_characters() {
        assert!(check_value("").is_ok());
        assert!(check_value(&"é".repeat(2_000)).is_ok());
        assert_eq!(
            check_value(&"é".repeat(2_001)).unwrap_err().code,
            RejectionCode::TooLong
        );
    }

    #[test]
    fn entries_refuse_repeats_and_point_at_the_item() {
        let entries = vec![
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("a".to_owned(), "3".to_owned()),
        ];
        let refused = checked_entries(entries).unwrap_err();
        assert_eq!(refused.field, ["items", "2", "key"]);
        let bad_key = checked_entries(vec![("x y".into(), String::new())]).unwrap_err();
        assert_eq!(bad_key.field, ["items", "0", "key"]);
        let too_many = (0..51).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(
            checked_entries(too_many).unwrap_err().code,
            RejectionCode::LimitReached
        );
        let fine = checked_entries(vec![("b".into(), "2".into()), ("a".into(), "1".into())]);
        assert_eq!(
            fine.unwrap().into_iter().next(),
            Some(("a".into(), "1".into()))
        );
    }

    #[test]
    fn keys_to_delete_are_checked_and_deduplicated() {
        assert_eq!(
            checked_keys(vec!["b".into(), "a".into(), "b".into()]).unwrap(),
            ["a", "b"]
        );
        assert_eq!(
            checked_keys(vec!["ok".into(), "not ok".into()])
                .unwrap_err()
                .field,
            ["keys", "1"]
        );
    }

    #[test]
    fn owners_keep_their_kind_and_need_their_scopes() {
        let owner = MetadataOwner::Order(OrderId(3));
        assert_eq!(owner.id(), 3);
        assert_eq!(owner.read_scope(), Scope::ReadOrders);
        assert_eq!(
            MetadataOwner::Account(AccountId(1)).write_scope(),
            Scope::WriteCustomers
        );
    }
}
