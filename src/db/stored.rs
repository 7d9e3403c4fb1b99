//! The domain's enums as text columns: each reads and writes its `as_str` text on both backends,
//! and a stored text outside the enum is a deserialization error, never a default.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::accounts::Role;
use crate::domain::catalog::ProductStatus;
use crate::domain::events::EventType;
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
