//! Password-reset tokens: stored as SHA-256, single use, expiring.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::password_resets;
use crate::domain::ids::AccountId;

/// Stores a reset token for an account.
pub fn insert(
    conn: &mut DbConnection,
    user_id: AccountId,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(password_resets::table)
        .values((
            password_resets::user_id.eq(user_id),
            password_resets::token_hash.eq(token_hash),
            password_resets::created_at.eq(now),
            password_resets::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

/// Uses the token with this hash if it is unused and unexpired, in one statement (so two
/// concurrent uses cannot both succeed); the account it belongs to.
pub fn consume(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<AccountId>> {
    diesel::update(password_resets::table)
        .filter(password_resets::token_hash.eq(token_hash))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.gt(now))
        .set(password_resets::used_at.eq(now))
        .returning(password_resets::user_id)
        .get_result(conn)
        .optional()
}

/// Whether the token with this hash is unused and unexpired (a read: [`consume`] uses it).
pub fn is_usable(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        password_resets::table
            .filter(password_resets::token_hash.eq(token_hash))
            .filter(password_resets::used_at.is_null())
            .filter(password_resets::expires_at.gt(now)),
    ))
    .get_result(conn)
}

/// Marks every unused token of an account used (after any password change).
pub fn invalidate_all(
    conn: &mut DbConnection,
    user_id: AccountId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(password_resets::table)
        .filter(password_resets::user_id.eq(user_id))
        .filter(password_resets::used_at.is_null())
        .set(password_resets::used_at.eq(now))
        .execute(conn)
}
