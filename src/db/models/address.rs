//! Addresses: the postal addresses an account keeps, at most one of them its default.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::addresses;
use crate::domain::address::PostalAddress;

/// An address row.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = addresses)]
pub struct Address {
    pub id: i64,
    pub user_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
    pub phone: String,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The address columns a client sets.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = addresses)]
struct AddressColumns<'a> {
    first_name: &'a str,
    last_name: &'a str,
    company: &'a str,
    line1: &'a str,
    line2: &'a str,
    city: &'a str,
    region: &'a str,
    postal_code: &'a str,
    country_code: &'a str,
    phone: &'a str,
}

impl<'a> From<&'a PostalAddress> for AddressColumns<'a> {
    fn from(address: &'a PostalAddress) -> Self {
        let a = address.parts();
        Self {
            first_name: &a.first_name,
            last_name: &a.last_name,
            company: &a.company,
            line1: &a.line1,
            line2: &a.line2,
            city: &a.city,
            region: &a.region,
            postal_code: &a.postal_code,
            country_code: &a.country_code,
            phone: &a.phone,
        }
    }
}

/// Adds an address to an account.
pub fn insert(
    conn: &mut DbConnection,
    user_id: i64,
    address: &PostalAddress,
    is_default: bool,
    now: NaiveDateTime,
) -> QueryResult<Address> {
    diesel::insert_into(addresses::table)
        .values((
            AddressColumns::from(address),
            addresses::user_id.eq(user_id),
            addresses::is_default.eq(is_default),
            addresses::created_at.eq(now),
            addresses::updated_at.eq(now),
        ))
        .returning(addresses::all_columns)
        .get_result(conn)
}

/// Replaces the parts of an address the account owns; `None` when it owns no such address.
pub fn update(
    conn: &mut DbConnection,
    user_id: i64,
    id: i64,
    address: &PostalAddress,
    now: NaiveDateTime,
) -> QueryResult<Option<Address>> {
    diesel::update(addresses::table.find(id))
        .filter(addresses::user_id.eq(user_id))
        .set((AddressColumns::from(address), addresses::updated_at.eq(now)))
        .returning(addresses::all_columns)
        .get_result(conn)
        .optional()
}

/// Deletes an address the account owns; whether there was one.
pub fn delete(conn: &mut DbConnection, user_id: i64, id: i64) -> QueryResult<bool> {
    let deleted = diesel::delete(addresses::table.find(id))
        .filter(addresses::user_id.eq(user_id))
        .execute(conn)?;
    Ok(deleted > 0)
}

/// Makes one owned address the default, clearing the previous one; `None` when the account owns
/// no such address.
pub fn set_default(
    conn: &mut DbConnection,
    user_id: i64,
    id: i64,
    now: NaiveDateTime,
) -> QueryResult<Option<Address>> {
    diesel::update(addresses::table)
        .filter(addresses::user_id.eq(user_id))
        .filter(addresses::is_default.eq(true))
        .filter(addresses::id.ne(id))
        .set(addresses::is_default.eq(false))
        .execute(conn)?;
    diesel::update(addresses::table.find(id))
        .filter(addresses::user_id.eq(user_id))
        .set((
            addresses::is_default.eq(true),
            addresses::updated_at.eq(now),
        ))
        .returning(addresses::all_columns)
        .get_result(conn)
        .optional()
}

/// How many addresses an account keeps.
pub fn count_for_user(conn: &mut DbConnection, user_id: i64) -> QueryResult<i64> {
    addresses::table
        .filter(addresses::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// The addresses of every account in `user_ids`, oldest first.
pub fn for_users(conn: &mut DbConnection, user_ids: &[i64]) -> QueryResult<Vec<Address>> {
    addresses::table
        .filter(addresses::user_id.eq_any(user_ids))
        .order_by((addresses::user_id, addresses::id))
        .select(Address::as_select())
        .load(conn)
}

/// The addresses with these ids (in no particular order).
pub fn by_ids(conn: &mut DbConnection, ids: &[i64]) -> QueryResult<Vec<Address>> {
    addresses::table
        .filter(addresses::id.eq_any(ids))
        .select(Address::as_select())
        .load(conn)
}
