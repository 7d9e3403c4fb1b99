//! Email-verification tokens: stored as SHA-256, single use, expiring.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::email_verifications;
use crate::domain::ids::AccountId;

/// Stores a verification token for an account.
pub fn insert(
    conn: &mut DbConnection,
    user_id: AccountId,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::insert_into(email_verifications::table)
        .values((
            email_verifications::user_id.eq(user_id),
            email_verifications::token_hash.eq(token_hash),
            email_verifications::created_at.eq(now),
            email_verifications::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

/// Uses the token with this hash if it is unused and unexpired, in one statement; the account
/// it belongs to.
pub fn consume(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<AccountId>> {
    diesel::update(email_verifications::table)
        .filter(email_verifications::token_hash.eq(token_hash))
        .filter(email_verifications::used_at.is_null())
        .filter(email_verifications::expires_at.gt(now))
        .set(email_verifications::used_at.eq(now))
        .returning(email_verifications::user_id)
        .get_result(conn)
        .optional()
}
