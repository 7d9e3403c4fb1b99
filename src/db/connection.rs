//! The connection type over both backends, chosen by URL scheme, and the r2d2 manager for it.

use std::fmt;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;

#[cfg(feature = "postgres")]
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;

use super::stats::StatementCounter;
use crate::config::PlanCacheMode;

/// A connection to either database; queries written with the portable diesel DSL run on both.
#[cfg(feature = "postgres")]
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// PostgreSQL, the production database.
    Pg(PgConnection),
    /// SQLite, bundled: the default.
    Sqlite(SqliteConnection),
}

/// A connection to the database (this build supports SQLite only).
#[cfg(not(feature = "postgres"))]
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// SQLite, bundled.
    Sqlite(SqliteConnection),
}

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

/// A parsed database URL. The scheme decides the backend; anything else is refused.
#[derive(Clone)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` or `sqlite:PATH`; the file is created if missing.
    Sqlite(String),
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
}

impl DatabaseUrl {
    /// Parses a URL, refusing unknown schemes and empty paths.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                anyhow::bail!("database URL {url:?} has no file path (try sqlite://bazaar.db)");
            }
            return Ok(Self::Sqlite(path.to_owned()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            if !cfg!(feature = "postgres") {
                anyhow::bail!(
                    "this build of Bazaar has no PostgreSQL support (feature `postgres`)"
                );
            }
            return Ok(Self::Postgres(url.to_owned()));
        }
        anyhow::bail!(
            "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
            redact(url)
        )
    }

    /// The backend this URL names.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{path}"),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Hides every password a connection string may carry: in a URL's user info
/// (`postgres://user:secret@host/db`), in its query (`?password=secret`), or as a key-value
/// setting (`host=db password='secret'`).
pub fn redact(url: &str) -> String {
    let without_user_info = match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    redact_password_settings(&without_user_info)
}

/// Replaces the value of every `password=` setting (any case, also `sslpassword=`) with `***`.
fn redact_password_settings(text: &str) -> String {
    const KEY: &str = "password=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    while let Some(found) = lower[rest..].find(KEY) {
        let value_start = rest + found + KEY.len();
        out.push_str(&text[rest..value_start]);
        out.push_str("***");
        let value = &text[value_start..];
        let value_len = match value.strip_prefix('\'') {
            Some(quoted) => quoted.find('\'').map_or(value.len(), |end| end + 2),
            None => value
                .find(|c: char| c == '&' || c.is_whitespace())
                .unwrap_or(value.len()),
        };
        rest = value_start + value_len;
    }
    out.push_str(&text[rest..]);
    out
}

/// Joins a multi-line driver message (libpq writes several) into one line.
pub(super) fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Opens connections by URL scheme. (diesel's derived `establish` would fall back to SQLite and
/// create a file named after a mistyped PostgreSQL URL.)
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ConnectionManager {
    /// A manager for `url`.
    pub fn new(url: DatabaseUrl) -> Self {
        Self { url }
    }

    /// Opens one connection, to report a wrong URL in one clear line, and switches a SQLite
    /// database to write-ahead logging (a setting stored in the file, so done once, before the
    /// pool opens connections side by side).
    pub fn check_reachable(&self) -> anyhow::Result<()> {
        use r2d2::ManageConnection as _;
        let mut conn = self.connect().map_err(|e| {
            anyhow::anyhow!(
                "cannot connect to {}: {}",
                self.url,
                one_line(&e.to_string())
            )
        })?;
        if let DbConnection::Sqlite(sqlite) = &mut conn {
            sqlite
                .batch_execute(&format!(
                    "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA journal_mode = WAL;"
                ))
                .map_err(|e| anyhow::anyhow!("cannot use {} as a database: {e}", self.url))?;
        }
        Ok(())
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => {
                SqliteConnection::establish(path).map(DbConnection::Sqlite)
            }
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(DbConnection::Pg),
            #[cfg(not(feature = "postgres"))]
            DatabaseUrl::Postgres(_) => Err(ConnectionError::BadConnection(
                "this build has no PostgreSQL support".into(),
            )),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.ping()
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        LAST_USE_FAILED.take() || conn.is_broken()
    }
}

thread_local! {
    /// Set when the connection in use on this thread failed in a way that may have left it dead
    /// (the server went away). Diesel cannot tell a dead PostgreSQL connection from a live one,
    /// so without this the pool would hand the dead one out again and again after the database
    /// comes back. Read (and cleared) when the connection goes back to the pool, on this thread.
    static LAST_USE_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the connection in use on this thread for replacement when it returns to the pool.
pub(super) fn discard_after_use() {
    LAST_USE_FAILED.set(true);
}

/// Prepares each new pooled connection: SQLite pragmas or PostgreSQL's plan cache mode, then the
/// statement counter.
#[derive(Debug)]
pub(super) struct Customizer {
    /// PostgreSQL's `plan_cache_mode` for the session.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) plan_cache_mode: PlanCacheMode,
    /// PostgreSQL's `statement_timeout` for the session, if any.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(super) statement_timeout: Option<std::time::Duration>,
}

/// How long a SQLite writer waits for the lock before failing.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

impl r2d2::CustomizeConnection<DbConnection, ConnectionError> for Customizer {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        match conn {
            DbConnection::Sqlite(sqlite) => sqlite.batch_execute(&format!(
                "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA foreign_keys = ON; \
                 PRAGMA synchronous = NORMAL;"
            )),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(pg) => pg.batch_execute(&format!(
                "SET plan_cache_mode = {}; SET statement_timeout = {}",
                self.plan_cache_mode.as_setting(),
                // Milliseconds; 0 turns the timeout off.
                self.statement_timeout.map_or(0, |t| t.as_millis())
            )),
        }
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
        conn.set_instrumentation(StatementCounter);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_chooses_the_backend() {
        assert!(
            matches!(DatabaseUrl::parse("sqlite://shop.db"), Ok(DatabaseUrl::Sqlite(p)) if p == "shop.db")
        );
        assert!(
            matches!(DatabaseUrl::parse("sqlite:///tmp/a.db"), Ok(DatabaseUrl::Sqlite(p)) if p == "/tmp/a.db")
        );
        assert!(DatabaseUrl::parse("mysql://localhost/shop").is_err());
        assert!(DatabaseUrl::parse("shop.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://bob:hunter2@db/shop"),
            "postgres://bob:***@db/shop"
        );
        assert_eq!(redact("postgres://bob@db/shop"), "postgres://bob@db/shop");
        assert_eq!(
            redact("postgres://bob@db/shop?sslmode=require&Password=hunter2&x=1"),
            "postgres://bob@db/shop?sslmode=require&Password=***&x=1"
        );
        assert_eq!(
            redact("host=db user=bob password='hunter 2' dbname=shop"),
            "host=db user=bob password=*** dbname=shop"
        );
        assert_eq!(
            redact("host=db sslpassword=hunter2"),
            "host=db sslpassword=***"
        );
        for leaked in [
            DatabaseUrl::parse("host=db password=hunter2")
                .unwrap_err()
                .to_string(),
            DatabaseUrl::parse("mysql://bob:hunter2@db/x?password=hunter2")
                .unwrap_err()
                .to_string(),
        ] {
            assert!(!leaked.contains("hunter2"), "{leaked}");
        }
    }
}
