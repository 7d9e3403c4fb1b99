//! Review mutations: customers write and edit their own reviews; staff moderate.

use async_graphql::{Context, ID, InputObject, Object, Result};

use crate::domain::accounts::Role;
use crate::domain::ids::{ProductId, ReviewId};
use crate::graphql::context::ContextExt as _;
use crate::graphql::guards::{RoleGuard, signed_in};
use crate::graphql::ids::GlobalId;
use crate::graphql::types::review::{ReviewNode, ReviewStatus};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::product_reviews;

/// A review's content.
#[derive(InputObject)]
pub struct ReviewInput {
    /// 1 to 5 stars.
    pub rating: i32,
    /// Headline, 1–150 characters.
    pub title: String,
    /// The review, at most 5,000 characters.
    #[graphql(default)]
    pub body: String,
}

payload!(
    /// The result of a review mutation.
    ReviewPayload {
        /// The review as stored.
        review: Option<ReviewNode>,
    }
);

/// Review writes.
#[derive(Default)]
pub struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Reviews a product, once per customer; shown after staff approve it. Marked a verified
    /// purchase when you have a paid order with the product.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn review_submit(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The product.")] product_id: ID,
        #[graphql(desc = "The review.")] input: ReviewInput,
    ) -> Result<ReviewPayload> {
        let author = signed_in(ctx)?;
        let product = GlobalId::parse_as::<ProductId>(&product_id)?;
        let result = product_reviews::submit(
            &ctx.request()?.db,
            author,
            product,
            input.rating,
            input.title,
            input.body,
        )
        .await;
        respond(result, |r| ReviewPayload {
            review: Some(r.into()),
            ..Default::default()
        })
    }

    /// Changes your review; it goes back to moderation.
    #[graphql(guard = "RoleGuard(Role::Customer)")]
    async fn review_update(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Your review.")] id: ID,
        #[graphql(desc = "Its new content.")] input: ReviewInput,
    ) -> Result<ReviewPayload> {
        let author = signed_in(ctx)?;
        let id = GlobalId::parse_as::<ReviewId>(&id)?;
        let result = product_reviews::update(
            &ctx.request()?.db,
            author,
            id,
            input.rating,
            input.title,
            input.body,
        )
        .await;
        respond(result, |r| ReviewPayload {
            review: Some(r.into()),
            ..Default::default()
        })
    }

    /// Approves or rejects a review (staff).
    #[graphql(guard = "RoleGuard(Role::Staff)")]
    async fn review_moderate(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The review.")] id: ID,
        #[graphql(desc = "APPROVED shows it; REJECTED hides it.")] status: ReviewStatus,
    ) -> Result<ReviewPayload> {
        let id = GlobalId::parse_as::<ReviewId>(&id)?;
        let result = product_reviews::moderate(&ctx.request()?.db, id, status.into()).await;
        respond(result, |r| ReviewPayload {
            review: Some(r.into()),
            ..Default::default()
        })
    }
}
