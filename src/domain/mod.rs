//! Pure business rules: no database, no GraphQL, no async. Values here are valid by construction.

/// Gives a field-less enum its stored text: `as_str`, `ALL`, `Display`, `Serialize` (as that
/// text), and a `FromStr` that refuses any other text (a stored value outside the enum is an
/// error, never a default). `db::stored` maps these enums to text columns on both backends.
macro_rules! text_enum {
    ($type:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $type {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $type {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", stringify!($type), " {:?}"),
                        other.chars().take(40).collect::<String>()
                    )),
                }
            }
        }

        impl ::serde::Serialize for $type {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

pub mod accounts;
pub mod address;
pub mod archive;
pub mod bounds;
pub mod catalog;
pub mod collections;
pub mod cost;
pub mod delivery;
pub mod events;
pub mod facets;
pub mod feeds;
pub mod fulfillments;
pub mod idempotency;
pub mod ids;
pub mod instant;
pub mod metadata;
pub mod money;
pub mod options;
pub mod orders;
pub mod paging;
pub mod partners;
pub mod payments;
pub mod pricing;
pub mod rejection;
pub mod reviews;
pub mod sealing;
pub mod stock;
pub mod webhooks;

#[cfg(test)]
mod tests {
    use super::accounts::Role;
    use super::catalog::ProductStatus;
    use super::orders::{OrderEventType, OrderStatus};
    use super::payments::{PaymentKind, PaymentStatus};
    use super::pricing::DiscountType;
    use super::reviews::ReviewStatus;
    use super::webhooks::{DeliveryStatus, SubscriptionStatus};

    fn round_trips<T>(all: &[T])
    where
        T: Copy + PartialEq + std::fmt::Debug + std::fmt::Display + std::str::FromStr,
    {
        for value in all {
            let text = value.to_string();
            assert_eq!(text.parse::<T>().ok(), Some(*value), "{text}");
            assert!(
                text.to_lowercase().parse::<T>().is_err(),
                "{text} in lower case"
            );
        }
        assert!("".parse::<T>().is_err());
        assert!("UNKNOWN".parse::<T>().is_err());
    }

    #[test]
    fn every_stored_enum_reads_back_what_it_writes_and_nothing_else() {
        round_trips(Role::ALL);
        round_trips(ProductStatus::ALL);
        round_trips(OrderStatus::ALL);
        round_trips(OrderEventType::ALL);
        round_trips(PaymentKind::ALL);
        round_trips(PaymentStatus::ALL);
        round_trips(DiscountType::ALL);
        round_trips(ReviewStatus::ALL);
        round_trips(SubscriptionStatus::ALL);
        round_trips(DeliveryStatus::ALL);
    }

    #[test]
    fn an_unknown_value_is_named_in_the_error_cut_short() {
        let error = "X".repeat(1_000).parse::<OrderStatus>().unwrap_err();
        assert!(error.starts_with("unknown OrderStatus \"XXX"), "{error}");
        assert!(error.len() < 80, "{error}");
    }
}
