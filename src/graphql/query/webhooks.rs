//! Webhook queries: the subscriptions one manages, and a subscription's delivery log.

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::pagination::{encode_cursor, list_size, page_request};
use crate::graphql::types::webhook::{WebhookDeliveryConnection, WebhookSubscriptionNode};
use crate::services::webhooks::Webhooks;

/// Webhook reads.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// Webhook subscriptions, newest first: an admin's of every app (or of `appId`), a partner
    /// key's (`manage_webhooks`) of its own app.
    async fn webhook_subscriptions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only this app's (admins).")] app_id: Option<ID>,
        #[graphql(desc = "Return the first N: 0 to 100, by default 100.", default = 100)]
        first: i32,
    ) -> Result<Vec<WebhookSubscriptionNode>> {
        let request = ctx.request()?;
        let app = app_id
            .map(|id| GlobalId::parse_kind(&id, NodeKind::App))
            .transpose()?;
        let limit = i64::try_from(list_size(first, 100)?).unwrap_or(100);
        let rows = Webhooks::list(&request.db, &request.principal, app, limit).await?;
        Ok(rows.into_iter().map(WebhookSubscriptionNode).collect())
    }

    /// A subscription's delivery log, newest first, each delivery with its tries (two
    /// statements a page). Relay connection (forward only: `after` gives older deliveries).
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] webhook_subscription_id: ID,
        #[graphql(desc = "Return the first N deliveries (at most 100; default 20).")] first: Option<
            i32,
        >,
        #[graphql(desc = "Return deliveries after (older than) this cursor.")] after: Option<
            String,
        >,
    ) -> Result<WebhookDeliveryConnection> {
        let request = ctx.request()?;
        let subscription =
            GlobalId::parse_kind(&webhook_subscription_id, NodeKind::WebhookSubscription)?;
        let page = page_request::<i64>(first, after, None, None)?;
        let rows = Webhooks::deliveries(
            &request.db,
            &request.principal,
            subscription,
            page.after,
            page.fetch_limit(),
        )
        .await?;
        Ok(WebhookDeliveryConnection::from_page(
            page.into_page(rows),
            |(delivery, _)| encode_cursor(&delivery.id),
        ))
    }
}
