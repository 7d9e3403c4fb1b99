//! Id newtypes, one per entity, so a product id can never be passed where a category id is meant.

macro_rules! id_newtype {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
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
}
