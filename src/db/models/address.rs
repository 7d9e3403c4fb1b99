//! Addresses: the postal addresses an account keeps, at most one of them its default.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::addresses;
use crate::db::sealed::{Sealed, Unsealed};
use crate::domain::address::PostalAddress;
use crate::domain::ids::{AccountId, AddressId};

/// An address row, opened: every column but the country is sealed at rest (`db::sealed`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = addresses)]
pub struct Address {
    pub id: AddressId,
    pub user_id: AccountId,
    #[diesel(deserialize_as = Unsealed)]
    pub first_name: String,
    #[diesel(deserialize_as = Unsealed)]
    pub last_name: String,
    #[diesel(deserialize_as = Unsealed)]
    pub company: String,
    #[diesel(deserialize_as = Unsealed)]
    pub line1: String,
    #[diesel(deserialize_as = Unsealed)]
    pub line2: String,
    #[diesel(deserialize_as = Unsealed)]
    pub city: String,
    #[diesel(deserialize_as = Unsealed)]
    pub region: String,
    #[diesel(deserialize_as = Unsealed)]
    pub postal_code: String,
    pub country_code: String,
    #[diesel(deserialize_as = Unsealed)]
    pub phone: String,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// The address columns a client sets.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = addresses)]
struct AddressColumns<'a> {
    #[diesel(serialize_as = Sealed)]
    first_name: &'a str,
    #[diesel(serialize_as = Sealed)]
    last_name: &'a str,
    #[diesel(serialize_as = Sealed)]
    company: &'a str,
    #[diesel(serialize_as = Sealed)]
    line1: &'a str,
    #[diesel(serialize_as = Sealed)]
    line2: &'a str,
    #[diesel(serialize_as = Sealed)]
    city: &'a str,
    #[diesel(serialize_as = Sealed)]
    region: &'a str,
    #[diesel(serialize_as = Sealed)]
    postal_code: &'a str,
    country_code: &'a str,
    #[diesel(serialize_as = Sealed)]
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
    user_id: AccountId,
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
    user_id: AccountId,
    id: AddressId,
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
pub fn delete(conn: &mut DbConnection, user_id: AccountId, id: AddressId) -> QueryResult<bool> {
    let deleted = diesel::delete(addresses::table.find(id))
        .filter(addresses::user_id.eq(user_id))
        .execute(conn)?;
    Ok(deleted > 0)
}

/// Makes one owned address the default, clearing the previous one; `None` when the account owns
/// no such address.
pub fn set_default(
    conn: &mut DbConnection,
    user_id: AccountId,
    id: AddressId,
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
pub fn count_for_user(conn: &mut DbConnection, user_id: AccountId) -> QueryResult<i64> {
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
pub fn by_ids(conn: &mut DbConnection, ids: &[AddressId]) -> QueryResult<Vec<Address>> {
    addresses::table
        .filter(addresses::id.eq_any(ids))
        .select(Address::as_select())
        .load(conn)
}

/// The ids of up to `limit` addresses after `after_id`, in id order, with a personal column
/// that does not match `sealed_pattern` (a LIKE pattern escaped with `\`: what the current
/// key seals).
pub fn not_sealed_by(
    conn: &mut DbConnection,
    sealed_pattern: &str,
    after_id: AddressId,
    limit: i64,
) -> QueryResult<Vec<AddressId>> {
    let pattern = sealed_pattern;
    addresses::table
        .filter(addresses::id.gt(after_id))
        .filter(
            addresses::first_name
                .not_like(pattern)
                .escape('\\')
                .or(addresses::last_name.not_like(pattern).escape('\\'))
                .or(addresses::company.not_like(pattern).escape('\\'))
                .or(addresses::line1.not_like(pattern).escape('\\'))
                .or(addresses::line2.not_like(pattern).escape('\\'))
                .or(addresses::city.not_like(pattern).escape('\\'))
                .or(addresses::region.not_like(pattern).escape('\\'))
                .or(addresses::postal_code.not_like(pattern).escape('\\'))
                .or(addresses::phone.not_like(pattern).escape('\\')),
        )
        .order_by(addresses::id)
        .limit(limit)
        .select(addresses::id)
        .load(conn)
}

/// Writes `address` back as it is, its personal columns sealed under the current key, unless
/// it changed since it was read (its `updated_at`). Whether it was written.
pub fn reseal(conn: &mut DbConnection, address: &Address) -> QueryResult<bool> {
    let columns = AddressColumns {
        first_name: &address.first_name,
        last_name: &address.last_name,
        company: &address.company,
        line1: &address.line1,
        line2: &address.line2,
        city: &address.city,
        region: &address.region,
        postal_code: &address.postal_code,
        country_code: &address.country_code,
        phone: &address.phone,
    };
    let written = diesel::update(addresses::table.find(address.id))
        .filter(addresses::updated_at.eq(address.updated_at))
        .set(columns)
        .execute(conn)?;
    Ok(written == 1)
}

/// The address added last, if any.
pub fn newest(conn: &mut DbConnection) -> QueryResult<Option<Address>> {
    addresses::table
        .order_by(addresses::id.desc())
        .select(Address::as_select())
        .first(conn)
        .optional()
}
