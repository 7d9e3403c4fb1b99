//! The `Node` interface: every object with a global id, fetchable with `node(id:)`.

use async_graphql::{ID, Interface};

use super::product::ImageNode;
use super::review::ReviewNode;
use super::{
    AccountNode, AddressNode, CategoryNode, CollectionNode, DiscountCodeNode, OrderNode,
    ProductNode, VariantNode,
};

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "Globally unique id, e.g. `gid://bazaar/Product/42`."
))]
pub enum Node {
    /// A category.
    Category(CategoryNode),
    /// A manual collection (unpublished ones for staff and keys with `READ_PRODUCTS` only).
    Collection(CollectionNode),
    /// A product.
    Product(ProductNode),
    /// A product variant.
    Variant(VariantNode),
    /// An account (only your own, unless you are staff).
    Account(AccountNode),
    /// An address (only your own, unless you are staff).
    Address(AddressNode),
    /// An order (only your own, unless you are staff).
    Order(Box<OrderNode>),
    /// A discount code (staff only).
    DiscountCode(DiscountCodeNode),
    /// A product image (when you may see its product).
    Image(ImageNode),
    /// A review: approved ones for everyone who may see the product; the others for their
    /// author, staff and keys with `READ_PRODUCTS`.
    Review(ReviewNode),
}
