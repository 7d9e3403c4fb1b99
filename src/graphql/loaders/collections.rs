//! Batched collection reads: collections by id, the collections of many products, and one
//! window of members of many collections, in one statement each.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key, load_windows};
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
        let ids = keys.to_vec();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(collection::by_ids(conn, &ids, visibility)?))
            .await?;
        Ok(rows.into_iter().map(|c| (c.id, c)).collect())
    }
}

impl Loader<CollectionsOf> for DbLoader {
    type Value = Arc<[Collection]>;
    type Error = AppError;

    async fn load(&self, keys: &[CollectionsOf]) -> LoadResult<CollectionsOf, Arc<[Collection]>> {
        let ids: Vec<ProductId> = keys.iter().map(|k| k.0).collect();
        let visibility = self.visibility;
        let rows = self
            .db
            .run(move |conn| Ok(collection::of_products(conn, &ids, visibility)?))
            .await?;
        let grouped = group_by_key(
            keys,
            rows,
            |(product, _)| Some(CollectionsOf(*product)),
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

    async fn load(&self, keys: &[CollectionMembers]) -> LoadResult<CollectionMembers, Vec<Member>> {
        let visibility = self.visibility;
        load_windows(
            &self.db,
            keys,
            |key| (key.window, key.collection),
            |window, collection| CollectionMembers { collection, window },
            move |conn, collections, window| {
                let members = collection::windows(conn, collections, visibility, window)?;
                Ok(members.into_iter().map(|m| (m.collection_id, m)).collect())
            },
        )
        .await
    }
}
