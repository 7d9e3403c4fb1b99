//! Batched discount code reads by id, for `node(id:)` and `nodes(ids:)`. Only staff may ask:
//! the resolver checks before it does.

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult};
use crate::db::models::discount::{self, DiscountCode};
use crate::domain::ids::DiscountCodeId;
use crate::error::AppError;

impl Loader<DiscountCodeId> for DbLoader {
    type Value = DiscountCode;
    type Error = AppError;

    async fn load(&self, keys: &[DiscountCodeId]) -> LoadResult<DiscountCodeId, DiscountCode> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(discount::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|code| (code.id, code)).collect())
    }
}
