//! GraphQL output types. Each wraps database rows; none exposes a row directly.

pub mod account;
pub mod audit;
pub mod cart;
pub mod category;
pub mod collection;
pub mod discount;
pub mod event;
pub mod facets;
pub mod fulfillment;
pub mod metadata;
pub mod money;
pub mod node;
pub mod order;
pub mod partner;
pub mod product;
pub mod review;
pub mod shipping;
pub mod variant;
pub mod webhook;

pub use account::{AccountNode, AddressNode};
pub use category::CategoryNode;
pub use collection::CollectionNode;
pub use discount::DiscountCodeNode;
pub use money::{Decimal, Money};
pub use node::Node;
pub use order::OrderNode;
pub use product::ProductNode;
pub use variant::VariantNode;

/// A count or a measure as a GraphQL `Int` (32 bits), the largest `Int` for anything larger.
pub fn saturating_int(value: impl TryInto<i32>) -> i32 {
    value.try_into().unwrap_or(i32::MAX)
}
