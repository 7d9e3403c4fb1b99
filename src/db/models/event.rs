//! The event log's rows: positions handed out in commit order, events written in batches, read
//! oldest first from a position, and pruned by age; plus the change positions stamped on the
//! rows that changed, and the flushes that keep every position handed out on disk.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::prepared::Prepared;
use crate::db::schema::{
    categories, collections, event_positions, events, orders, products, users, variants,
};
use crate::db::sealed::{Sealed, Unsealed};
use crate::db::{DbConnection, notices};
use crate::domain::events::EventType;
use crate::domain::feeds::RowOrder;
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

/// Takes `count` positions and returns the last of them. The counter's row stays locked until
/// the transaction ends, so concurrent writers get their positions in commit order; call this as
/// the transaction's last step to hold that lock briefly.
///
/// With `flush_after_commit` (PostgreSQL only) the transaction's commit returns without waiting
/// for its WAL flush, so the lock is released as soon as the commit is recorded instead of after
/// the disk's flush, and writers no longer queue behind each other's flushes; the caller must
/// then call [`flush_commits`] once the transaction committed, before it reports the write done.
/// Returns whether that is so.
#[cfg_attr(not(feature = "postgres"), allow(unused_variables))]
fn take_positions(
    conn: &mut DbConnection,
    count: i64,
    flush_after_commit: bool,
) -> QueryResult<(i64, bool)> {
    let counter = diesel::update(event_positions::table.filter(event_positions::id.eq(1)))
        .set(event_positions::last.eq(event_positions::last + count));
    let taken = match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) if flush_after_commit && DEFERRED_FLUSH.load(Ordering::Relaxed) => {
            let (last, _): (i64, String) = Prepared(counter.returning((
                event_positions::last,
                diesel::dsl::sql::<diesel::sql_types::Text>(
                    "set_config('synchronous_commit', 'off', true)",
                ),
            )))
            .get_result(pg)?;
            (last, true)
        }
        _ => (
            on_backend!(&mut *conn, |c| Prepared(
                counter.returning(event_positions::last)
            )
            .get_result(c))?,
            false,
        ),
    };
    notices::push(format!("events:{}", taken.0));
    Ok(taken)
}

/// Whether writers may commit before their flush ([`take_positions`]): PostgreSQL commits
/// synchronously by default and this role may write the WAL record [`flush_commits`] writes.
/// Learnt when the pool opens ([`learn_deferred_flush`]); off until then, and on SQLite.
static DEFERRED_FLUSH: AtomicBool = AtomicBool::new(false);

/// Learns whether writers may defer their flush on this database (see [`DEFERRED_FLUSH`]):
/// where they may not (`synchronous_commit` off, or `pg_logical_emit_message` not granted, as
/// some hosted PostgreSQL services do), they commit as they did before, one at a time.
pub fn learn_deferred_flush(conn: &mut DbConnection) -> QueryResult<()> {
    #[cfg(feature = "postgres")]
    #[derive(QueryableByName)]
    struct Answer {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        deferrable: bool,
    }
    let deferrable =
        match conn {
            #[cfg(feature = "postgres")]
            DbConnection::Pg(pg) => diesel::sql_query(
                "SELECT current_setting('synchronous_commit') <> 'off' AND has_function_privilege(\
                 'pg_catalog.pg_logical_emit_message(boolean, text, text)', 'EXECUTE') \
                 AS deferrable",
            )
            .get_result::<Answer>(pg)?
            .deferrable,
            DbConnection::Sqlite(_) => false,
        };
    DEFERRED_FLUSH.store(deferrable, Ordering::Relaxed);
    Ok(())
}

/// The one row of a statement run for its effect: read rather than executed, so that the
/// statement stays prepared ([`Prepared`]).
#[cfg(feature = "postgres")]
#[derive(QueryableByName)]
struct Done {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    done: i32,
}

/// Waits until every transaction this connection has committed is on disk (PostgreSQL: writes a
/// tiny WAL record in a transaction of its own, whose synchronous commit flushes the WAL up to
/// it, and so every commit before it, and waits for synchronous standbys as any commit does).
/// For writers that took positions with `flush_after_commit`; a no-op on SQLite (one instance,
/// which hands out what it committed; its `synchronous` setting decides what a power loss
/// keeps).
pub fn flush_commits(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            Prepared(diesel::sql_query(
                "SELECT 1 AS done FROM pg_logical_emit_message(true, 'bazaar', 'flush')",
            ))
            .get_result::<Done>(pg)?;
            Ok(())
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Waits until every commit this connection can see is on disk, for a reader about to hand out
/// positions (events, or rows in change order): writers' commits become visible before their
/// flush ([`take_positions`]), and a position handed out from a commit that a crash then loses
/// would be taken again by a later event, which a reader past it would skip. One statement
/// (`bazaar_wait_until_durable()`, the `durable_reads` migration): it returns at once when the
/// WAL is flushed already, waits for the writers' own flushes otherwise, and flushes itself only
/// after 50 ms or to wait for synchronous standbys. Outside a transaction only (inside one its
/// flush would wait for that transaction's commit). A no-op where writers do not defer their
/// flush, and on SQLite.
pub fn wait_until_durable(conn: &mut DbConnection) -> QueryResult<()> {
    if !DEFERRED_FLUSH.load(Ordering::Relaxed) {
        return Ok(());
    }
    if crate::db::transaction_depth(conn)? != 0 {
        return Err(diesel::result::Error::QueryBuilderError(
            "wait_until_durable in a transaction: its flush would wait for that commit".into(),
        ));
    }
    match conn {
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            Prepared(diesel::sql_query(
                "SELECT 1 AS done FROM bazaar_wait_until_durable()",
            ))
            .get_result::<Done>(pg)?;
            Ok(())
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// [`wait_until_durable`] after reading rows in `order`: in change order their cursors carry
/// positions.
pub fn settle_read_in(conn: &mut DbConnection, order: RowOrder) -> QueryResult<()> {
    match order {
        RowOrder::Changed => wait_until_durable(conn),
        RowOrder::Created => Ok(()),
    }
}

/// The position of the latest committed event (0 when the log is empty).
pub fn last_position(conn: &mut DbConnection) -> QueryResult<i64> {
    event_positions::table
        .filter(event_positions::id.eq(1))
        .select(event_positions::last)
        .first(conn)
}

/// Rows per INSERT on SQLite: well under its bound-parameter limit.
const CHUNK: usize = 500;

/// An event to append to the log: its position is taken as it is written ([`append`]).
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub event_type: EventType,
    pub subject_type: &'static str,
    pub subject_id: i64,
    pub payload: &'a str,
}

/// Takes positions for `events` ([`take_positions`]; one when there are none, for the rows a
/// transaction stamps without an event) and writes the events at them, oldest first. Returns the
/// last position and whether the caller must flush after its commit (see [`take_positions`]).
///
/// On PostgreSQL, with events, one statement kept prepared whatever their number (the counter's
/// update and the insert in one, the rows as arrays); otherwise the counter's update, then one
/// insert per [`CHUNK`] events.
pub fn append(
    conn: &mut DbConnection,
    events: &[NewEvent<'_>],
    occurred_at: NaiveDateTime,
    flush_after_commit: bool,
) -> QueryResult<(i64, bool)> {
    #[cfg(feature = "postgres")]
    if let DbConnection::Pg(pg) = conn
        && !events.is_empty()
    {
        let deferred = flush_after_commit && DEFERRED_FLUSH.load(Ordering::Relaxed);
        let last = append_in_one_statement(pg, events, occurred_at, deferred)?;
        notices::push(format!("events:{last}"));
        return Ok((last, deferred));
    }
    let count = i64::try_from(events.len().max(1)).unwrap_or(i64::MAX);
    let (last, deferred) = take_positions(conn, count, flush_after_commit)?;
    let rows: Vec<NewEventRow<'_>> = events
        .iter()
        .zip(last - count + 1..)
        .map(|(event, position)| NewEventRow {
            id: position,
            event_type: event.event_type,
            subject_type: event.subject_type,
            subject_id: event.subject_id,
            payload: event.payload,
            occurred_at,
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        on_backend!(&mut *conn, |c| diesel::insert_into(events::table)
            .values(chunk.to_vec())
            .execute(c))?;
    }
    Ok((last, deferred))
}

/// [`append`]'s one statement on PostgreSQL: the counter's update (which also turns off the
/// wait for the commit's flush when `deferred`) feeds the insert of every event. The last
/// position taken.
#[cfg(feature = "postgres")]
fn append_in_one_statement(
    pg: &mut diesel::PgConnection,
    events: &[NewEvent<'_>],
    occurred_at: NaiveDateTime,
    deferred: bool,
) -> QueryResult<i64> {
    use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamp};

    #[derive(QueryableByName)]
    struct Appended {
        #[diesel(sql_type = BigInt)]
        last: i64,
    }
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    let subject_types: Vec<&str> = events.iter().map(|e| e.subject_type).collect();
    let subject_ids: Vec<i64> = events.iter().map(|e| e.subject_id).collect();
    let payloads: Vec<String> = events
        .iter()
        .map(|e| crate::db::sealed::seal(e.payload))
        .collect();
    // `commit_mode` is read by the insert so that PostgreSQL evaluates the setting for certain.
    let appended: Appended = Prepared(
        diesel::sql_query(
            "WITH taken AS ( \
                 UPDATE event_positions SET last = last + cardinality($1::text[]) WHERE id = 1 \
                 RETURNING last - cardinality($1::text[]) AS before, \
                     CASE WHEN $5 THEN set_config('synchronous_commit', 'off', true) \
                     ELSE 'unchanged' END AS commit_mode \
             ), appended AS ( \
                 INSERT INTO events (id, event_type, subject_type, subject_id, payload, occurred_at) \
                 SELECT taken.before + e.n, e.event_type, e.subject_type, e.subject_id, e.payload, $6 \
                 FROM taken CROSS JOIN unnest($1::text[], $2::text[], $3::int8[], $4::text[]) \
                     WITH ORDINALITY AS e (event_type, subject_type, subject_id, payload, n) \
                 WHERE taken.commit_mode IS NOT NULL \
                 RETURNING id \
             ) \
             SELECT max(id) AS last FROM appended",
        )
        .bind::<Array<Text>, _>(types)
        .bind::<Array<Text>, _>(subject_types)
        .bind::<Array<BigInt>, _>(subject_ids)
        .bind::<Array<Text>, _>(payloads)
        .bind::<Bool, _>(deferred)
        .bind::<Timestamp, _>(occurred_at),
    )
    .get_result(pg)?;
    Ok(appended.last)
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
