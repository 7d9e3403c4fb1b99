//! Id newtypes, one per entity, so a product id can never be passed where a category id is meant.

macro_rules! id_newtype {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize,
            serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

id_newtype! {
    /// Identifies a category.
    CategoryId;
    /// Identifies a product.
    ProductId;
    /// Identifies a product variant.
    VariantId;
    /// Identifies an account (customer, staff or admin).
    AccountId;
    /// Identifies a postal address owned by an account.
    AddressId;
    /// Identifies an order.
    OrderId;
    /// Identifies a discount code.
    DiscountCodeId;
    /// Identifies a product image.
    ImageId;
    /// Identifies a product review.
    ReviewId;
    /// Identifies a manual collection.
    CollectionId;
}

/// What every global id starts with.
pub const GLOBAL_ID_PREFIX: &str = "gid://bazaar/";

/// The global id clients see for the node of kind `kind` (`Product`…) with id `id`:
/// `gid://bazaar/Product/42`.
pub fn global_id(kind: &str, id: impl Into<i64>) -> String {
    let id = id.into();
    format!("{GLOBAL_ID_PREFIX}{kind}/{id}")
}
