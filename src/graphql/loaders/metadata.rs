//! Metadata by owner: one statement per kind of owner and side (public or private) for every
//! owner of the request.

use std::collections::HashMap;
use std::mem::{Discriminant, discriminant};
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key};
use crate::db::models::metadata::{self, MetadataRow};
use crate::domain::metadata::{MAX_METADATA_ENTRIES, MetadataOwner};
use crate::error::AppError;

/// The public or private metadata of an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetadataOf {
    /// Whose.
    pub owner: MetadataOwner,
    /// Which side.
    pub private: bool,
}

impl Loader<MetadataOf> for DbLoader {
    type Value = Arc<[MetadataRow]>;
    type Error = AppError;

    async fn load(&self, keys: &[MetadataOf]) -> LoadResult<MetadataOf, Arc<[MetadataRow]>> {
        let mut batches: HashMap<(Discriminant<MetadataOwner>, bool), (MetadataOwner, Vec<i64>)> =
            HashMap::new();
        for key in keys {
            batches
                .entry((discriminant(&key.owner), key.private))
                .or_insert_with(|| (key.owner, Vec::new()))
                .1
                .push(key.owner.id());
        }
        let rows = self
            .db
            .run(move |conn| {
                let mut rows = Vec::new();
                for ((_, private), (kind, ids)) in batches {
                    rows.extend(metadata::of_owners(conn, kind, &ids, private)?);
                }
                Ok(rows)
            })
            .await?;
        let key_of = |row: &MetadataRow| {
            row.owner().map(|owner| MetadataOf {
                owner,
                private: row.private,
            })
        };
        Ok(group_by_key(keys, rows, key_of, MAX_METADATA_ENTRIES))
    }
}
