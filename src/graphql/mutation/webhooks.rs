//! Webhook mutations: subscribe, resume, delete, and send a delivery again (admins for any app;
//! partner keys with `manage_webhooks` for their own app).

use async_graphql::{Context, ID, Object, Result};

use crate::graphql::context::ContextExt as _;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::event::EventType;
use crate::graphql::types::webhook::{WebhookDeliveryNode, WebhookSubscriptionNode};
use crate::graphql::user_errors::respond;
use crate::payload;
use crate::services::webhooks::Webhooks;

payload!(
    /// The result of `webhookSubscriptionCreate`.
    WebhookSubscriptionCreatePayload {
        /// The new subscription; deliveries start with the next event.
        subscription: Option<WebhookSubscriptionNode>,
        /// The signing secret (`whsec_…`), shown this once: verify `Bazaar-Signature` with it.
        secret: Option<String>,
    }
);

payload!(
    /// The result of a change to a subscription.
    WebhookSubscriptionPayload {
        /// The subscription as it is now.
        subscription: Option<WebhookSubscriptionNode>,
    }
);

payload!(
    /// The result of `webhookSubscriptionDelete`.
    WebhookSubscriptionDeletePayload {
        /// The id of the subscription deleted.
        deleted_id: Option<ID>,
    }
);

payload!(
    /// The result of `webhookDeliveryRetry`.
    WebhookDeliveryRetryPayload {
        /// The delivery, due again now.
        delivery: Option<WebhookDeliveryNode>,
    }
);

/// Webhook administration.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Subscribes a URL to kinds of event. Admins name the app; a partner key with
    /// `manage_webhooks` subscribes its own app, to kinds its scopes may read (order payloads
    /// without personal data unless it holds `read_customers`). The URL is http(s) and, in
    /// production, must not resolve to a loopback or private address (unless allowed by
    /// `--webhook-allowed-networks`). At most 10 subscriptions per app.
    async fn webhook_subscription_create(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The app (admins; a partner key's own app otherwise).")] app_id: Option<
            ID,
        >,
        #[graphql(desc = "Where to post events (http or https, at most 2,000 characters).")]
        url: String,
        #[graphql(desc = "The kinds of event to send: at least one, each at most once.")]
        events: Vec<EventType>,
    ) -> Result<WebhookSubscriptionCreatePayload> {
        let request = ctx.request()?;
        let app = app_id
            .map(|id| GlobalId::parse_kind(&id, NodeKind::App))
            .transpose()?;
        let kinds = crate::domain::events::EventType::ALL.len();
        if events.len() > kinds {
            return Err(crate::error::AppError::bad_input(format!(
                "`events` lists at most {kinds} kinds"
            ))
            .into());
        }
        let kinds = events.into_iter().map(Into::into).collect();
        let result = ctx
            .data::<std::sync::Arc<Webhooks>>()?
            .subscribe(&request.db, &request.principal, app, &url, kinds)
            .await;
        respond(result, |made| WebhookSubscriptionCreatePayload {
            subscription: Some(WebhookSubscriptionNode(made.subscription)),
            secret: Some(made.secret),
            ..Default::default()
        })
    }

    /// Resumes a paused subscription: what happened while it was paused is delivered.
    async fn webhook_subscription_resume(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] id: ID,
    ) -> Result<WebhookSubscriptionPayload> {
        let request = ctx.request()?;
        let id = GlobalId::parse_kind(&id, NodeKind::WebhookSubscription)?;
        let result = Webhooks::resume(&request.db, &request.principal, id).await;
        respond(result, |subscription| WebhookSubscriptionPayload {
            subscription: Some(WebhookSubscriptionNode(subscription)),
            ..Default::default()
        })
    }

    /// Deletes a subscription and its delivery log; nothing more is sent to it.
    async fn webhook_subscription_delete(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The subscription.")] id: ID,
    ) -> Result<WebhookSubscriptionDeletePayload> {
        let request = ctx.request()?;
        let number = GlobalId::parse_kind(&id, NodeKind::WebhookSubscription)?;
        let result = Webhooks::unsubscribe(&request.db, &request.principal, number).await;
        respond(result, |()| WebhookSubscriptionDeletePayload {
            deleted_id: Some(id),
            ..Default::default()
        })
    }

    /// Sends a delivery again now, whatever became of it (receivers de-duplicate by
    /// `Bazaar-Event-Id`); its tries count from zero. A paused subscription sends nothing until
    /// resumed.
    async fn webhook_delivery_retry(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery.")] id: ID,
    ) -> Result<WebhookDeliveryRetryPayload> {
        let request = ctx.request()?;
        let id = GlobalId::parse_kind(&id, NodeKind::WebhookDelivery)?;
        let result = Webhooks::retry(&request.db, &request.principal, id).await;
        respond(result, |delivery| WebhookDeliveryRetryPayload {
            delivery: Some(WebhookDeliveryNode(delivery, Vec::new())),
            ..Default::default()
        })
    }
}
