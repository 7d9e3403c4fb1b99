//! Change feeds: how a partner walks a list (products, variants, categories, orders, accounts)
//! to learn what changed, and the orders those lists are walked in.
//!
//! # Walking by change
//!
//! Sorted by `UPDATED_AT`, a list is walked by each row's **change position**: the event-log
//! position stamped on a row by the transaction that last changed it (`services::events`), ties
//! broken by id. Positions are handed out in commit order, so a reader that has seen every row up
//! to position *p* will find every later change above *p*. `updated_at` is not a safe key: it is
//! taken before the transaction commits, so with concurrent writers a row can commit after a
//! reader passed its time and would be skipped.
//!
//! The walk has no upper bound: a row changed before the walk reaches it moves ahead and is met
//! once, at its newest version; a row changed after the walk passed it is met again, as its new
//! version. So a walk followed to its end, and continued later from its last cursor, lists every
//! change (each row at least at the version it had when the walk passed it last) and never the
//! same version of a row (`id`, `updatedAt`) twice.
//!
//! `updatedSince` keeps rows with `updated_at >= since`: the way to start a first walk at a known
//! time; after that, the cursor is the bookmark.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::domain::instant;
use crate::domain::paging::PageRequest;

/// What a list of orders, accounts, variants or categories is walked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowOrder {
    /// Creation order: by id.
    Created,
    /// Commit order of each row's latest change: by change position, then id.
    Changed,
}

/// The sort of such a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowSort {
    /// What the list is walked by.
    pub order: RowOrder,
    /// Largest first.
    pub descending: bool,
}

impl RowSort {
    /// Newest first: what the order and account lists give by default.
    pub const NEWEST_FIRST: Self = Self {
        order: RowOrder::Created,
        descending: true,
    };
}

/// A position in such a list: what its cursors hold. An id alone for creation order (the form
/// the order and account lists' cursors always had), a change position and an id for change
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RowKey {
    /// In creation order: the id.
    Id(i64),
    /// In change order: the change position and the id.
    Change(i64, i64),
}

impl RowKey {
    /// The key of the row `id`, last changed at `change_position`, in a list walked by `order`.
    pub fn of(order: RowOrder, id: impl Into<i64>, change_position: i64) -> Self {
        let id = id.into();
        match order {
            RowOrder::Created => Self::Id(id),
            RowOrder::Changed => Self::Change(change_position, id),
        }
    }

    /// The order this key is a position in.
    pub fn order(self) -> RowOrder {
        match self {
            Self::Id(_) => RowOrder::Created,
            Self::Change(..) => RowOrder::Changed,
        }
    }
}

/// One page of such a list: bounds, order and how many rows to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RowWindow {
    /// The order.
    pub sort: RowSort,
    /// Only rows strictly after this position.
    pub after: Option<RowKey>,
    /// Only rows strictly before this position.
    pub before: Option<RowKey>,
    /// Rows to fetch (the page size plus one, to learn whether there is more).
    pub limit: i64,
    /// Take the rows nearest `before` instead of nearest `after`; they come nearest-first.
    pub from_end: bool,
}

impl RowWindow {
    /// The window of `page` in `sort`; a cursor from the other order is refused.
    pub fn new(sort: RowSort, page: &PageRequest<RowKey>) -> Result<Self, String> {
        for key in [page.after, page.before].into_iter().flatten() {
            if key.order() != sort.order {
                return Err("the cursor belongs to a different sort order".to_owned());
            }
        }
        Ok(Self {
            sort,
            after: page.after,
            before: page.before,
            limit: page.fetch_limit(),
            from_end: page.from_end,
        })
    }
}

impl RowWindow {
    /// [`RowWindow::new`] and the checked `updatedSince` ([`updated_since`]).
    pub fn checked(
        sort: RowSort,
        page: &PageRequest<RowKey>,
        updated_since: Option<NaiveDateTime>,
    ) -> Result<(Self, Option<NaiveDateTime>), String> {
        Ok((Self::new(sort, page)?, self::updated_since(updated_since)?))
    }
}

/// Checks an `updatedSince` a client sent: years 1 to 9999 (see [`instant::check`]).
pub fn updated_since(at: Option<NaiveDateTime>) -> Result<Option<NaiveDateTime>, String> {
    at.map(|at| instant::check(at).map_err(|why| format!("where.updatedSince: {why}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_order_and_old_id_cursors_still_read() {
        assert_eq!(RowKey::of(RowOrder::Created, 7, 40), RowKey::Id(7));
        assert_eq!(RowKey::of(RowOrder::Changed, 7, 40), RowKey::Change(40, 7));
        assert_eq!(
            serde_json::from_str::<RowKey>("42").unwrap(),
            RowKey::Id(42)
        );
        let change = serde_json::to_string(&RowKey::Change(40, 7)).unwrap();
        assert_eq!(change, "[40,7]");
        assert_eq!(
            serde_json::from_str::<RowKey>(&change).unwrap(),
            RowKey::Change(40, 7)
        );
    }

    #[test]
    fn a_cursor_of_another_order_is_refused() {
        let changed = RowSort {
            order: RowOrder::Changed,
            descending: false,
        };
        let page = PageRequest::new(Some(5), None, Some(RowKey::Id(3)), None).unwrap();
        assert!(RowWindow::new(changed, &page).is_err());
        assert!(RowWindow::new(RowSort::NEWEST_FIRST, &page).is_ok());
        let page = PageRequest::new(Some(5), None, Some(RowKey::Change(9, 3)), None).unwrap();
        let window = RowWindow::new(changed, &page).unwrap();
        assert_eq!(window.limit, 6);
    }

    #[test]
    fn updated_since_is_a_four_digit_year() {
        let at = |text: &str| text.parse::<NaiveDateTime>().unwrap();
        assert!(updated_since(None).unwrap().is_none());
        assert!(updated_since(Some(at("2026-01-01T00:00:00"))).is_ok());
        assert!(updated_since(Some(at("+10000-01-01T00:00:00"))).is_err());
    }
}
