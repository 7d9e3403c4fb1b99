//! Batched review reads: reviews by id, the rating of many products, and their newest approved
//! reviews, in one statement each.

use std::sync::Arc;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, group_by_key};
use crate::db::models::product_review::{self, ReviewRow};
use crate::domain::bounds::REVIEWS_SHOWN;
use crate::domain::ids::{ProductId, ReviewId};
use crate::error::AppError;

/// The rating of a product: (approved reviews, sum of their ratings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RatingOf(pub ProductId);

/// The newest approved reviews of a product (at most [`REVIEWS_SHOWN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReviewsOf(pub ProductId);

impl Loader<ReviewId> for DbLoader {
    type Value = ReviewRow;
    type Error = AppError;

    async fn load(&self, keys: &[ReviewId]) -> LoadResult<ReviewId, ReviewRow> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(product_review::by_ids(conn, &ids)?))
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| (ReviewId(row.id), row))
            .collect())
    }
}

impl Loader<RatingOf> for DbLoader {
    type Value = (i64, i64);
    type Error = AppError;

    async fn load(&self, keys: &[RatingOf]) -> LoadResult<RatingOf, (i64, i64)> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(product_review::ratings_of(conn, &ids)?))
            .await?;
        let mut ratings: std::collections::HashMap<RatingOf, (i64, i64)> = rows
            .into_iter()
            .map(|(product, count, sum)| (RatingOf(ProductId(product)), (count, sum.unwrap_or(0))))
            .collect();
        for key in keys {
            ratings.entry(*key).or_insert((0, 0));
        }
        Ok(ratings)
    }
}

impl Loader<ReviewsOf> for DbLoader {
    type Value = Arc<[ReviewRow]>;
    type Error = AppError;

    async fn load(&self, keys: &[ReviewsOf]) -> LoadResult<ReviewsOf, Arc<[ReviewRow]>> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(product_review::approved_of(conn, &ids)?))
            .await?;
        let product = |r: &ReviewRow| Some(ReviewsOf(ProductId(r.product_id)));
        Ok(group_by_key(keys, rows, product, REVIEWS_SHOWN))
    }
}
