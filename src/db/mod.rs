//! The database layer: the pool over SQLite or PostgreSQL, the one async gate through which every
//! query runs ([`Db::run`]), table definitions, row models and migrations.

pub mod archive;
mod connection;
pub mod id_list;
#[cfg(feature = "postgres")]
pub mod listener;
pub mod migrations;
pub mod models;
pub mod notices;
pub mod prepared;
pub mod schema;
pub mod sealed;
mod stats;
mod stored;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use connection::{Backend, ConnectionManager, DatabaseUrl, DbConnection, MultiBackend, redact};
pub use stats::SqlStats;

use crate::config::DatabaseConfig;
use crate::domain::money::Currency;
use crate::error::{AppError, AppResult};

/// The connection pool.
pub type Pool = r2d2::Pool<ConnectionManager>;

/// Told the notices a database call recorded (see [`notices`]), once the call is over: the bus
/// delivers them on this instance.
pub type NoticesHook = Arc<dyn Fn(Vec<String>) + Send + Sync>;

/// A handle on the database: the pool plus, within a request, the request's statement counter.
/// Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    stats: Option<Arc<SqlStats>>,
    actor: Option<i64>,
    currency: Currency,
    notices: Option<NoticesHook>,
    /// The URL, for the bus's own connection (PostgreSQL only).
    postgres_url: Option<Arc<str>>,
    /// Calls waiting for a pooled connection now (r2d2's state does not say).
    waiting: Arc<AtomicU64>,
}

/// The pool at one moment, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open (in use or idle).
    pub open: u64,
    /// Connections open and idle.
    pub idle: u64,
    /// Most connections the pool opens.
    pub max: u64,
    /// Calls waiting for a connection.
    pub waiting: u64,
}

/// Counts a call as waiting for a connection until dropped.
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn on(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Db {
    /// Connects, failing fast with a one-line message when the URL is wrong or unreachable.
    pub fn connect(config: &DatabaseConfig) -> anyhow::Result<Self> {
        let url = DatabaseUrl::parse(&config.database_url)?;
        sealed::install(config.sealing_keys.as_deref())?;
        let manager = ConnectionManager::new(url.clone());
        // One direct attempt first: r2d2 would only report a timeout.
        manager.check_reachable()?;
        let pool = r2d2::Pool::builder()
            .max_size(config.effective_pool_size())
            // No idle connections kept on reserve: r2d2 would open them on its own threads in
            // the background, and a process exiting while libpq is mid-connect on one of them
            // crashes in libpq's teardown (seen: SIGSEGV after `bazaar create-admin`, "free():
            // invalid pointer" at the end of a test run). Connections are opened on demand
            // and kept for reuse.
            .min_idle(Some(0))
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(config.pool_timeout_secs.max(1)))
            .connection_customizer(Box::new(connection::Customizer {
                plan_cache_mode: config.pg_plan_cache_mode,
                statement_timeout: config.statement_timeout,
            }))
            .build(manager)
            .map_err(|e| anyhow::anyhow!("cannot open a connection pool to {url}: {e}"))?;
        if matches!(url, DatabaseUrl::Postgres(_)) {
            models::event::learn_deferred_flush(&mut *pool.get()?)?;
        }
        Ok(Self {
            pool,
            backend: url.backend(),
            stats: None,
            actor: None,
            currency: Currency::default(),
            notices: None,
            postgres_url: match &url {
                DatabaseUrl::Postgres(url) => Some(url.as_str().into()),
                DatabaseUrl::Sqlite(_) => None,
            },
            waiting: Arc::default(),
        })
    }

    /// The pool now: connections open, idle, at most, and calls waiting for one.
    pub fn pool_status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            open: u64::from(state.connections),
            idle: u64::from(state.idle_connections),
            max: u64::from(self.pool.max_size()),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The PostgreSQL URL, for a connection outside the pool; `None` on SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_deref()
    }

    /// A handle that counts the statements it runs into `stats`.
    pub fn with_stats(&self, stats: Arc<SqlStats>) -> Self {
        Self {
            stats: Some(stats),
            ..self.clone()
        }
    }

    /// A handle that counts into no request's statistics: for work a request leaves running
    /// after it has answered.
    pub fn detached(&self) -> Self {
        Self {
            stats: None,
            ..self.clone()
        }
    }

    /// A handle whose writes the audit log attributes to the account `actor` (the request's
    /// caller; `None` for anonymous callers and background work).
    pub fn acting_as(&self, actor: Option<i64>) -> Self {
        Self {
            actor,
            ..self.clone()
        }
    }

    /// A handle whose event payloads show money in `currency` (the store's).
    pub fn in_currency(self, currency: Currency) -> Self {
        Self { currency, ..self }
    }

    /// A handle that hands each call's notices to `hook`.
    pub fn on_notices(self, hook: NoticesHook) -> Self {
        Self {
            notices: Some(hook),
            ..self
        }
    }

    /// The store currency, for event payloads.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// Whom the audit log attributes this handle's writes to.
    pub fn actor(&self) -> Option<i64> {
        self.actor
    }

    /// Runs `work` with a pooled connection on a blocking thread, in the caller's tracing span.
    ///
    /// The connection is taken inside the blocking task and returned before this resolves, so no
    /// connection is ever held across an `.await`.
    pub async fn run<T, F>(&self, work: F) -> AppResult<T>
    where
        F: FnOnce(&mut DbConnection) -> AppResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let stats = self.stats.clone();
        let hook = self.notices.clone();
        let waiting = self.waiting.clone();
        crate::telemetry::spawn_blocking_in_span("db", move || {
            let mut conn = {
                let _waiting = Waiting::on(&waiting);
                pool.get()?
            };
            let _counting = stats::count_into(stats);
            notices::take();
            let result = work(&mut conn);
            if let Err(AppError::ServiceUnavailable(_)) = &result {
                connection::discard_after_use();
            }
            drop(conn);
            let told = notices::take();
            if let Some(hook) = hook.filter(|_| !told.is_empty()) {
                hook(told);
            }
            result
        })
        .await
    }

    /// Runs `work` synchronously on the current thread; for the CLI and start-up only.
    pub fn run_blocking<T>(
        &self,
        work: impl FnOnce(&mut DbConnection) -> AppResult<T>,
    ) -> AppResult<T> {
        let mut conn = self.pool.get()?;
        work(&mut conn)
    }
}

/// Runs `work` in a transaction that writes. On SQLite it begins with `BEGIN IMMEDIATE`, taking
/// the write lock up front: a deferred transaction that reads before it writes cannot upgrade
/// its lock while another writer holds it and fails at once ("database is locked"), where an
/// immediate one waits its turn (the busy timeout). On PostgreSQL it is a plain transaction;
/// correctness under concurrency comes from conditional updates and unique keys.
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    match conn {
        DbConnection::Sqlite(_) => transaction_begun_with(conn, "BEGIN IMMEDIATE", work),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => {
            use diesel::connection::Connection as _;
            conn.transaction(work)
        }
    }
}

/// How many transactions `conn` is in (0: none; 2: a savepoint in a transaction…).
pub fn transaction_depth(conn: &mut DbConnection) -> diesel::QueryResult<u32> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
    let depth = crate::on_backend!(&mut *conn, |concrete| {
        AnsiTransactionManager::transaction_manager_status_mut(concrete).transaction_depth()
    })?;
    Ok(depth.map_or(0, std::num::NonZeroU32::get))
}

/// Runs `work` in a transaction begun by the statement `begin` (`BEGIN IMMEDIATE`, `BEGIN
/// TRANSACTION ISOLATION LEVEL …`): committed when it returns `Ok`, rolled back otherwise. Not
/// nested: `conn` is in no transaction yet.
pub fn transaction_begun_with<T, E>(
    conn: &mut DbConnection,
    begin: &str,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager as _};
    crate::on_backend!(&mut *conn, |concrete| {
        AnsiTransactionManager::begin_transaction_sql(concrete, begin)
    })?;
    match work(conn) {
        Ok(value) => match crate::on_backend!(&mut *conn, |concrete| {
            AnsiTransactionManager::commit_transaction(concrete)
        }) {
            Ok(()) => Ok(value),
            Err(error) => {
                let _ = crate::on_backend!(&mut *conn, |concrete| {
                    AnsiTransactionManager::rollback_transaction(concrete)
                });
                Err(error.into())
            }
        },
        Err(error) => {
            crate::on_backend!(&mut *conn, |concrete| {
                AnsiTransactionManager::rollback_transaction(concrete)
            })?;
            Err(error)
        }
    }
}

/// The condition "`column` is one of a bound list of ids", for raw SQL run by
/// [`load_by_id_list!`]: the list is its first parameter (a JSON array on SQLite, an array on
/// PostgreSQL).
pub fn id_list_match(conn: &DbConnection, column: &str) -> String {
    match conn {
        DbConnection::Sqlite(_) => format!("{column} IN (SELECT value FROM json_each(?))"),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(_) => format!("{column} = ANY(?)"),
    }
}

/// Loads the rows of raw `$sql` (with `?` placeholders, the first a list of ids matched with
/// [`id_list_match`]) on either backend: `$ids` (a slice of `i64` or of an id newtype) is bound
/// first, then `$bind_rest`
/// adds the other parameters to `$query` in their order.
#[macro_export]
macro_rules! load_by_id_list {
    ($conn:expr, $sql:expr, $ids:expr, |$query:ident| $bind_rest:expr) => {{
        let ids = $ids;
        let sql: String = $sql;
        match $conn {
            $crate::db::DbConnection::Sqlite(sqlite) => {
                let json = serde_json::to_string(ids)
                    .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
                let $query = diesel::sql_query(sql)
                    .into_boxed()
                    .bind::<diesel::sql_types::Text, _>(json);
                $bind_rest.load(sqlite)
            }
            #[cfg(feature = "postgres")]
            $crate::db::DbConnection::Pg(pg) => {
                let $query = diesel::sql_query($crate::db::number_placeholders(&sql))
                    .into_boxed()
                    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(ids.to_vec());
                $bind_rest.load(pg)
            }
        }
    }};
}

/// PostgreSQL numbers its parameters: `?` → `$1`, `$2`, … (the SQL holds no string literal
/// with a `?`).
#[cfg(feature = "postgres")]
pub fn number_placeholders(sql: &str) -> String {
    let mut numbered = String::with_capacity(sql.len() + 16);
    let mut next = 0;
    for c in sql.chars() {
        if c == '?' {
            next += 1;
            numbered.push('$');
            numbered.push_str(&next.to_string());
        } else {
            numbered.push(c);
        }
    }
    numbered
}

/// Filters a boxed `$query` to rows whose `$column` is one of `$ids`: a plain `=` for a single id,
/// `= ANY(…)` (PostgreSQL) or `IN (…)` for several. PostgreSQL re-plans a prepared `= ANY($1)`
/// on every execution (its generic plan, costed for an array of unknown length, never wins),
/// while `= $1` soon runs on a cached generic plan: by-id lookups are the hottest statements.
#[macro_export]
macro_rules! filter_ids {
    ($query:expr, $column:expr, $ids:expr) => {
        match $ids {
            [id] => $query.filter($column.eq(*id)),
            ids => $query.filter($column.eq_any(ids)),
        }
    };
}

/// Filters a boxed `$query` to rows whose text `$column` matches `$pattern`, a `LIKE` pattern
/// whose literal `%`, `_` and `\` are escaped with backslashes (see
/// `domain::catalog::search_pattern`). PostgreSQL's `LIKE` escapes with a backslash by default,
/// and an explicit `ESCAPE` on a bound pattern would run `like_escape` on every row under a
/// generic plan; SQLite has no default escape character.
#[macro_export]
macro_rules! filter_like {
    ($query:expr, $conn:expr, $column:expr, $pattern:expr) => {{
        let matches = $column.like($pattern);
        match $conn {
            $crate::db::DbConnection::Sqlite(_) => $query.filter(matches.escape('\\')),
            #[cfg(feature = "postgres")]
            $crate::db::DbConnection::Pg(_) => $query.filter(matches),
        }
    }};
}

/// Orders a boxed `$query` newest first by its id `$column` and keeps the rows of `$window` (a
/// struct with `after`/`before` ids, `limit` and `from_end`): ids below `after`, above
/// `before`, nearest the end first when `from_end`.
#[macro_export]
macro_rules! newest_first_window {
    ($query:expr, $column:expr, $window:expr) => {{
        let window = $window;
        let mut query = $query;
        if let Some(after) = window.after {
            query = query.filter($column.lt(after));
        }
        if let Some(before) = window.before {
            query = query.filter($column.gt(before));
        }
        query = if window.from_end {
            query.order_by($column.asc())
        } else {
            query.order_by($column.desc())
        };
        query.limit(window.limit)
    }};
}

/// Adds the keyset bounds, order and limit of a [`RowWindow`](crate::domain::feeds::RowWindow)
/// over `$table` (a table with `id` and `change_position`) to a boxed `$query`. In change order
/// the bound `(change_position, id) > (p, i)` is written `change_position >= p AND
/// (change_position > p OR (change_position = p AND id > i))`: the same rows on both backends,
/// and the first conjunct lets the `(change_position, id)` index start at the cursor.
#[macro_export]
macro_rules! row_window {
    ($query:expr, $table:ident, $window:expr) => {{
        use $crate::domain::feeds::{RowKey, RowOrder};
        let window: &$crate::domain::feeds::RowWindow = $window;
        let mut query = $query;
        let descending = window.sort.descending;
        // `after` keeps larger keys in an ascending list, `before` smaller ones; descending
        // lists the other way round.
        for (key, larger) in [(window.after, !descending), (window.before, descending)] {
            query = match (key, larger) {
                (None, _) => query,
                (Some(RowKey::Id(id)), true) => query.filter($table::id.gt(id)),
                (Some(RowKey::Id(id)), false) => query.filter($table::id.lt(id)),
                (Some(RowKey::Change(position, id)), true) => {
                    query.filter($table::change_position.ge(position)).filter(
                        $table::change_position
                            .gt(position)
                            .or($table::change_position.eq(position).and($table::id.gt(id))),
                    )
                }
                (Some(RowKey::Change(position, id)), false) => {
                    query.filter($table::change_position.le(position)).filter(
                        $table::change_position
                            .lt(position)
                            .or($table::change_position.eq(position).and($table::id.lt(id))),
                    )
                }
            };
        }
        let reverse = descending != window.from_end;
        query = match (window.sort.order, reverse) {
            (RowOrder::Created, false) => query.order_by($table::id.asc()),
            (RowOrder::Created, true) => query.order_by($table::id.desc()),
            (RowOrder::Changed, false) => {
                query.order_by(($table::change_position.asc(), $table::id.asc()))
            }
            (RowOrder::Changed, true) => {
                query.order_by(($table::change_position.desc(), $table::id.desc()))
            }
        };
        query.limit(window.limit)
    }};
}

/// Evaluates `$body` with `$conn` bound to the concrete connection inside a [`DbConnection`], for
/// the few statements the combined backend cannot express (multi-row inserts, arrays).
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$concrete:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($concrete) => $body,
            #[cfg(feature = "postgres")]
            $crate::db::DbConnection::Pg($concrete) => $body,
        }
    };
}
