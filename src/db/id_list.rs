//! `column IN (ids)` as one statement text whatever the number of ids, on PostgreSQL: the ids
//! go as one array parameter (`column = ANY($1)`), so PostgreSQL's connection keeps the statement
//! prepared under its type and diesel builds no SQL text per call. diesel's `eq_any` binds each id
//! on its own, so its statements are keyed by their text, rendered on every call. SQLite lists
//! the ids as `eq_any` does (`IN (?, ?, …)`, prepared per call): its planner, not knowing how many
//! rows a bound list (`json_each`) holds, prefers another index and scans.

use diesel::QueryResult;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
#[cfg(feature = "postgres")]
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
#[cfg(feature = "postgres")]
use diesel::sql_types::Array;
use diesel::sql_types::{BigInt, Bool};
use diesel::sqlite::Sqlite;

/// `column` is one of `ids` (see the module's note). Use it on a concrete connection
/// (`on_backend!`), not through `DbConnection`.
pub fn id_in<C, T>(column: C, ids: &[T]) -> IdIn<'_, C, T>
where
    C: Expression<SqlType = BigInt>,
{
    IdIn { column, ids }
}

/// The expression [`id_in`] makes.
#[derive(Debug, Clone)]
pub struct IdIn<'a, C, T = i64> {
    column: C,
    ids: &'a [T],
}

impl<C, T> Expression for IdIn<'_, C, T>
where
    C: Expression<SqlType = BigInt>,
{
    type SqlType = Bool;
}

impl<C, T, QS> AppearsOnTable<QS> for IdIn<'_, C, T>
where
    C: AppearsOnTable<QS>,
    Self: Expression,
{
}

impl<C, T, QS> SelectableExpression<QS> for IdIn<'_, C, T>
where
    C: SelectableExpression<QS>,
    Self: AppearsOnTable<QS>,
{
}

impl<C, T, GB> ValidGrouping<GB> for IdIn<'_, C, T>
where
    C: ValidGrouping<GB>,
{
    type IsAggregate = C::IsAggregate;
}

impl<C, T> QueryId for IdIn<'_, C, T>
where
    C: QueryId,
{
    type QueryId = IdIn<'static, C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

#[cfg(feature = "postgres")]
impl<C, T> QueryFragment<Pg> for IdIn<'_, C, T>
where
    C: QueryFragment<Pg>,
    T: ToSql<BigInt, Pg> + std::fmt::Debug,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<BigInt>, [T]>(self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C, T> QueryFragment<Sqlite> for IdIn<'_, C, T>
where
    C: QueryFragment<Sqlite>,
    T: ToSql<BigInt, Sqlite> + std::fmt::Debug,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        // A text that depends on the number of ids: prepared per call.
        out.unsafe_to_cache_prepared();
        if self.ids.is_empty() {
            out.push_sql("1=0");
            return Ok(());
        }
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        for (index, id) in self.ids.iter().enumerate() {
            if index > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<BigInt, T>(id)?;
        }
        out.push_sql(")");
        Ok(())
    }
}
