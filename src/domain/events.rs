//! The event log's vocabulary: which kinds of events exist, what each is about, which scope a
//! partner needs to read it, why stock changed, and how a payload is cut down for a partner who
//! may not see personal data.

use serde_json::Value;

use crate::domain::address::AddressParts;
use crate::domain::partners::Scope;

/// Days events are kept by default before `bazaar prune-events` removes them.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// A kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// An order was placed (checkout).
    OrderCreated,
    /// An order's payment succeeded.
    OrderPaid,
    /// Some or all of an order's units shipped (a fulfilment).
    FulfillmentCreated,
    /// An order was fulfilled (shipped).
    OrderFulfilled,
    /// An order was cancelled (by its customer, staff, a partner, or because it was not paid in
    /// time).
    OrderCancelled,
    /// An order was refunded.
    OrderRefunded,
    /// A product was created.
    ProductCreated,
    /// A product changed: its fields, images or variants.
    ProductUpdated,
    /// A product was archived (no longer sold).
    ProductArchived,
    /// A variant was created or changed (price, title, SKU, archived).
    VariantUpdated,
    /// A variant's stock on hand changed.
    InventoryChanged,
    /// A customer account was created.
    CustomerCreated,
    /// A review was approved and is now public.
    ReviewApproved,
    /// A collection was created.
    CollectionCreated,
    /// A collection changed: its fields, its products or their order.
    CollectionUpdated,
    /// A collection was deleted (its products stay).
    CollectionDeleted,
}

/// What an event is about: a node kind and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// An order.
    Order(i64),
    /// A product.
    Product(i64),
    /// A variant.
    Variant(i64),
    /// A customer account.
    Account(i64),
    /// A review.
    Review(i64),
    /// A collection.
    Collection(i64),
}

impl Subject {
    /// The node kind's name (as in global ids) and the id.
    pub fn parts(self) -> (&'static str, i64) {
        match self {
            Self::Order(id) => ("Order", id),
            Self::Product(id) => ("Product", id),
            Self::Variant(id) => ("Variant", id),
            Self::Account(id) => ("Account", id),
            Self::Review(id) => ("Review", id),
            Self::Collection(id) => ("Collection", id),
        }
    }
}

impl EventType {
    /// Every kind, in the order they are documented.
    pub const ALL: [EventType; 16] = [
        EventType::OrderCreated,
        EventType::OrderPaid,
        EventType::FulfillmentCreated,
        EventType::OrderFulfilled,
        EventType::OrderCancelled,
        EventType::OrderRefunded,
        EventType::ProductCreated,
        EventType::ProductUpdated,
        EventType::ProductArchived,
        EventType::VariantUpdated,
        EventType::InventoryChanged,
        EventType::CustomerCreated,
        EventType::ReviewApproved,
        EventType::CollectionCreated,
        EventType::CollectionUpdated,
        EventType::CollectionDeleted,
    ];

    /// The event's name as stored, sent in webhooks and documented: `order.created`…
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderCreated => "order.created",
            Self::OrderPaid => "order.paid",
            Self::FulfillmentCreated => "fulfillment.created",
            Self::OrderFulfilled => "order.fulfilled",
            Self::OrderCancelled => "order.cancelled",
            Self::OrderRefunded => "order.refunded",
            Self::ProductCreated => "product.created",
            Self::ProductUpdated => "product.updated",
            Self::ProductArchived => "product.archived",
            Self::VariantUpdated => "variant.updated",
            Self::InventoryChanged => "inventory.changed",
            Self::CustomerCreated => "customer.created",
            Self::ReviewApproved => "review.approved",
            Self::CollectionCreated => "collection.created",
            Self::CollectionUpdated => "collection.updated",
            Self::CollectionDeleted => "collection.deleted",
        }
    }

    /// The scope a partner's key needs to read events of this kind (staff and admins read all).
    pub fn scope(self) -> Scope {
        match self {
            Self::OrderCreated
            | Self::OrderPaid
            | Self::FulfillmentCreated
            | Self::OrderFulfilled
            | Self::OrderCancelled
            | Self::OrderRefunded => Scope::ReadOrders,
            Self::ProductCreated
            | Self::ProductUpdated
            | Self::ProductArchived
            | Self::VariantUpdated
            | Self::InventoryChanged
            | Self::ReviewApproved
            | Self::CollectionCreated
            | Self::CollectionUpdated
            | Self::CollectionDeleted => Scope::ReadProducts,
            Self::CustomerCreated => Scope::ReadCustomers,
        }
    }

    /// Whether the payload is an order, whose personal data a key without `read_customers` does
    /// not see.
    pub fn carries_order(self) -> bool {
        self.scope() == Scope::ReadOrders
    }
}

impl std::str::FromStr for EventType {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown event type {:?}",
                    name.chars().take(40).collect::<String>()
                )
            })
    }
}

/// Why a variant's stock changed (`inventory.changed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChangeReason {
    /// The variant was created with this stock.
    Created,
    /// Staff or a partner set the stock (`inventoryAdjust`, `inventorySetQuantities`).
    Adjusted,
    /// A checkout reserved the units for an order.
    Ordered,
    /// An order was cancelled (or its reservation ran out) and its units came back.
    OrderCancelled,
    /// An order was refunded before it shipped and its units came back.
    OrderRefunded,
}

impl StockChangeReason {
    /// The reason as the payload spells it: `CREATED`, `ADJUSTED`…
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Adjusted => "ADJUSTED",
            Self::Ordered => "ORDERED",
            Self::OrderCancelled => "ORDER_CANCELLED",
            Self::OrderRefunded => "ORDER_REFUNDED",
        }
    }
}

/// Cuts an order payload down for a reader who may not see personal data: `email` and
/// `customer` become null, `shippingAddress` keeps only its impersonal parts
/// ([`AddressParts::impersonal`]), as the GraphQL `Order` type shows it.
pub fn redact_order(payload: &mut Value) {
    let Some(order) = payload.as_object_mut() else {
        return;
    };
    for field in ["email", "customer"] {
        if let Some(value) = order.get_mut(field) {
            *value = Value::Null;
        }
    }
    if let Some(address) = order.get_mut("shippingAddress") {
        *address = serde_json::from_value::<AddressParts>(address.take())
            .ok()
            .and_then(|parts| serde_json::to_value(parts.impersonal()).ok())
            .unwrap_or(Value::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip() {
        for kind in EventType::ALL {
            assert_eq!(kind.as_str().parse::<EventType>(), Ok(kind));
        }
        assert!("order.shipped".parse::<EventType>().is_err());
    }

    #[test]
    fn redaction_removes_personal_data_and_keeps_the_rest() {
        let mut order = json!({
            "id": "gid://bazaar/Order/1",
            "email": "ada@example.com",
            "customer": { "id": "gid://bazaar/Account/2" },
            "shippingAddress": { "firstName": "Ada", "line1": "1 Main St", "city": "Paris",
                                 "postalCode": "75001", "countryCode": "FR", "phone": "+33" },
            "status": "PAID"
        });
        redact_order(&mut order);
        assert_eq!(
            order,
            json!({
                "id": "gid://bazaar/Order/1",
                "email": null,
                "customer": null,
                "shippingAddress": { "firstName": "", "lastName": "", "company": "", "line1": "",
                                     "line2": "", "city": "Paris", "region": "",
                                     "postalCode": "75001", "countryCode": "FR", "phone": "" },
                "status": "PAID"
            })
        );
    }
}
