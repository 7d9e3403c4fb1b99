//! Sign-ups waiting for the email's owner to confirm them: the token is stored as SHA-256, used
//! once, and expires.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::sign_ups;

/// A sign-up as asked for, its password already hashed.
#[derive(Debug, Clone, Queryable)]
pub struct SignUp {
    pub email: String,
    pub password_hash: String,
    pub first_name: String,
    pub last_name: String,
}

/// A sign-up to store.
#[derive(Debug, Insertable)]
#[diesel(table_name = sign_ups)]
pub struct NewSignUp<'a> {
    pub token_hash: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

/// Stores a sign-up, and drops the expired ones.
pub fn insert(conn: &mut DbConnection, sign_up: &NewSignUp<'_>) -> QueryResult<usize> {
    diesel::delete(sign_ups::table.filter(sign_ups::expires_at.le(sign_up.created_at)))
        .execute(conn)?;
    diesel::insert_into(sign_ups::table)
        .values(sign_up)
        .execute(conn)
}

/// Takes the unexpired sign-up with this token hash, in one statement (it cannot be used twice).
pub fn consume(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<SignUp>> {
    diesel::delete(
        sign_ups::table
            .filter(sign_ups::token_hash.eq(token_hash))
            .filter(sign_ups::expires_at.gt(now)),
    )
    .returning((
        sign_ups::email,
        sign_ups::password_hash,
        sign_ups::first_name,
        sign_ups::last_name,
    ))
    .get_result(conn)
    .optional()
}
