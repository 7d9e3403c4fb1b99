//! Keyset paging rules shared by every list: page-size bounds (and the `first` of lists that are
//! not connections), and how a fetched window becomes a page with Relay's `hasPreviousPage` /
//! `hasNextPage`.

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// Checks a page size a client asked for as `name` (`first` or `last`, on every list alike):
/// 0 to [`MAX_PAGE_SIZE`].
pub fn page_size(name: &str, value: i32) -> Result<usize, String> {
    let size = usize::try_from(value).map_err(|_| format!("`{name}` must not be negative"))?;
    if size > MAX_PAGE_SIZE {
        return Err(format!(
            "`{name}` must be at most {MAX_PAGE_SIZE}, got {value}"
        ));
    }
    Ok(size)
}

/// A checked page request over positions of type `K`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest<K> {
    /// Items on the page.
    pub size: usize,
    /// Only items strictly after this position.
    pub after: Option<K>,
    /// Only items strictly before this position.
    pub before: Option<K>,
    /// Take the last `size` items of the bounded range instead of the first.
    pub from_end: bool,
}

impl<K> PageRequest<K> {
    /// Checks Relay's `first` / `last`: at most one of them, neither negative nor above
    /// [`MAX_PAGE_SIZE`]; neither means the first [`DEFAULT_PAGE_SIZE`] items.
    pub fn new(
        first: Option<i32>,
        last: Option<i32>,
        after: Option<K>,
        before: Option<K>,
    ) -> Result<Self, String> {
        let (size, from_end) = match (first, last) {
            (Some(_), Some(_)) => return Err("pass `first` or `last`, not both".to_owned()),
            (Some(first), None) => (page_size("first", first)?, false),
            (None, Some(last)) => (page_size("last", last)?, true),
            (None, None) => (DEFAULT_PAGE_SIZE, false),
        };
        Ok(Self {
            size,
            after,
            before,
            from_end,
        })
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::try_from(self.size)
            .unwrap_or(i64::MAX)
            .saturating_add(1)
    }

    /// Turns fetched rows (nearest-first, up to [`Self::fetch_limit`]) into a page in list order.
    pub fn into_page<T>(&self, mut rows: Vec<T>) -> Page<T> {
        let has_more = rows.len() > self.size;
        rows.truncate(self.size);
        if self.from_end {
            rows.reverse();
            Page {
                items: rows,
                has_previous: has_more,
                has_next: self.before.is_some(),
            }
        } else {
            Page {
                items: rows,
                has_previous: self.after.is_some(),
                has_next: has_more,
            }
        }
    }
}

/// A keyset window over a list ordered newest (highest id) first: ids below `after`, above
/// `before`, `limit` rows, nearest the end first when `from_end` (see `newest_first_window!`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdWindow {
    /// Only rows listed after (older than) this id.
    pub after: Option<i64>,
    /// Only rows listed before (newer than) this id.
    pub before: Option<i64>,
    /// Rows to fetch.
    pub limit: i64,
    /// Take the rows nearest `before`; returned nearest-first.
    pub from_end: bool,
}

impl PageRequest<i64> {
    /// The rows to fetch for this page of a newest-first list.
    pub fn id_window(&self) -> IdWindow {
        IdWindow {
            after: self.after,
            before: self.before,
            limit: self.fetch_limit(),
            from_end: self.from_end,
        }
    }
}

/// Checks the `first` argument of a list that is not a connection (a product's variants, say):
/// 0 to `most` items, the list's maximum.
pub fn list_size(first: i32, most: usize) -> Result<usize, String> {
    usize::try_from(first)
        .ok()
        .filter(|size| *size <= most)
        .ok_or_else(|| format!("`first` must be between 0 and {most}, got {first}"))
}

/// One page of a list.
#[derive(Debug)]
pub struct Page<T> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// Whether items come before the first one.
    pub has_previous: bool,
    /// Whether items come after the last one.
    pub has_next: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    type Request = PageRequest<i64>;

    #[test]
    fn checks_page_sizes() {
        assert_eq!(
            Request::new(None, None, None, None).unwrap().size,
            DEFAULT_PAGE_SIZE
        );
        assert!(Request::new(Some(-1), None, None, None).is_err());
        assert!(Request::new(Some(101), None, None, None).is_err());
        assert!(Request::new(Some(100), None, None, None).is_ok());
        assert!(Request::new(Some(1), Some(1), None, None).is_err());
        let last = Request::new(None, Some(5), None, None).unwrap();
        assert!(last.from_end);
        assert_eq!(last.fetch_limit(), 6);
    }

    #[test]
    fn checks_list_sizes() {
        assert_eq!(list_size(0, 20), Ok(0));
        assert_eq!(list_size(20, 20), Ok(20));
        assert_eq!(
            list_size(21, 20),
            Err("`first` must be between 0 and 20, got 21".to_owned())
        );
        assert!(list_size(-1, 20).is_err());
    }

    #[test]
    fn forward_pages_know_what_follows() {
        let request = Request::new(Some(2), None, Some(1), None).unwrap();
        let page = request.into_page(vec![2, 3, 4]);
        assert_eq!(page.items, vec![2, 3]);
        assert!(page.has_previous);
        assert!(page.has_next);
        let last_page = request.into_page(vec![2]);
        assert!(!last_page.has_next);
    }

    #[test]
    fn backward_pages_are_reversed_into_list_order() {
        let request = Request::new(None, Some(2), None, Some(9)).unwrap();
        let page = request.into_page(vec![5, 4, 3]);
        assert_eq!(page.items, vec![4, 5]);
        assert!(page.has_previous);
        assert!(page.has_next);
    }
}
