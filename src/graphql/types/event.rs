//! `Event` and its connection: the event log as partners and staff replay it.

use async_graphql::{Enum, ID, Object};
use chrono::{DateTime, Utc};

use crate::domain::events::EventType as DomainEventType;
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::services::events::Event;

/// A kind of event. Webhooks and payloads name it in lower case with a dot (`ORDER_CREATED` is
/// `order.created`). The payload of every kind but `INVENTORY_CHANGED` is its subject exactly as
/// `node(id:)` gives it to staff with the fragment named below (the fragments are in the README,
/// "For partners"), at the moment of the change.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::events::EventType")]
pub enum EventType {
    /// `order.created`: an order was placed. Payload: `OrderPayload`. Scope `read_orders`.
    OrderCreated,
    /// `order.paid`: an order's payment succeeded. Payload: `OrderPayload`. Scope `read_orders`.
    OrderPaid,
    /// `fulfillment.created`: some or all of an order's units shipped. Payload: `OrderPayload`
    /// (its `fulfillments`, the new one last). Scope `read_orders`.
    FulfillmentCreated,
    /// `order.fulfilled`: an order shipped. Payload: `OrderPayload`. Scope `read_orders`.
    OrderFulfilled,
    /// `order.cancelled`: an order was cancelled, or not paid in time. Payload: `OrderPayload`.
    /// Scope `read_orders`.
    OrderCancelled,
    /// `order.refunded`: an order was refunded. Payload: `OrderPayload`. Scope `read_orders`.
    OrderRefunded,
    /// `product.created`: a product was created. Payload: `ProductPayload` (with its variants).
    /// Scope `read_products`.
    ProductCreated,
    /// `product.updated`: a product's fields or images changed. Payload: `ProductPayload`.
    /// Scope `read_products`.
    ProductUpdated,
    /// `product.archived`: a product was archived. Payload: `ProductPayload`. Scope
    /// `read_products`.
    ProductArchived,
    /// `variant.updated`: a variant was created, changed, archived or restored. Payload:
    /// `VariantPayload`. Scope `read_products`.
    VariantUpdated,
    /// `inventory.changed`: a variant's stock on hand changed. Payload: `{ variant { id sku }
    /// previousQuantity quantity reason order { id } }`, `reason` one of `CREATED` (the
    /// variant was created with it), `ADJUSTED` (`inventoryAdjust`), `ORDERED` (a checkout took
    /// it), `ORDER_CANCELLED`, `ORDER_REFUNDED` (an order gave it back); `order` is null unless
    /// an order moved it. Scope `read_products`.
    InventoryChanged,
    /// `customer.created`: a customer finished signing up. Payload: `AccountPayload`. Scope
    /// `read_customers`.
    CustomerCreated,
    /// `review.approved`: a review was approved and is now public. Payload: `ReviewPayload`.
    /// Scope `read_products`.
    ReviewApproved,
    /// `collection.created`: a collection was created. Payload: `CollectionPayload`. Scope
    /// `read_products`.
    CollectionCreated,
    /// `collection.updated`: a collection's fields, products or their order changed. Payload:
    /// `CollectionPayload`. Scope `read_products`.
    CollectionUpdated,
    /// `collection.deleted`: a collection was deleted (its products stay). Payload:
    /// `CollectionPayload` as it was just before. Scope `read_products`.
    CollectionDeleted,
}

crate::connection_types!(
    EventConnection,
    EventEdge,
    EventNode,
    "A page of the event log.",
    "An event in the log."
);

/// A change recorded in the event log, in the same transaction as the change itself.
pub struct EventNode(Event);

impl From<Event> for EventNode {
    fn from(event: Event) -> Self {
        Self(event)
    }
}

/// A change recorded in the event log, in the same transaction as the change itself: events
/// are listed in the order their changes committed.
#[Object(name = "Event")]
impl EventNode {
    /// Globally unique id, e.g. `gid://bazaar/Event/42`; the same as webhooks send in
    /// `Bazaar-Event-Id`, for de-duplication.
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Event, self.0.position).into()
    }

    /// The event's position in the log: it grows with every event, in commit order.
    async fn position(&self) -> i64 {
        self.0.position
    }

    /// What happened.
    #[graphql(name = "type")]
    async fn kind(&self) -> EventType {
        self.0.kind.into()
    }

    /// The event's name, as webhooks send it: `order.created`…
    async fn name(&self) -> &'static str {
        DomainEventType::as_str(self.0.kind)
    }

    /// When the change committed (to the microsecond).
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at.and_utc()
    }

    /// The global id of what changed (an order, product, variant, account, review or
    /// collection).
    async fn subject_id(&self) -> Option<ID> {
        NodeKind::from_name(&self.0.subject_type)
            .map(|kind| GlobalId::new(kind, self.0.subject_id).into())
    }

    /// What changed, as JSON: the subject as the API gives it (see `EventType`). Orders read by
    /// a partner key without `read_customers` come without personal data, as the `Order` type
    /// does: `email` and `customer` null, `shippingAddress` showing only `countryCode`,
    /// `postalCode` and `city` (its other parts empty).
    async fn payload(&self) -> async_graphql::Json<&serde_json::Value> {
        async_graphql::Json(&self.0.payload)
    }
}
