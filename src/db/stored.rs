//! The domain's enums as text columns (each reads and writes its `as_str` text on both backends,
//! and a stored text outside the enum is a deserialization error, never a default), and its id
//! newtypes as BIGINT columns.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{BigInt, Text};

use crate::domain::accounts::Role;
use crate::domain::catalog::ProductStatus;
use crate::domain::events::EventType;
use crate::domain::ids::{
    AccountId, AddressId, CategoryId, CollectionId, DiscountCodeId, ImageId, OrderId, ProductId,
    ReviewId, VariantId,
};
use crate::domain::orders::{OrderEventType, OrderStatus};
use crate::domain::payments::{PaymentKind, PaymentStatus};
use crate::domain::pricing::DiscountType;
use crate::domain::reviews::ReviewStatus;
use crate::domain::webhooks::{DeliveryStatus, SubscriptionStatus};

macro_rules! stored_as_text {
    ($($type:ty),+ $(,)?) => {$(
        const _: () = {
            /// Stands in for the domain type so that diesel's derives can name it from here.
            #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
            #[diesel(foreign_derive, sql_type = Text)]
            #[allow(dead_code)]
            struct Stored($type);
        };

        impl<DB: Backend> ToSql<Text, DB> for $type
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.as_str(), out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $type
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                Ok(String::from_sql(bytes)?.parse::<$type>()?)
            }
        }
    )+};
}

stored_as_text!(
    DeliveryStatus,
    DiscountType,
    EventType,
    OrderEventType,
    OrderStatus,
    PaymentKind,
    PaymentStatus,
    ProductStatus,
    ReviewStatus,
    Role,
    SubscriptionStatus,
);

macro_rules! stored_as_big_int {
    ($($type:ty),+ $(,)?) => {$(
        const _: () = {
            /// Stands in for the id type so that diesel's derives can name it from here.
            #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
            #[diesel(foreign_derive, sql_type = BigInt)]
            #[allow(dead_code)]
            struct Stored($type);
        };

        impl<DB: Backend> ToSql<BigInt, DB> for $type
        where
            i64: ToSql<BigInt, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <i64 as ToSql<BigInt, DB>>::to_sql(&self.0, out)
            }
        }

        impl<DB: Backend> FromSql<BigInt, DB> for $type
        where
            i64: FromSql<BigInt, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                Ok(Self(i64::from_sql(bytes)?))
            }
        }
    )+};
}

stored_as_big_int!(
    AccountId,
    AddressId,
    CategoryId,
    CollectionId,
    DiscountCodeId,
    ImageId,
    OrderId,
    ProductId,
    ReviewId,
    VariantId,
);
