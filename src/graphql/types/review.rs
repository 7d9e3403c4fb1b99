//! `Review` and `ProductRating`.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::product_review::ReviewRow;
use crate::domain::reviews::author_name;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::ProductNode;
use crate::graphql::types::product::visible_product;

/// Where a review is in moderation.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::reviews::ReviewStatus")]
pub enum ReviewStatus {
    /// Waiting for staff; only its author and staff see it.
    Pending,
    /// Shown on the product.
    Approved,
    /// Not shown.
    Rejected,
}

crate::connection_types!(
    ReviewConnection,
    ReviewEdge,
    ReviewNode,
    "A page of reviews.",
    "A review in a list."
);

/// A customer's review of a product.
pub struct ReviewNode(pub ReviewRow);

impl From<ReviewRow> for ReviewNode {
    fn from(row: ReviewRow) -> Self {
        Self(row)
    }
}

/// A customer's review of a product.
#[Object(name = "Review")]
impl ReviewNode {
    /// Globally unique id.
    pub(crate) async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Review, self.0.id).into()
    }

    /// 1 to 5 stars.
    async fn rating(&self) -> i32 {
        self.0.rating
    }

    /// Headline.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The review itself; may be empty.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Whether the author bought the product (a paid or fulfilled order).
    async fn verified_purchase(&self) -> bool {
        self.0.verified_purchase
    }

    /// Moderation status.
    async fn status(&self) -> ReviewStatus {
        self.0.status.into()
    }

    /// The author as shown: first name and last initial.
    async fn author_name(&self) -> String {
        author_name(&self.0.author_first_name, &self.0.author_last_name)
    }

    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }

    /// The product reviewed; null when the caller may not see it (not active, for customers).
    async fn product(&self, ctx: &Context<'_>) -> Result<Option<ProductNode>> {
        visible_product(ctx, self.0.product_id).await
    }
}

/// What customers think of a product, from its approved reviews.
#[derive(SimpleObject, Debug, Clone, Copy)]
pub struct ProductRating {
    /// Mean rating (1–5); null without approved reviews.
    pub average: Option<f64>,
    /// Approved reviews.
    pub count: i32,
}

impl ProductRating {
    /// From a count of reviews and the sum of their ratings.
    pub fn new(count: i64, sum: i64) -> Self {
        Self {
            average: (count > 0).then(|| (sum as f64 / count as f64 * 100.0).round() / 100.0),
            count: super::saturating_int(count),
        }
    }
}
