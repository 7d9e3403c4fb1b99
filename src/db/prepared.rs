//! Statements kept prepared on their connection although diesel would prepare them anew on every
//! call: the hot writes (taking stock, positions, completing a cart) whose text never varies.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `statement`, kept prepared by its SQL text on the connection that runs it. Diesel keeps a
/// `SELECT` prepared, but prepares every `UPDATE`, raw SQL and insert of a varying number of rows
/// anew on each call, as their text could take unboundedly many forms: PostgreSQL then parses and
/// plans it every time. Wrap only a statement whose text takes one form (or a few), or the
/// connection's statement cache grows with every new form. Read its answer (`load`,
/// `get_result`; `RETURNING` for a write): `execute` hands diesel a reference, which answers
/// from the statement's parts, and diesel prepares it anew all the same.
#[derive(Debug, Clone, Copy)]
pub struct Prepared<S>(pub S);

impl<S> QueryId for Prepared<S> {
    type QueryId = ();
    // Cached by its text, not by its type: the type of an `UPDATE` does not fix its text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<S: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Prepared<S> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    // Diesel hides this method from its documentation (it belongs to its backend API), but it is
    // what tells the connection whether it may keep the statement: this is the one override.
    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<S: Query> Query for Prepared<S> {
    type SqlType = S::SqlType;
}

impl<S, Conn> RunQueryDsl<Conn> for Prepared<S> {}
