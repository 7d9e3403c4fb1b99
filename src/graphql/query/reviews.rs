//! Review queries: the staff moderation queue.

use crate::error::AppError;
use async_graphql::{Context, Object, Result};

use crate::domain::accounts::Role;
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::RoleGuard;
use crate::graphql::types::review::ReviewNode;
use crate::services::product_reviews;

/// The staff moderation queue.
#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// Reviews waiting for moderation, oldest first (staff).
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn reviews_to_moderate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many: 1 to 100, by default 20.", default = 20)] first: i32,
    ) -> Result<Vec<ReviewNode>> {
        if !(1..=100).contains(&first) {
            return Err(AppError::bad_input(format!(
                "`first` must be between 1 and 100, got {first}"
            ))
            .into());
        }
        let limit = i64::from(first);
        let rows = product_reviews::pending(&ctx.request()?.db, limit).await?;
        Ok(rows.into_iter().map(ReviewNode::from).collect())
    }
}
