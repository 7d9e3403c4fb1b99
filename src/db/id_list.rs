//! `column IN (ids)` with the ids as one parameter, so that the statement has one text whatever
//! the number of ids and each backend keeps it prepared under its type: PostgreSQL binds an
//! array (`column = ANY($1)`), SQLite a JSON array (`column IN (SELECT value FROM json_each(?))`).
//! diesel's `eq_any` binds each id on its own, so its statements are keyed (PostgreSQL) or
//! prepared again (SQLite) by their text on every call.

use std::cell::OnceCell;

use diesel::QueryResult;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
#[cfg(feature = "postgres")]
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
#[cfg(feature = "postgres")]
use diesel::sql_types::Array;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::sqlite::Sqlite;

/// `column` is one of `ids` (see the module's note). Use it on a concrete connection
/// (`on_backend!`), not through `DbConnection`.
pub fn id_in<C>(column: C, ids: &[i64]) -> IdIn<'_, C>
where
    C: Expression<SqlType = BigInt>,
{
    IdIn {
        column,
        ids,
        json: OnceCell::new(),
    }
}

/// The expression [`id_in`] makes.
#[derive(Debug, Clone)]
pub struct IdIn<'a, C> {
    column: C,
    ids: &'a [i64],
    /// The ids as a JSON array, made when SQLite binds them.
    json: OnceCell<String>,
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
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        let json = self.json.get_or_init(|| json_array(self.ids));
        out.push_bind_param::<Text, String>(json)?;
        out.push_sql("))");
        Ok(())
    }
}

/// `[1,2,3]`.
fn json_array(ids: &[i64]) -> String {
    let mut json = String::with_capacity(2 + ids.len() * 8);
    json.push('[');
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    json
}

#[cfg(test)]
mod tests {
    use super::json_array;

    #[test]
    fn ids_become_a_json_array() {
        assert_eq!(json_array(&[]), "[]");
        assert_eq!(json_array(&[7]), "[7]");
        assert_eq!(json_array(&[1, -2, i64::MAX]), "[1,-2,9223372036854775807]");
    }
}
