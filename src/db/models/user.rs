//! Users (accounts): profile rows without the password hash, credentials for sign-in, roles, and
//! the staff list of customers (keyset over id, or over change position for change feeds).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::id_list::id_in;
use crate::db::schema::users;
use crate::db::{DbConnection, notices};
use crate::domain::accounts::Role;
use crate::domain::feeds::RowWindow;
use crate::domain::ids::AccountId;
use crate::domain::metadata::MetadataCondition;
use crate::{filter_like, on_backend, row_window};

/// An account as the API may show it: everything but the password hash.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: AccountId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub email_verified_at: Option<NaiveDateTime>,
    /// The event-log position of the row's latest change: change feeds walk accounts in this
    /// order.
    pub change_position: i64,
}

type UserColumns = (
    users::id,
    users::email,
    users::first_name,
    users::last_name,
    users::role,
    users::created_at,
    users::updated_at,
    users::email_verified_at,
    users::change_position,
);

/// The columns of [`User`], for `RETURNING` (which cannot take `as_returning()` on the combined
/// backend).
const USER_COLUMNS: UserColumns = (
    users::id,
    users::email,
    users::first_name,
    users::last_name,
    users::role,
    users::created_at,
    users::updated_at,
    users::email_verified_at,
    users::change_position,
);

/// What sign-in checks a password against.
#[derive(Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Credentials {
    pub id: AccountId,
    pub password_hash: String,
}

/// An account to insert.
#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub role: Role,
    pub search_text: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Profile fields to change.
#[derive(AsChangeset)]
#[diesel(table_name = users)]
pub struct ProfileChanges<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub search_text: &'a str,
    pub updated_at: NaiveDateTime,
}

/// Inserts an account.
pub fn insert(conn: &mut DbConnection, new: &NewUser<'_>) -> QueryResult<User> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(USER_COLUMNS)
        .get_result(conn)
}

/// The accounts with these ids (in no particular order). A static statement on the concrete
/// connection (see `product::by_ids`).
pub fn by_ids(conn: &mut DbConnection, ids: &[AccountId]) -> QueryResult<Vec<User>> {
    on_backend!(conn, |concrete| users::table
        .filter(id_in(users::id, ids))
        .select(User::as_select())
        .load(concrete))
}

/// The account with this (normalised) email.
pub fn by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// The credentials of the account with this (normalised) email.
pub fn credentials_by_email(
    conn: &mut DbConnection,
    email: &str,
) -> QueryResult<Option<Credentials>> {
    users::table
        .filter(users::email.eq(email))
        .select(Credentials::as_select())
        .first(conn)
        .optional()
}

/// The password hash of an account.
pub fn password_hash(conn: &mut DbConnection, id: AccountId) -> QueryResult<String> {
    users::table
        .find(id)
        .select(users::password_hash)
        .first(conn)
}

/// Replaces an account's password hash.
pub fn set_password_hash(
    conn: &mut DbConnection,
    id: AccountId,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    notices::push(format!("account:{id}"));
    diesel::update(users::table.find(id))
        .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
        .execute(conn)
}

/// Changes an account's names.
pub fn update_profile(
    conn: &mut DbConnection,
    id: AccountId,
    changes: &ProfileChanges<'_>,
) -> QueryResult<User> {
    diesel::update(users::table.find(id))
        .set(changes)
        .returning(USER_COLUMNS)
        .get_result(conn)
}

/// Changes an account's role.
pub fn set_role(
    conn: &mut DbConnection,
    id: AccountId,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<User> {
    notices::push(format!("account:{id}"));
    diesel::update(users::table.find(id))
        .set((users::role.eq(role), users::updated_at.eq(now)))
        .returning(USER_COLUMNS)
        .get_result(conn)
}

/// The ids of the accounts with `role`, their rows locked until the transaction ends
/// (PostgreSQL: `FOR UPDATE`, which waits for a concurrent role change and then sees its result;
/// SQLite: the write transaction already holds the database). Call inside a write transaction.
pub fn lock_with_role(conn: &mut DbConnection, role: Role) -> QueryResult<Vec<AccountId>> {
    let with_role = users::table.filter(users::role.eq(role)).select(users::id);
    match conn {
        DbConnection::Sqlite(c) => with_role.load(c),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => with_role.for_update().load(c),
    }
}

/// Locks one account's row until the transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's
/// writing transactions are serialised already), so that checks made on what the account owns
/// (how many addresses) hold until the transaction commits. False when there is no such account.
pub fn lock(conn: &mut DbConnection, id: AccountId) -> QueryResult<bool> {
    let account = users::table.filter(users::id.eq(id)).select(users::id);
    let found: Option<AccountId> = match conn {
        DbConnection::Sqlite(c) => account.first(c).optional()?,
        #[cfg(feature = "postgres")]
        DbConnection::Pg(c) => account.for_update().first(c).optional()?,
    };
    Ok(found.is_some())
}

/// What the staff list of accounts is filtered by.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// `LIKE` pattern over email and names (see `domain::catalog::search_pattern`).
    pub search_pattern: Option<String>,
    /// Only accounts with this role.
    pub role: Option<Role>,
    /// Only accounts changed at or after this time.
    pub updated_since: Option<NaiveDateTime>,
    /// Only accounts with these metadata entries.
    pub metadata: Vec<MetadataCondition>,
}

/// One window of accounts matching `filter`.
pub fn page(
    conn: &mut DbConnection,
    filter: &UserFilter,
    window: &RowWindow,
) -> QueryResult<Vec<User>> {
    let mut query = users::table.select(User::as_select()).into_boxed();
    if let Some(pattern) = &filter.search_pattern {
        query = filter_like!(query, conn, users::search_text, pattern);
    }
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(users::updated_at.ge(since));
    }
    query = crate::filter_metadata!(query, user_id, users::id, &filter.metadata);
    let rows = row_window!(query, users, window).load(conn)?;
    super::event::settle_read_in(conn, window.sort.order)?;
    Ok(rows)
}

/// Records that the account's owner proved they read its email.
pub fn mark_email_verified(
    conn: &mut DbConnection,
    id: AccountId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .filter(users::email_verified_at.is_null())
        .set((users::email_verified_at.eq(now), users::updated_at.eq(now)))
        .execute(conn)?;
    Ok(())
}
