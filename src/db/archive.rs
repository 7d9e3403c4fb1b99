//! The tables of a portable archive (`bazaar export`/`import`, `backup`/`restore`): every table
//! of `schema.rs` read in keyset batches by primary key and written as JSON lines in the
//! canonical encoding of `domain::archive`, loaded back in multi-row inserts, copied from another
//! database; and the SQL around them: the read snapshot, the load transaction, counts, sequences,
//! integrity checks, SQLite's `VACUUM INTO`.
//!
//! Each table's columns, their types and so their encodings come from its `table!` definition
//! (its `all_columns`); only the list of tables, in load order, is written here, and a test
//! checks it against the tables of a migrated database.

use std::io::{self, BufRead, Read as _};

use diesel::connection::SimpleConnection as _;
use diesel::expression::{AsExpression, Expression};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Bool, Integer, Nullable, SqlType, Text, Timestamp};

use super::DbConnection;
use crate::domain::archive::{Portable, PortableRow, for_each_tuple, read_line};

/// A SQL type whose values have a portable form.
pub trait PortableSql {
    /// The Rust value of a column of this type.
    type Value: Portable + Clone;
    /// Whether it is text: PostgreSQL must order keys of it bytewise (`COLLATE "C"`), as SQLite
    /// does, for rows to come out in the same order from both.
    const TEXT: bool = false;
}

impl PortableSql for BigInt {
    type Value = i64;
}

impl PortableSql for Integer {
    type Value = i32;
}

impl PortableSql for Bool {
    type Value = bool;
}

impl PortableSql for Text {
    type Value = String;
    const TEXT: bool = true;
}

impl PortableSql for Timestamp {
    type Value = chrono::NaiveDateTime;
}

impl PortableSql for Binary {
    type Value = Vec<u8>;
}

impl<T: PortableSql + SqlType> PortableSql for Nullable<T> {
    type Value = Option<T::Value>;
}

/// A table's columns (its `all_columns`): their names, the row of their values, and how a row
/// becomes the assignments of an insert.
pub trait Columns {
    /// The values of a row.
    type Row: PortableRow;
    /// `(column.eq(value), …)`.
    type Assignments;
    /// The column names, in order.
    fn names() -> Vec<&'static str>;
    /// The assignments that insert `row`.
    fn assign(self, row: Self::Row) -> Self::Assignments;
}

/// Implements [`Columns`] for a tuple of columns.
macro_rules! columns {
    ($($column:ident $index:tt)+) => {
        impl<$($column),+> Columns for ($($column,)+)
        where
            $(
                $column: diesel::Column + ExpressionMethods,
                <$column as Expression>::SqlType: PortableSql + SqlType,
                <<$column as Expression>::SqlType as PortableSql>::Value:
                    AsExpression<<$column as Expression>::SqlType>,
            )+
        {
            type Row = ($(<<$column as Expression>::SqlType as PortableSql>::Value,)+);
            type Assignments = ($(
                diesel::dsl::Eq<$column, <<$column as Expression>::SqlType as PortableSql>::Value>,
            )+);

            fn names() -> Vec<&'static str> {
                vec![$($column::NAME),+]
            }

            fn assign(self, row: Self::Row) -> Self::Assignments {
                ($(self.$index.eq(row.$index),)+)
            }
        }
    };
}

for_each_tuple!(columns;
    A 0 B 1 C 2 D 3 E 4 F 5 G 6 H 7 I 8 J 9 K 10 L 11 M 12 N 13 O 14 P 15
    Q 16 R 17 S 18 T 19 U 20 V 21 W 22 X 23 Y 24 Z 25 AA 26 AB 27 AC 28 AD 29 AE 30 AF 31);

/// Where a table's lines go while it is exported.
pub type LineSink<'a> = &'a mut dyn FnMut(&[u8]) -> io::Result<()>;

/// One table of the archive, with what can be done to it.
pub struct ArchiveTable {
    /// The table's name (and its file's: `<name>.jsonl`).
    pub name: &'static str,
    columns: fn() -> Vec<&'static str>,
    export: fn(&mut DbConnection, i64, LineSink<'_>) -> anyhow::Result<u64>,
    import: fn(&mut DbConnection, &mut dyn BufRead) -> anyhow::Result<u64>,
    copy: fn(&mut DbConnection, &mut DbConnection, i64) -> anyhow::Result<u64>,
    count: fn(&mut DbConnection) -> QueryResult<i64>,
    clear: fn(&mut DbConnection) -> QueryResult<usize>,
    last_position: fn(&mut DbConnection) -> QueryResult<Option<i64>>,
}

impl ArchiveTable {
    /// Its column names, in order.
    pub fn columns(&self) -> Vec<&'static str> {
        (self.columns)()
    }

    /// Writes every row, by primary key, `batch` rows per statement, into `sink`; the rows.
    pub fn export(
        &self,
        conn: &mut DbConnection,
        batch: i64,
        sink: LineSink<'_>,
    ) -> anyhow::Result<u64> {
        (self.export)(conn, batch.max(1), sink)
    }

    /// Inserts a table file's rows; the rows.
    pub fn import(&self, conn: &mut DbConnection, lines: &mut dyn BufRead) -> anyhow::Result<u64> {
        (self.import)(conn, lines)
    }

    /// Copies every row of the table in `from` into `to`; the rows.
    pub fn copy(
        &self,
        from: &mut DbConnection,
        to: &mut DbConnection,
        batch: i64,
    ) -> anyhow::Result<u64> {
        (self.copy)(from, to, batch.max(1))
    }

    /// Its rows.
    pub fn count(&self, conn: &mut DbConnection) -> QueryResult<i64> {
        (self.count)(conn)
    }

    /// Deletes every row.
    pub fn clear(&self, conn: &mut DbConnection) -> QueryResult<usize> {
        (self.clear)(conn)
    }

    /// Its largest key as a sequence position (`None` for text keys, or no rows).
    pub fn last_position(&self, conn: &mut DbConnection) -> QueryResult<Option<i64>> {
        (self.last_position)(conn)
    }

    /// Whether the migrations themselves put rows in it (the one-row event counter): such rows
    /// do not make a database less empty, and are replaced by the archive's.
    pub fn filled_by_migrations(&self) -> bool {
        self.name == "event_positions"
    }
}

/// Declares [`TABLES`], in load order, with the code of each from its `table!` definition.
macro_rules! archive_tables {
    ($($table:ident),+ $(,)?) => {
        /// Every table of the archive, in load order: a table comes after those it refers to.
        pub static TABLES: &[ArchiveTable] = &[$(
            ArchiveTable {
                name: stringify!($table),
                columns: tables::$table::columns,
                export: tables::$table::export,
                import: tables::$table::import,
                copy: tables::$table::copy,
                count: tables::$table::count,
                clear: tables::$table::clear,
                last_position: tables::$table::last_position,
            },
        )+];

        mod tables {
            $(
                pub(super) mod $table {
                    use diesel::prelude::*;
                    use diesel::sql_types::Bool;

                    use diesel::dsl::sql;

                    use super::super::{
                        Columns, DbConnection, LineSink, PortableSql, copy_rows, export_rows,
                        import_rows,
                    };
                    use crate::db::schema::$table as t;

                    type AllColumns = <t::table as diesel::Table>::AllColumns;
                    type Row = <AllColumns as Columns>::Row;
                    type KeySql = <t::id as diesel::Expression>::SqlType;
                    type Key = <KeySql as PortableSql>::Value;

                    pub(in super::super) fn columns() -> Vec<&'static str> {
                        AllColumns::names()
                    }

                    /// The `limit` rows after `after`, each with its key, in key order.
                    fn read(
                        conn: &mut DbConnection,
                        after: Option<&Key>,
                        limit: i64,
                    ) -> QueryResult<Vec<(Key, Row)>> {
                        #[cfg(feature = "postgres")]
                        let bytewise = KeySql::TEXT && matches!(conn, DbConnection::Pg(_));
                        #[cfg(not(feature = "postgres"))]
                        let bytewise = false;
                        let mut query = t::table
                            .select((t::id, t::all_columns))
                            .limit(limit)
                            .into_boxed();
                        query = match (after, bytewise) {
                            (None, _) => query,
                            (Some(key), false) => query.filter(t::id.gt(key.clone())),
                            (Some(key), true) => query.filter(
                                sql::<Bool>(r#"id COLLATE "C" > "#)
                                    .bind::<KeySql, _>(key.clone()),
                            ),
                        };
                        query = if bytewise {
                            query.order_by(sql::<KeySql>(r#"id COLLATE "C""#))
                        } else {
                            query.order_by(t::id.asc())
                        };
                        query.load(conn)
                    }

                    /// Inserts `rows` in one statement.
                    fn insert(conn: &mut DbConnection, rows: Vec<Row>) -> QueryResult<usize> {
                        let values: Vec<_> =
                            rows.into_iter().map(|row| t::all_columns.assign(row)).collect();
                        crate::on_backend!(conn, |concrete| diesel::insert_into(t::table)
                            .values(values)
                            .execute(concrete))
                    }

                    pub(in super::super) fn export(
                        conn: &mut DbConnection,
                        batch: i64,
                        sink: LineSink<'_>,
                    ) -> anyhow::Result<u64> {
                        export_rows(conn, &columns(), batch, read, sink)
                    }

                    pub(in super::super) fn import(
                        conn: &mut DbConnection,
                        lines: &mut dyn std::io::BufRead,
                    ) -> anyhow::Result<u64> {
                        import_rows(conn, &columns(), lines, insert)
                    }

                    pub(in super::super) fn copy(
                        from: &mut DbConnection,
                        to: &mut DbConnection,
                        batch: i64,
                    ) -> anyhow::Result<u64> {
                        copy_rows(from, to, columns().len(), batch, read, insert)
                    }

                    pub(in super::super) fn count(conn: &mut DbConnection) -> QueryResult<i64> {
                        t::table.count().get_result(conn)
                    }

                    pub(in super::super) fn clear(conn: &mut DbConnection) -> QueryResult<usize> {
                        diesel::delete(t::table).execute(conn)
                    }

                    pub(in super::super) fn last_position(
                        conn: &mut DbConnection,
                    ) -> QueryResult<Option<i64>> {
                        let last: Option<Key> = t::table
                            .select(diesel::dsl::max(t::id))
                            .first(conn)?;
                        Ok(last.and_then(|key| crate::domain::archive::Portable::position(&key)))
                    }
                }
            )+
        }
    };
}

// `events` first: inserting an event stamps its subject's row (the `events_stamp_*` triggers),
// which must not touch rows loaded from the archive with their own stamps. The rest in the order
// of their foreign keys; within a table rows go in key order, and a self-reference
// (`categories.parent_id`, `payments.parent_id`) points at an older row.
archive_tables!(
    events,
    event_positions,
    categories,
    products,
    variants,
    product_images,
    users,
    sessions,
    password_resets,
    addresses,
    email_verifications,
    sign_ups,
    discount_codes,
    shipping_zones,
    shipping_zone_regions,
    shipping_methods,
    tax_rates,
    collections,
    collection_products,
    carts,
    cart_lines,
    orders,
    order_lines,
    order_events,
    fulfillments,
    fulfillment_lines,
    payments,
    reviews,
    provider_events,
    apps,
    api_keys,
    audit_log,
    webhook_subscriptions,
    webhook_deliveries,
    webhook_attempts,
    metadata,
    order_notes,
);

/// The names of [`TABLES`], in load order.
pub fn table_names() -> Vec<&'static str> {
    TABLES.iter().map(|table| table.name).collect()
}

/// Bind parameters one insert may carry: below SQLite's 32,766 and PostgreSQL's 65,535.
const BINDS_PER_INSERT: usize = 16_000;

/// Rows per insert for a table of `columns` columns.
fn rows_per_insert(columns: usize) -> usize {
    (BINDS_PER_INSERT / columns.max(1)).max(1)
}

/// The longest line a table file may have (a row with a 10,000-character description, or an
/// event payload, is far below it).
const MAX_LINE_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the rows after a key, each with its key, in key order: at most so many.
type ReadBatch<K, R> = fn(&mut DbConnection, Option<&K>, i64) -> QueryResult<Vec<(K, R)>>;

fn export_rows<K: Clone, R: PortableRow>(
    conn: &mut DbConnection,
    names: &[&str],
    batch: i64,
    read: ReadBatch<K, R>,
    sink: LineSink<'_>,
) -> anyhow::Result<u64> {
    let mut after: Option<K> = None;
    let mut total = 0;
    let mut lines = Vec::new();
    loop {
        let rows = read(conn, after.as_ref(), batch)?;
        lines.clear();
        for (_, row) in &rows {
            row.write_json(names, &mut lines);
            lines.push(b'\n');
        }
        sink(&lines)?;
        total += rows.len() as u64;
        // A short batch is the last.
        if (rows.len() as i64) < batch {
            return Ok(total);
        }
        after = rows.into_iter().last().map(|(key, _)| key);
    }
}

fn import_rows<R: PortableRow>(
    conn: &mut DbConnection,
    names: &[&str],
    lines: &mut dyn BufRead,
    insert: fn(&mut DbConnection, Vec<R>) -> QueryResult<usize>,
) -> anyhow::Result<u64> {
    let chunk = rows_per_insert(names.len());
    let mut rows = Vec::with_capacity(chunk);
    let mut line = Vec::new();
    let mut number = 0_u64;
    loop {
        line.clear();
        let read = (&mut *lines)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        number += 1;
        anyhow::ensure!(
            line.pop() == Some(b'\n'),
            "line {number}: {}",
            if line.len() as u64 >= MAX_LINE_BYTES {
                "longer than 64 MiB"
            } else {
                "the last line has no newline"
            }
        );
        let row =
            read_line::<R>(&line, names).map_err(|e| anyhow::anyhow!("line {number}: {e}"))?;
        rows.push(row);
        if rows.len() == chunk {
            insert(
                conn,
                std::mem::replace(&mut rows, Vec::with_capacity(chunk)),
            )?;
        }
    }
    if !rows.is_empty() {
        insert(conn, rows)?;
    }
    Ok(number)
}

fn copy_rows<K: Clone, R>(
    from: &mut DbConnection,
    to: &mut DbConnection,
    columns: usize,
    batch: i64,
    read: ReadBatch<K, R>,
    insert: fn(&mut DbConnection, Vec<R>) -> QueryResult<usize>,
) -> anyhow::Result<u64> {
    let batch = batch.min(rows_per_insert(columns) as i64);
    let mut after: Option<K> = None;
    let mut total = 0;
    loop {
        let rows = read(from, after.as_ref(), batch)?;
        let count = rows.len();
        total += count as u64;
        after = rows.last().map(|(key, _)| key.clone());
        if count > 0 {
            insert(to, rows.into_iter().map(|(_, row)| row).collect())?;
        }
        if (count as i64) < batch {
            return Ok(total);
        }
    }
}

/// Runs `work` in one read-only snapshot of the whole database: PostgreSQL's `REPEATABLE READ
/// READ ONLY` transaction, SQLite's read transaction (in WAL mode writers go on meanwhile).
/// Returns once what the snapshot held is on disk (it may hold commits whose writers had not
/// flushed them yet: `models::event::append`).
pub fn in_snapshot<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let begin = match conn {
        DbConnection::Sqlite(_) => "BEGIN DEFERRED",
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
    };
    let value = super::transaction_begun_with(conn, begin, work)?;
    super::models::event::wait_until_durable(conn)?;
    Ok(value)
}

/// Runs `work`, which loads tables, in one write transaction. On SQLite foreign keys are off
/// while it runs (rows go in table by table) and checked before it commits: any row that
/// refers to a missing one fails the load. On PostgreSQL the constraints hold at each insert.
pub fn in_load_transaction<T>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return super::transaction_begun_with(conn, "BEGIN", work);
    };
    // Takes effect outside a transaction only.
    sqlite.batch_execute("PRAGMA foreign_keys = OFF")?;
    let loaded = super::transaction_begun_with(conn, "BEGIN IMMEDIATE", |conn| {
        let value = work(conn)?;
        let broken = foreign_key_violations(conn)?;
        anyhow::ensure!(
            broken.is_empty(),
            "rows refer to rows that are not there: {}",
            broken.join(", ")
        );
        Ok(value)
    });
    let restored = match conn {
        DbConnection::Sqlite(sqlite) => sqlite.batch_execute("PRAGMA foreign_keys = ON"),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => Ok(()),
    };
    let value = loaded?;
    restored?;
    Ok(value)
}

#[derive(QueryableByName)]
struct ForeignKeyViolation {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = Text)]
    parent: String,
}

/// SQLite's `foreign_key_check`: one `table → parent` per kind of broken reference (at most 10).
fn foreign_key_violations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Ok(Vec::new());
    };
    let rows: Vec<ForeignKeyViolation> =
        diesel::sql_query("PRAGMA foreign_key_check").load(sqlite)?;
    let mut kinds: Vec<String> = rows
        .iter()
        .map(|row| format!("{} → {}", row.table, row.parent))
        .collect();
    kinds.dedup();
    kinds.truncate(10);
    Ok(kinds)
}

#[derive(QueryableByName)]
struct IntegrityProblem {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// SQLite's `integrity_check` and `foreign_key_check`, outside any transaction; on PostgreSQL
/// nothing (its constraints held at every insert). Fails with what is wrong.
pub fn check_integrity(conn: &mut DbConnection) -> anyhow::Result<()> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    let problems: Vec<IntegrityProblem> =
        diesel::sql_query("PRAGMA integrity_check").load(sqlite)?;
    let problems: Vec<String> = problems
        .into_iter()
        .map(|p| p.integrity_check)
        .filter(|p| p != "ok")
        .take(5)
        .collect();
    anyhow::ensure!(
        problems.is_empty(),
        "the integrity check failed: {}",
        problems.join("; ")
    );
    let broken = foreign_key_violations(conn)?;
    anyhow::ensure!(
        broken.is_empty(),
        "the foreign key check failed: {}",
        broken.join(", ")
    );
    Ok(())
}

/// Points each table's id sequence (PostgreSQL's identity columns) past its largest id, so the
/// next row inserted gets a new one; nothing on SQLite, whose ids follow the largest row.
pub fn reset_sequences(conn: &mut DbConnection) -> anyhow::Result<()> {
    #[cfg(feature = "postgres")]
    if matches!(conn, DbConnection::Pg(_)) {
        for table in TABLES {
            let next = table.last_position(conn)?.unwrap_or(0) + 1;
            // `pg_get_serial_sequence` is NULL for a table without one, and so is `setval`.
            diesel::sql_query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2, false)")
                .bind::<Text, _>(table.name)
                .bind::<BigInt, _>(next)
                .execute(conn)?;
        }
    }
    let _ = conn;
    Ok(())
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The tables of the database's schema, but diesel's migrations table, sorted.
pub fn database_tables(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let query = match conn {
        DbConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '__diesel_schema_migrations' ORDER BY name"
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => {
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '__diesel_schema_migrations' ORDER BY name"
        }
    };
    let names: Vec<TableName> = diesel::sql_query(query).load(conn)?;
    Ok(names.into_iter().map(|n| n.name).collect())
}

/// Writes a consistent copy of the SQLite database to the new file `path` (`VACUUM INTO`: one
/// read transaction, so writers go on; the copy is compacted). Not on PostgreSQL.
pub fn vacuum_into(conn: &mut DbConnection, path: &str) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(sqlite) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(path)
                .execute(sqlite)?;
            Ok(())
        }
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => anyhow::bail!("VACUUM INTO is SQLite's"),
    }
}

/// Whether `file` begins as a SQLite database does.
pub fn is_sqlite_file(file: &mut impl io::Read) -> io::Result<bool> {
    const HEADER: &[u8; 16] = b"SQLite format 3\0";
    let mut start = [0_u8; 16];
    let mut read = 0;
    while read < start.len() {
        match file.read(&mut start[read..])? {
            0 => return Ok(false),
            n => read += n,
        }
    }
    Ok(&start == HEADER)
}
