//! Sessions: one row per sign-in, found by the SHA-256 of its token, ended by expiry, idleness or
//! revocation.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{sessions, users};
use crate::db::{DbConnection, notices};
use crate::domain::accounts::Role;
use crate::domain::ids::AccountId;

/// A live session and the role of its account.
#[derive(Debug, Clone, Queryable)]
pub struct LiveSession {
    pub session_id: i64,
    pub user_id: AccountId,
    pub role: Role,
    pub last_used_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Starts a session.
pub fn insert(
    conn: &mut DbConnection,
    user_id: AccountId,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::user_id.eq(user_id),
            sessions::token_hash.eq(token_hash),
            sessions::created_at.eq(now),
            sessions::last_used_at.eq(now),
            sessions::expires_at.eq(expires_at),
        ))
        .returning(sessions::id)
        .get_result(conn)
}

/// The session with this token hash, if it is neither revoked, expired, nor idle since
/// `idle_cutoff`.
pub fn find_live(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
    idle_cutoff: NaiveDateTime,
) -> QueryResult<Option<LiveSession>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::last_used_at.gt(idle_cutoff))
        .select((
            sessions::id,
            sessions::user_id,
            users::role,
            sessions::last_used_at,
            sessions::expires_at,
        ))
        .first(conn)
        .optional()
}

/// Records activity on a session.
pub fn touch(conn: &mut DbConnection, session_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(sessions::table.find(session_id))
        .set(sessions::last_used_at.eq(now))
        .execute(conn)
}

/// Ends one session.
pub fn revoke(conn: &mut DbConnection, session_id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    notices::push(format!("session:{session_id}"));
    diesel::update(sessions::table.find(session_id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}

/// Ends every session of an account except `keep`.
pub fn revoke_all(
    conn: &mut DbConnection,
    user_id: AccountId,
    keep: Option<i64>,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let query = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(keep.unwrap_or(0)));
    // Every session of the account is looked up again (the one kept, too: harmless).
    notices::push(format!("account:{user_id}"));
    diesel::update(query)
        .set(sessions::revoked_at.eq(now))
        .execute(conn)
}
