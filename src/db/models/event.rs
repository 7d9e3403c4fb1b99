//! The event log's rows: positions handed out in commit order, events written in batches, read
//! oldest first from a position, and pruned by age; plus the change positions stamped on the
//! rows that changed.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{
    categories, collections, event_positions, events, orders, products, users, variants,
};
use crate::db::sealed::{Sealed, Unsealed};
use crate::db::{DbConnection, notices};
use crate::domain::events::EventType;
use crate::on_backend;

/// An event as stored, its payload opened (it is sealed at rest: `db::sealed`).
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = events)]
pub struct EventRow {
    /// The position in the log.
    pub id: i64,
    /// The kind's name as written (`order.created`…): text, because instances of a newer
    /// version may write kinds this one does not know, which its readers skip.
    pub event_type: String,
    pub subject_type: String,
    pub subject_id: i64,
    #[diesel(deserialize_as = Unsealed)]
    pub payload: String,
    pub occurred_at: NaiveDateTime,
}

/// An event to write, at a position taken by [`take_positions`].
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct NewEventRow<'a> {
    pub id: i64,
    pub event_type: EventType,
    pub subject_type: &'static str,
    pub subject_id: i64,
    #[diesel(serialize_as = Sealed)]
    pub payload: &'a str,
    pub occurred_at: NaiveDateTime,
}

/// Takes `count` positions and returns the last of them. On PostgreSQL the counter's row stays
/// locked until the transaction ends, so concurrent writers get their positions in commit
/// order; call this as the transaction's last step to hold that lock briefly.
pub fn take_positions(conn: &mut DbConnection, count: i64) -> QueryResult<i64> {
    let last = diesel::update(event_positions::table.filter(event_positions::id.eq(1)))
        .set(event_positions::last.eq(event_positions::last + count))
        .returning(event_positions::last)
        .get_result(conn)?;
    notices::push(format!("events:{last}"));
    Ok(last)
}

/// The position of the latest committed event (0 when the log is empty).
pub fn last_position(conn: &mut DbConnection) -> QueryResult<i64> {
    event_positions::table
        .filter(event_positions::id.eq(1))
        .select(event_positions::last)
        .first(conn)
}

/// Rows per INSERT: well under both backends' bound-parameter limits.
const CHUNK: usize = 500;

/// Writes events, one statement per [`CHUNK`].
pub fn insert(conn: &mut DbConnection, rows: &[NewEventRow<'_>]) -> QueryResult<()> {
    for chunk in rows.chunks(CHUNK) {
        on_backend!(&mut *conn, |c| diesel::insert_into(events::table)
            .values(chunk.to_vec())
            .execute(c))?;
    }
    Ok(())
}

/// A table whose rows carry the position of their latest change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tracked {
    Categories,
    Collections,
    Products,
    Variants,
    Orders,
    Users,
}

/// Stamps `position` on the rows `ids` of `table`.
pub fn stamp(
    conn: &mut DbConnection,
    table: Tracked,
    ids: &[i64],
    position: i64,
) -> QueryResult<usize> {
    macro_rules! stamp_in {
        ($table:ident) => {
            diesel::update($table::table.filter($table::id.eq_any(ids)))
                .set($table::change_position.eq(position))
                .execute(conn)
        };
    }
    match table {
        Tracked::Categories => stamp_in!(categories),
        Tracked::Collections => stamp_in!(collections),
        Tracked::Products => stamp_in!(products),
        Tracked::Variants => stamp_in!(variants),
        Tracked::Orders => stamp_in!(orders),
        Tracked::Users => stamp_in!(users),
    }
}

/// Up to `limit` events of the kinds `types` between positions `after` and `before` (both
/// excluded): the oldest of them, oldest first; or with `from_end`, the newest, newest first.
pub fn window(
    conn: &mut DbConnection,
    after: Option<i64>,
    before: Option<i64>,
    types: &[&'static str],
    limit: i64,
    from_end: bool,
) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::event_type.eq_any(types))
        .select(EventRow::as_select())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(events::id.gt(after));
    }
    if let Some(before) = before {
        query = query.filter(events::id.lt(before));
    }
    query = if from_end {
        query.order_by(events::id.desc())
    } else {
        query.order_by(events::id)
    };
    query.load(conn)
}

/// Deletes events that occurred before `cutoff`, at most about `batch` of them (oldest
/// first); how many.
pub fn prune(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: i64) -> QueryResult<usize> {
    let last_doomed: Option<i64> = events::table
        .filter(events::occurred_at.lt(cutoff))
        .order_by(events::id)
        .offset(batch - 1)
        .select(events::id)
        .first(conn)
        .optional()?;
    let mut doomed = diesel::delete(events::table)
        .filter(events::occurred_at.lt(cutoff))
        .into_boxed();
    if let Some(last) = last_doomed {
        doomed = doomed.filter(events::id.le(last));
    }
    doomed.execute(conn)
}
