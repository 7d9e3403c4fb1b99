//! Discount codes: lookups, and the atomic use that cannot pass the usage limit.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::discount_codes;

/// A discount code row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = discount_codes)]
pub struct DiscountCode {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub times_used: i32,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// A discount code to insert.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = discount_codes, treat_none_as_default_value = false)]
pub struct NewDiscountCode<'a> {
    pub code: &'a str,
    pub kind: &'a str,
    pub value: i64,
    pub minimum_subtotal: i64,
    pub usage_limit: Option<i32>,
    pub times_used: i32,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Inserts a code.
pub fn insert(conn: &mut DbConnection, new: &NewDiscountCode<'_>) -> QueryResult<i64> {
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
pub fn by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<DiscountCode>> {
    discount_codes::table
        .find(id)
        .select(DiscountCode::as_select())
        .first(conn)
        .optional()
}

/// Counts one use if the limit allows it, in one conditional statement: concurrent checkouts
/// can never use a code more often than its limit. Whether it was counted.
pub fn use_once(conn: &mut DbConnection, id: i64) -> QueryResult<bool> {
    let updated = diesel::update(discount_codes::table.find(id))
        .filter(
            discount_codes::usage_limit
                .is_null()
                .or(discount_codes::times_used
                    .nullable()
                    .lt(discount_codes::usage_limit)),
        )
        .set(discount_codes::times_used.eq(discount_codes::times_used + 1))
        .execute(conn)?;
    Ok(updated == 1)
}
