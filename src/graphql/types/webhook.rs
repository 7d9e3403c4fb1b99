//! `WebhookSubscription`, `WebhookDelivery` and `WebhookAttempt`: a partner app's webhooks and
//! their delivery log.

use async_graphql::{Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::db::models::webhook::{Attempt, Delivery, Subscription};
use crate::domain::webhooks::{ATTEMPTS_LISTED_PER_DELIVERY, DeliveryStatus};
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::types::event::EventType;
use crate::services::webhooks::{DeliveryWithAttempts, kinds_of};

/// Whether a subscription's deliveries go out.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::webhooks::SubscriptionStatus")]
pub enum WebhookSubscriptionStatus {
    /// Deliveries go out.
    Active,
    /// A delivery failed every try (about a day): nothing goes out until
    /// `webhookSubscriptionResume`, which then delivers what happened meanwhile.
    Paused,
}

/// Where a delivery is.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::webhooks::DeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next try.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every try (8) failed; `webhookDeliveryRetry` sends it again.
    Dead,
}

/// A partner app's webhook: a URL that is sent the events of the kinds it names, signed.
pub struct WebhookSubscriptionNode(pub Subscription);

/// A partner app's webhook: a URL that is sent the events of the kinds it names, signed with
/// the subscription's secret (see the README, "For partners").
#[Object(name = "WebhookSubscription")]
impl WebhookSubscriptionNode {
    /// Globally unique id.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::WebhookSubscription, self.0.id).into()
    }

    /// The app it belongs to (a global id).
    async fn app_id(&self) -> ID {
        GlobalId::new(NodeKind::App, self.0.app_id).into()
    }

    /// Where events are posted.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The kinds of event it is sent.
    async fn events(&self) -> Vec<EventType> {
        kinds_of(&self.0).into_iter().map(Into::into).collect()
    }

    /// Whether deliveries go out.
    async fn status(&self) -> WebhookSubscriptionStatus {
        self.0.status.into()
    }

    /// The position in the event log up to which its deliveries were made.
    async fn last_position(&self) -> i64 {
        self.0.last_position
    }

    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}

/// One try at sending a delivery.
#[derive(SimpleObject)]
pub struct WebhookAttempt {
    /// The receiver's HTTP status; null when it did not answer.
    pub status_code: Option<i32>,
    /// Why it failed (no answer, timeout, not 2xx); empty when it succeeded.
    pub error: String,
    /// How long the call took, in milliseconds.
    pub latency_ms: i32,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
}

impl From<Attempt> for WebhookAttempt {
    fn from(row: Attempt) -> Self {
        Self {
            status_code: row.status_code,
            error: row.error,
            latency_ms: row.latency_ms,
            attempted_at: row.attempted_at.and_utc(),
        }
    }
}

crate::connection_types!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDeliveryNode,
    "A page of a subscription's delivery log.",
    "A delivery in the log."
);

/// One event's delivery to one subscription, with its tries.
pub struct WebhookDeliveryNode(pub Delivery, pub Vec<Attempt>);

impl From<DeliveryWithAttempts> for WebhookDeliveryNode {
    fn from((delivery, attempts): DeliveryWithAttempts) -> Self {
        Self(delivery, attempts)
    }
}

/// One event's delivery to one subscription, with its tries.
#[Object(name = "WebhookDelivery")]
impl WebhookDeliveryNode {
    /// Globally unique id (also sent as `Bazaar-Delivery-Id`, as a number).
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::WebhookDelivery, self.0.id).into()
    }

    /// The event delivered (its global id, as sent in `Bazaar-Event-Id`).
    async fn event_id(&self) -> ID {
        GlobalId::new(NodeKind::Event, self.0.event_id).into()
    }

    /// The event's name, e.g. `order.created`.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    /// Where it is.
    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status.into()
    }

    /// Tries made since it was made or last retried by hand.
    async fn attempt_count(&self) -> i32 {
        self.0.attempts
    }

    /// When it is tried next; null unless pending.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == DeliveryStatus::Pending).then(|| self.0.next_attempt_at.and_utc())
    }

    /// Every try, oldest first. At most 16: 8 tries, and 8 more after a retry by hand (older
    /// tries of deliveries retried more often are left out).
    async fn attempts(&self) -> Vec<WebhookAttempt> {
        let skip = self.1.len().saturating_sub(ATTEMPTS_LISTED_PER_DELIVERY);
        self.1.iter().skip(skip).cloned().map(Into::into).collect()
    }

    /// When it was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at.and_utc()
    }
}
