//! Batched review reads: reviews by id, the rating of many products, and a page of each one's
//! approved reviews, in one statement each.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;

use super::catalog::{DbLoader, LoadResult, load_windows};
use crate::db::models::product_review::{self, ReviewRow};
use crate::domain::ids::{ProductId, ReviewId};
use crate::domain::paging::IdWindow;
use crate::error::AppError;

/// The rating of a product: (approved reviews, sum of their ratings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RatingOf(pub ProductId);

/// One window of a product's approved reviews, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReviewsPage {
    /// The product.
    pub product: ProductId,
    /// Which reviews.
    pub window: IdWindow,
}

impl Loader<ReviewId> for DbLoader {
    type Value = ReviewRow;
    type Error = AppError;

    async fn load(&self, keys: &[ReviewId]) -> LoadResult<ReviewId, ReviewRow> {
        let ids = keys.to_vec();
        let rows = self
            .db
            .run(move |conn| Ok(product_review::by_ids(conn, &ids)?))
            .await?;
        Ok(rows.into_iter().map(|row| (row.id, row)).collect())
    }
}

impl Loader<RatingOf> for DbLoader {
    type Value = (i64, i64);
    type Error = AppError;

    async fn load(&self, keys: &[RatingOf]) -> LoadResult<RatingOf, (i64, i64)> {
        let ids: Vec<ProductId> = keys.iter().map(|k| k.0).collect();
        let rows = self
            .db
            .run(move |conn| Ok(product_review::ratings_of(conn, &ids)?))
            .await?;
        let mut ratings: HashMap<RatingOf, (i64, i64)> = rows
            .into_iter()
            .map(|(product, count, sum)| (RatingOf(product), (count, sum.unwrap_or(0))))
            .collect();
        for key in keys {
            ratings.entry(*key).or_insert((0, 0));
        }
        Ok(ratings)
    }
}

impl Loader<ReviewsPage> for DbLoader {
    type Value = Vec<ReviewRow>;
    type Error = AppError;

    async fn load(&self, keys: &[ReviewsPage]) -> LoadResult<ReviewsPage, Vec<ReviewRow>> {
        load_windows(
            &self.db,
            keys,
            |key| (key.window, key.product),
            |window, product| ReviewsPage { product, window },
            |conn, products, window| {
                let reviews = product_review::approved_windows(conn, products, window)?;
                Ok(reviews.into_iter().map(|r| (r.product_id, r)).collect())
            },
        )
        .await
    }
}
