//! Relay connection arguments and opaque keyset cursors (base64url of a small JSON value; no
//! OFFSET anywhere). The paging rules themselves are in `domain::paging`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::paging::PageRequest;
use crate::error::AppError;

/// Checks connection arguments and decodes their cursors; any problem is `BAD_USER_INPUT`.
pub fn page_request<K: DeserializeOwned>(
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
pub fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, AppError> {
    let invalid = || AppError::bad_input(format!("{cursor:?} is not a valid cursor"));
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    serde_json::from_slice(&json).map_err(|_| invalid())
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
        let key = ("Mug".to_owned(), 7_i64);
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor::<(String, i64)>(&cursor).unwrap(), key);
        assert!(decode_cursor::<(String, i64)>("not a cursor!").is_err());
        assert!(decode_cursor::<(String, i64)>(&encode_cursor(&42)).is_err());
    }
}
