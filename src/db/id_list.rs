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
#[cfg(feature = "postgres")]
use diesel::sql_types::Array;
use diesel::sql_types::{BigInt, Bool};
use diesel::sqlite::Sqlite;

/// `column` is one of `ids` (see the module's note). Use it on a concrete connection
/// (`on_backend!`), not through `DbConnection`.
pub fn id_in<C>(column: C, ids: &[i64]) -> IdIn<'_, C>
where
    C: Expression<SqlType = BigInt>,
{
    IdIn { column, ids }
}

/// The expression [`id_in`] makes.
#[derive(Debug, Clone)]
pub struct IdIn<'a, C> {
    column: C,
    ids: &'a [i64],
}

impl<C> Expression for IdIn<'_, C>
where
    C: Expression<SqlType = BigInt>,
{
    type SqlType = Bool;
}

impl<C, QS> AppearsOnTable<QS> for IdIn<'_, C>
where
    C: AppearsOnTable<QS>,
    Self: Expression,
{
}

impl<C, QS> SelectableExpression<QS> for IdIn<'_, C>
where
    C: SelectableExpression<QS>,
    Self: AppearsOnTable<QS>,
{
}

impl<C, GB> ValidGrouping<GB> for IdIn<'_, C>
where
    C: ValidGrouping<GB>,
{
    type IsAggregate = C::IsAggregate;
}

impl<C> QueryId for IdIn<'_, C>
where
    C: QueryId,
{
    type QueryId = IdIn<'static, C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

#[cfg(feature = "postgres")]
impl<C> QueryFragment<Pg> for IdIn<'_, C>
where
    C: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<BigInt>, [i64]>(self.ids)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C> QueryFragment<Sqlite> for IdIn<'_, C>
where
    C: QueryFragment<Sqlite>,
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
            out.push_bind_param::<BigInt, i64>(id)?;
        }
        out.push_sql(")");
        Ok(())
    }
}
