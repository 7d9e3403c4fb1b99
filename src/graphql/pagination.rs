//! Relay connection arguments and opaque keyset cursors (base64url of a small JSON value; no
//! OFFSET anywhere). The paging rules themselves are in `domain::paging`. A cursor is client
//! input like any other: a forged one is decoded, its strings checked by the input rules and its
//! position by [`CursorKey::check`] before it reaches SQL.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::models::collection::MemberKey;
use crate::db::models::product::ProductKey;
use crate::domain::feeds::RowKey;
use crate::domain::instant;
use crate::domain::paging::PageRequest;
use crate::error::AppError;
use crate::graphql::input_rules;

/// A position a cursor names.
pub trait CursorKey: DeserializeOwned {
    /// Refuses a decoded position no list holds and no column can store (a forged timestamp
    /// thousands of years out of range).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// An id.
impl CursorKey for i64 {}

/// A position in a list walked by creation or by change.
impl CursorKey for RowKey {}

/// A position in a collection's product list.
impl CursorKey for MemberKey {}

/// A position in a sorted product list.
impl CursorKey for ProductKey {
    fn check(&self) -> Result<(), String> {
        match self {
            Self::CreatedAt(at, _) => instant::check(*at).map(drop),
            Self::Name(..) | Self::Price(..) | Self::UpdatedAt(..) => Ok(()),
        }
    }
}

/// Checks connection arguments and decodes their cursors; any problem is `BAD_USER_INPUT`.
pub fn page_request<K: CursorKey>(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> Result<PageRequest<K>, AppError> {
    let after = after.as_deref().map(decode_cursor).transpose()?;
    let before = before.as_deref().map(decode_cursor).transpose()?;
    PageRequest::new(first, last, after, before).map_err(AppError::BadUserInput)
}

/// Checks the `first` of a list that is not a connection against the list's maximum: 0 to
/// `most`, else `BAD_USER_INPUT`.
pub fn list_size(first: i32, most: usize) -> Result<usize, AppError> {
    crate::domain::paging::list_size(first, most).map_err(AppError::BadUserInput)
}

/// Encodes a position as an opaque cursor.
pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    // Positions are plain data (strings, numbers, timestamps): serialising cannot fail.
    let json = serde_json::to_vec(key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// Decodes a cursor made by [`encode_cursor`]; anything else is `BAD_USER_INPUT`.
pub fn decode_cursor<K: CursorKey>(cursor: &str) -> Result<K, AppError> {
    let invalid = || AppError::bad_input(format!("{cursor:?} is not a valid cursor"));
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_slice(&json).map_err(|_| invalid())?;
    input_rules::check_json(&value).map_err(|_| invalid())?;
    let key: K = serde_json::from_value(value).map_err(|_| invalid())?;
    key.check().map_err(|_| invalid())?;
    Ok(key)
}

/// Declares a Relay connection type and its edge type for one kind of node, with a
/// constructor from a [`Page`](crate::domain::paging::Page).
#[macro_export]
macro_rules! connection_types {
    ($connection:ident, $edge:ident, $node:ty, $connection_doc:literal, $edge_doc:literal) => {
        #[doc = $connection_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $connection {
            /// The items of this page, in list order, each with its cursor.
            pub edges: Vec<$edge>,
            /// Where this page lies in the whole list.
            pub page_info: async_graphql::connection::PageInfo,
        }

        #[doc = $edge_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            /// Opaque position of this item: pass it as `after` or `before`.
            pub cursor: String,
            /// The item.
            pub node: $node,
        }

        impl $connection {
            /// Builds the connection of `page`, naming each item's position with `cursor`.
            pub fn from_page<T>(
                page: $crate::domain::paging::Page<T>,
                cursor: impl Fn(&T) -> String,
            ) -> Self
            where
                $node: From<T>,
            {
                let edges: Vec<$edge> = page
                    .items
                    .into_iter()
                    .map(|item| $edge {
                        cursor: cursor(&item),
                        node: <$node>::from(item),
                    })
                    .collect();
                let page_info = async_graphql::connection::PageInfo {
                    has_previous_page: page.has_previous,
                    has_next_page: page.has_next,
                    start_cursor: edges.first().map(|edge| edge.cursor.clone()),
                    end_cursor: edges.last().map(|edge| edge.cursor.clone()),
                };
                Self { edges, page_info }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = ProductKey::Name("Mug".to_owned(), 7);
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor::<ProductKey>(&cursor).unwrap(), key);
        assert!(decode_cursor::<ProductKey>("not a cursor!").is_err());
        assert!(decode_cursor::<ProductKey>(&encode_cursor(&42)).is_err());
        assert_eq!(decode_cursor::<i64>(&encode_cursor(&42)).unwrap(), 42);
    }

    #[test]
    fn forged_cursors_are_refused() {
        let nul = ProductKey::Name("bad\u{0}".to_owned(), 7);
        assert!(decode_cursor::<ProductKey>(&encode_cursor(&nul)).is_err());
        let ancient = "-200000-01-01T00:00:00".parse().unwrap();
        let forged = ProductKey::CreatedAt(ancient, 7);
        assert!(decode_cursor::<ProductKey>(&encode_cursor(&forged)).is_err());
        let fine = ProductKey::CreatedAt("2024-01-01T00:00:00".parse().unwrap(), 7);
        assert!(decode_cursor::<ProductKey>(&encode_cursor(&fine)).is_ok());
    }
}
