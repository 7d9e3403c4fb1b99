//! Discount codes: lookups, the staff list, changes and disabling, and the atomic use that
//! cannot pass the usage limit.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::prepared::Prepared;
use crate::db::schema::discount_codes;
use crate::domain::ids::DiscountCodeId;
use crate::domain::paging::IdWindow;
use crate::domain::pricing::DiscountType;
use crate::{filter_ids, filter_like, newest_first_window};

/// A discount code row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = discount_codes)]
pub struct DiscountCode {
    pub id: DiscountCodeId,
    pub code: String,
    pub kind: DiscountType,
    pub value: i64,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub times_used: i32,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    /// When staff disabled it; null while it may apply.
    pub disabled_at: Option<NaiveDateTime>,
}

/// A discount code to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = discount_codes, treat_none_as_default_value = false)]
pub struct NewDiscountCode<'a> {
    pub code: &'a str,
    pub kind: DiscountType,
    pub value: i64,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub times_used: i32,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Inserts a code.
pub fn insert(conn: &mut DbConnection, new: &NewDiscountCode<'_>) -> QueryResult<DiscountCodeId> {
    diesel::insert_into(discount_codes::table)
        .values(new)
        .returning(discount_codes::id)
        .get_result(conn)
}

/// The code with this (upper-cased) text.
pub fn by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<DiscountCode>> {
    discount_codes::table
        .filter(discount_codes::code.eq(code))
        .select(DiscountCode::as_select())
        .first(conn)
        .optional()
}

/// The code with this id.
pub fn by_id(conn: &mut DbConnection, id: DiscountCodeId) -> QueryResult<Option<DiscountCode>> {
    discount_codes::table
        .find(id)
        .select(DiscountCode::as_select())
        .first(conn)
        .optional()
}

/// The codes with these ids (in no particular order).
pub fn by_ids(conn: &mut DbConnection, ids: &[DiscountCodeId]) -> QueryResult<Vec<DiscountCode>> {
    let query = discount_codes::table
        .select(DiscountCode::as_select())
        .into_boxed();
    filter_ids!(query, discount_codes::id, ids).load(conn)
}

/// The rules staff may change on an existing code (its text and kind stay). Every field is
/// written: the service merges the changes into the stored values first.
#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = discount_codes, treat_none_as_null = true)]
pub struct DiscountCodeRules {
    pub value: i64,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
}

/// Writes a code's rules; whether the code exists.
pub fn update_rules(
    conn: &mut DbConnection,
    id: DiscountCodeId,
    rules: &DiscountCodeRules,
) -> QueryResult<bool> {
    let updated = diesel::update(discount_codes::table.find(id))
        .set(rules)
        .execute(conn)?;
    Ok(updated == 1)
}

/// Sets when a code was disabled (`None`: enabled); whether the code exists.
pub fn set_disabled_at(
    conn: &mut DbConnection,
    id: DiscountCodeId,
    at: Option<NaiveDateTime>,
) -> QueryResult<bool> {
    let updated = diesel::update(discount_codes::table.find(id))
        .set(discount_codes::disabled_at.eq(at))
        .execute(conn)?;
    Ok(updated == 1)
}

/// What the staff list of codes is filtered by.
#[derive(Debug, Clone, Default)]
pub struct CodeFilter {
    /// `LIKE` pattern over the (upper-case) code, escaped as `domain::catalog::search_pattern`
    /// escapes.
    pub code_pattern: Option<String>,
    /// Only codes that may apply at `now` as far as the code itself goes (`Some(true)`: enabled,
    /// started, not ended, not used up), or only codes that may not (`Some(false)`).
    pub active: Option<bool>,
    /// The time `active` is judged at.
    pub now: Option<NaiveDateTime>,
}

/// One window of the codes matching `filter`, in one statement.
pub fn page(
    conn: &mut DbConnection,
    filter: &CodeFilter,
    window: &IdWindow,
) -> QueryResult<Vec<DiscountCode>> {
    let mut query = discount_codes::table
        .select(DiscountCode::as_select())
        .into_boxed();
    if let Some(pattern) = &filter.code_pattern {
        query = filter_like!(query, conn, discount_codes::code, pattern);
    }
    if let (Some(active), Some(now)) = (filter.active, filter.now) {
        query = if active {
            query
                .filter(discount_codes::disabled_at.is_null())
                .filter(
                    discount_codes::starts_at
                        .is_null()
                        .or(discount_codes::starts_at.le(now)),
                )
                .filter(
                    discount_codes::ends_at
                        .is_null()
                        .or(discount_codes::ends_at.gt(now)),
                )
                .filter(has_uses_left())
        } else {
            query.filter(
                discount_codes::disabled_at
                    .is_not_null()
                    .or(discount_codes::starts_at.gt(now))
                    .or(discount_codes::ends_at.le(now))
                    .or(discount_codes::times_used
                        .nullable()
                        .ge(discount_codes::usage_limit)),
            )
        };
    }
    newest_first_window!(query, discount_codes::id, window).load(conn)
}

/// A code has uses left: it has no limit, or was used fewer times than it.
#[diesel::dsl::auto_type]
fn has_uses_left() -> _ {
    discount_codes::usage_limit
        .is_null()
        .or(discount_codes::times_used
            .nullable()
            .lt(discount_codes::usage_limit))
}

/// Counts one use if the limit allows it and the code is enabled, in one conditional statement:
/// concurrent checkouts can never use a code more often than its limit, nor after it was
/// disabled. Whether it was counted.
pub fn use_once(conn: &mut DbConnection, id: DiscountCodeId) -> QueryResult<bool> {
    let using = Prepared(
        diesel::update(discount_codes::table.find(id))
            .filter(discount_codes::disabled_at.is_null())
            .filter(has_uses_left())
            .set(discount_codes::times_used.eq(discount_codes::times_used + 1))
            .returning(discount_codes::id),
    );
    let used: Option<DiscountCodeId> =
        crate::on_backend!(conn, |c| using.get_result(c).optional())?;
    Ok(used.is_some())
}

/// Gives back one use of the code `code` (an order that used it was cancelled or refunded).
pub fn return_use(conn: &mut DbConnection, code: &str) -> QueryResult<()> {
    diesel::update(discount_codes::table)
        .filter(discount_codes::code.eq(code))
        .filter(discount_codes::times_used.gt(0))
        .set(discount_codes::times_used.eq(discount_codes::times_used - 1))
        .execute(conn)?;
    Ok(())
}
