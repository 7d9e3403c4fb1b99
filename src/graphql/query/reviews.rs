//! Review queries: the staff moderation queue.

use crate::error::AppError;
use async_graphql::{Context, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::paging::page_size;
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
        #[graphql(
            desc = "How many: 0 to 100, by default 20 (checked as `first` is on every list).",
            default = 20
        )]
        first: i32,
    ) -> Result<Vec<ReviewNode>> {
        let size = page_size("first", first).map_err(AppError::BadUserInput)?;
        let rows = product_reviews::pending(&ctx.request()?.db, size).await?;
        Ok(rows.into_iter().map(ReviewNode::from).collect())
    }
}
