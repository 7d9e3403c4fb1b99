//! Global ids: `gid://bazaar/Product/42`. Clients treat them as opaque; `node(id:)` resolves them.

use async_graphql::ID;

use crate::domain::ids::{
    AccountId, AddressId, CategoryId, CollectionId, DiscountCodeId, GLOBAL_ID_PREFIX as PREFIX,
    ImageId, OrderId, ProductId, ReviewId, VariantId, global_id,
};
use crate::error::AppError;

/// The kinds of object a global id can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A `Category`.
    Category,
    /// A `Product`.
    Product,
    /// A `Variant`.
    Variant,
    /// An `Account`.
    Account,
    /// An `Address`.
    Address,
    /// An `Order`.
    Order,
    /// An `Image` of a product.
    Image,
    /// A `Review`.
    Review,
    /// A `DiscountCode`.
    DiscountCode,
    /// A partner `App`.
    App,
    /// An `ApiKey` of a partner app.
    ApiKey,
    /// An `Event` of the event log.
    Event,
    /// A `WebhookSubscription`.
    WebhookSubscription,
    /// A `WebhookDelivery`.
    WebhookDelivery,
    /// An `OrderLine`.
    OrderLine,
    /// A `Fulfillment` of an order.
    Fulfillment,
    /// An `OrderNote`.
    OrderNote,
    /// A `ShippingZone`.
    ShippingZone,
    /// A `ShippingMethod` of a zone.
    ShippingMethod,
    /// A `TaxRate`.
    TaxRate,
    /// A manual `Collection` of products.
    Collection,
}

impl NodeKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Category => "Category",
            Self::Product => "Product",
            Self::Variant => "Variant",
            Self::Account => "Account",
            Self::Address => "Address",
            Self::Order => "Order",
            Self::Image => "Image",
            Self::Review => "Review",
            Self::DiscountCode => "DiscountCode",
            Self::App => "App",
            Self::ApiKey => "ApiKey",
            Self::Event => "Event",
            Self::WebhookSubscription => "WebhookSubscription",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::OrderLine => "OrderLine",
            Self::Fulfillment => "Fulfillment",
            Self::OrderNote => "OrderNote",
            Self::ShippingZone => "ShippingZone",
            Self::ShippingMethod => "ShippingMethod",
            Self::TaxRate => "TaxRate",
            Self::Collection => "Collection",
        }
    }

    /// The kind a type name names (`"Variant"` → [`NodeKind::Variant`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Category,
            Self::Product,
            Self::Variant,
            Self::Account,
            Self::Address,
            Self::Order,
            Self::Image,
            Self::Review,
            Self::DiscountCode,
            Self::App,
            Self::ApiKey,
            Self::Event,
            Self::WebhookSubscription,
            Self::WebhookDelivery,
            Self::OrderLine,
            Self::Fulfillment,
            Self::OrderNote,
            Self::ShippingZone,
            Self::ShippingMethod,
            Self::TaxRate,
            Self::Collection,
        ]
        .into_iter()
        .find(|kind| kind.name() == name)
    }
}

/// A parsed global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    /// What it names.
    pub kind: NodeKind,
    /// The database id.
    pub id: i64,
}

impl GlobalId {
    /// The global id of a `kind` with database id `id`.
    pub fn new(kind: NodeKind, id: impl Into<i64>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// Parses any global id.
    pub fn parse(id: &str) -> Result<Self, AppError> {
        let invalid = || AppError::bad_input(format!("{id:?} is not a valid id"));
        let rest = id.strip_prefix(PREFIX).ok_or_else(invalid)?;
        let (kind, number) = rest.split_once('/').ok_or_else(invalid)?;
        let kind = NodeKind::from_name(kind).ok_or_else(invalid)?;
        let number: i64 = number.parse().ok().filter(|n| *n > 0).ok_or_else(invalid)?;
        Ok(Self { kind, id: number })
    }

    /// Parses a global id that must name a `kind`.
    pub fn parse_kind(id: &str, kind: NodeKind) -> Result<i64, AppError> {
        let parsed = Self::parse(id)?;
        if parsed.kind != kind {
            return Err(AppError::bad_input(format!(
                "{id:?} is not a {} id",
                kind.name()
            )));
        }
        Ok(parsed.id)
    }

    /// Parses a global id into the id newtype of its kind; an id of another kind is refused.
    pub fn parse_as<T: NodeIdOf>(id: &str) -> Result<T, AppError> {
        Self::parse_kind(id, T::KIND).map(T::from_row_id)
    }
}

/// An id newtype of one kind of node: a global id of that kind parses straight into it
/// ([`GlobalId::parse_as`]), so an order's id can never reach a service as a product's.
pub trait NodeIdOf: Sized {
    /// The kind of node the id names.
    const KIND: NodeKind;
    /// The id of the database row `id`.
    fn from_row_id(id: i64) -> Self;
}

macro_rules! node_ids {
    ($($id:ident => $kind:ident),+ $(,)?) => {$(
        impl NodeIdOf for $id {
            const KIND: NodeKind = NodeKind::$kind;

            fn from_row_id(id: i64) -> Self {
                $id(id)
            }
        }
    )+};
}

node_ids!(
    AccountId => Account,
    AddressId => Address,
    CategoryId => Category,
    CollectionId => Collection,
    DiscountCodeId => DiscountCode,
    ImageId => Image,
    OrderId => Order,
    ProductId => Product,
    ReviewId => Review,
    VariantId => Variant,
);

/// The global id of the `kind` node `id`.
pub fn global_id_of(kind: NodeKind, id: impl Into<i64>) -> ID {
    GlobalId::new(kind, id).into()
}

impl std::fmt::Display for GlobalId {
    /// The global id as clients see it: `gid://bazaar/Product/42`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&global_id(self.kind.name(), self.id))
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::ID;

    use super::*;

    #[test]
    fn round_trips() {
        let id: ID = GlobalId::new(NodeKind::Product, 42).into();
        assert_eq!(id.as_str(), "gid://bazaar/Product/42");
        assert_eq!(
            GlobalId::parse(&id).unwrap(),
            GlobalId::new(NodeKind::Product, 42)
        );
    }

    #[test]
    fn rejects_malformed_and_mismatched_ids() {
        for bad in [
            "",
            "42",
            "gid://bazaar/Product/",
            "gid://bazaar/Product/x",
            "gid://bazaar/Shipment/1",
            "gid://bazaar/Product/-1",
            "gid://other/Product/1",
            "gid://bazaar/Product/1/2",
        ] {
            assert!(GlobalId::parse(bad).is_err(), "{bad}");
        }
        assert!(GlobalId::parse_kind("gid://bazaar/Category/1", NodeKind::Product).is_err());
    }
}
