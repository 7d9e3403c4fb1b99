//! Inputs of the lists partners sync from (`orders`, `customers`, `variants`, `allCategories`,
//! `collections`):
//! their `sortBy` (by creation or by change) and the `where` of the lists that have no other
//! filter. `products` has its own (`ProductWhere`, `ProductSortBy`).

use async_graphql::{Enum, InputObject};
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::domain::feeds::{RowOrder, RowSort};
use crate::graphql::inputs::catalog::SortDirection;

/// The time of an `updatedSince`, as stored (UTC).
pub fn since(at: Option<DateTime<Utc>>) -> Option<NaiveDateTime> {
    at.map(|at| at.naive_utc())
}

/// Declares the sort key enum and the `sortBy` input of one list, and how it becomes a
/// [`RowSort`].
macro_rules! row_sort_input {
    ($sort_by:ident, $key:ident, $sort_by_doc:literal, $key_doc:literal, $created_doc:literal) => {
        #[doc = $key_doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Default)]
        pub enum $key {
            #[doc = $created_doc]
            #[default]
            CreatedAt,
            /// When each row last changed, in the order the changes were committed (not by the
            /// `updatedAt` timestamps, which are taken before commit): `ASC` walks every change
            /// once, a row changed during the walk comes again at its new version. The change
            /// feed; see "Sync by updatedSince" in the README.
            UpdatedAt,
        }

        #[doc = $sort_by_doc]
        #[derive(Debug, Clone, Copy, Default, InputObject)]
        pub struct $sort_by {
            /// The sort key.
            #[graphql(default)]
            pub field: $key,
            /// The direction.
            #[graphql(default)]
            pub direction: SortDirection,
        }

        impl From<$sort_by> for RowSort {
            fn from(sort: $sort_by) -> Self {
                Self {
                    order: match sort.field {
                        $key::CreatedAt => RowOrder::Created,
                        $key::UpdatedAt => RowOrder::Changed,
                    },
                    descending: sort.direction == SortDirection::Desc,
                }
            }
        }
    };
}

row_sort_input!(
    OrderSortBy,
    OrderSortKey,
    "The order of an order list. Ties are broken by id, so the order is total and stable.",
    "What to sort orders by.",
    "When the order was placed; `DESC` lists the newest first."
);

row_sort_input!(
    CustomerSortBy,
    CustomerSortKey,
    "The order of an account list. Ties are broken by id, so the order is total and stable.",
    "What to sort accounts by.",
    "When the account was created; `DESC` lists the newest first."
);

row_sort_input!(
    VariantSortBy,
    VariantSortKey,
    "The order of a variant list. Ties are broken by id, so the order is total and stable.",
    "What to sort variants by.",
    "When the variant was created; `ASC` lists the oldest first."
);

row_sort_input!(
    CategorySortBy,
    CategorySortKey,
    "The order of a category list. Ties are broken by id, so the order is total and stable.",
    "What to sort categories by.",
    "When the category was created; `ASC` lists the oldest first."
);

row_sort_input!(
    CollectionSortBy,
    CollectionSortKey,
    "The order of a collection list. Ties are broken by id, so the order is total and stable.",
    "What to sort collections by.",
    "When the collection was created; `DESC` lists the newest first."
);

/// Filters of the collection list.
#[derive(Debug, Default, InputObject)]
pub struct CollectionsWhere {
    /// Only collections changed at or after this time (`updatedAt >= updatedSince`; a year
    /// from 1 to 9999). For a first sync; afterwards continue from the last cursor.
    pub updated_since: Option<DateTime<Utc>>,
}

/// Filters of the variant list.
#[derive(Debug, Default, InputObject)]
pub struct VariantsWhere {
    /// Only variants changed at or after this time (`updatedAt >= updatedSince`; a year from 1
    /// to 9999). For a first sync; afterwards continue from the last cursor.
    pub updated_since: Option<DateTime<Utc>>,
}

/// Filters of the flat category list.
#[derive(Debug, Default, InputObject)]
pub struct CategoriesWhere {
    /// Only categories changed at or after this time (`updatedAt >= updatedSince`; a year from
    /// 1 to 9999). For a first sync; afterwards continue from the last cursor.
    pub updated_since: Option<DateTime<Utc>>,
}
