//! Batched collection reads: collections by id, the collections of many products, and one
//! window of members of many collections, in one statement each.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key, raw_ids};
use crate::db::models::collection::{self, Collection, Member, MemberWindow};
use crate::domain::bounds::MAX_COLLECTIONS_PER_PRODUCT;
use crate::domain::ids::{CollectionId, ProductId};
use crate::error::AppError;

/// The collections a product is in, by title (at most [`MAX_COLLECTIONS_PER_PRODUCT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectionsOf(pub ProductId);

/// One window of a collection's members whose products the caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CollectionMembers {
    /// The collection.
    pub collection: CollectionId,
    /// Which members.
    pub window: MemberWindow,
}

impl Loader<CollectionId> for DbLoader {
    type Value = Collection;
    type Error = AppError;

    async fn load(&self, keys: &[CollectionId]) -> LoadResult<CollectionId, Collection> {
        let ids = raw_ids(keys);
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(collection::by_ids(conn, &ids, visibility)?))
            .await?;
        Ok(rows.into_iter().map(|c| (CollectionId(c.id), c)).collect())
    }
}

impl Loader<CollectionsOf> for DbLoader {
    type Value = Arc<[Collection]>;
    type Error = AppError;

    async fn load(&self, keys: &[CollectionsOf]) -> LoadResult<CollectionsOf, Arc<[Collection]>> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0.0).collect();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(collection::of_products(conn, &ids, visibility)?))
            .await?;
        let grouped = group_by_key(
            keys,
            rows,
            |(product, _)| Some(CollectionsOf(ProductId(*product))),
            MAX_COLLECTIONS_PER_PRODUCT,
        );
        Ok(grouped
            .into_iter()
            .map(|(key, rows)| (key, rows.iter().map(|(_, c)| c.clone()).collect()))
            .collect())
    }
}

impl Loader<CollectionMembers> for DbLoader {
    type Value = Vec<Member>;
    type Error = AppError;

    /// One statement per distinct window (normally one: every collection asked the same page).
    async fn load(&self, keys: &[CollectionMembers]) -> LoadResult<CollectionMembers, Vec<Member>> {
        let mut windows: HashMap<MemberWindow, Vec<i64>> = HashMap::new();
        for key in keys {
            windows
                .entry(key.window)
                .or_default()
                .push(key.collection.0);
        }
        let visibility = self.visibility;
        let results = self
            .db
            .run(move |conn| {
                windows
                    .into_iter()
                    .map(|(window, ids)| {
                        Ok((
                            window,
                            collection::windows(conn, &ids, visibility, &window)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, AppError>>()
            })
            .await?;
        let mut pages: HashMap<CollectionMembers, Vec<Member>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (window, members) in results {
            for member in members {
                let key = CollectionMembers {
                    collection: CollectionId(member.collection_id),
                    window,
                };
                pages.entry(key).or_default().push(member);
            }
        }
        Ok(pages)
    }
}
