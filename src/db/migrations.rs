//! Migrations embedded in the binary, one folder per backend, applied at start-up and by
//! `bazaar migrate`.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConnection;
use crate::error::{AppError, AppResult};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The PostgreSQL advisory lock that migrations are applied under ("bazaar" in ASCII): several
/// instances starting at once take turns, and the later ones find nothing left to do.
#[cfg(feature = "postgres")]
const MIGRATION_LOCK: i64 = 0x0000_6261_7a61_6172;

/// Applies every pending migration; returns the names of those applied. On PostgreSQL under an
/// advisory lock; on SQLite in one write transaction.
pub fn run_pending(conn: &mut DbConnection) -> AppResult<Vec<String>> {
    let failed = |e: Box<dyn std::error::Error + Send + Sync>| {
        AppError::internal(anyhow::anyhow!("migration failed: {e}"))
    };
    let names = |versions: Vec<diesel::migration::MigrationVersion<'_>>| -> Vec<String> {
        versions.iter().map(ToString::to_string).collect()
    };
    match conn {
        // One write transaction around them all: a second process waits, then finds none
        // pending (each migration's own transaction nests as a savepoint).
        DbConnection::Sqlite(_) => super::write_transaction(conn, |conn| match conn {
            DbConnection::Sqlite(sqlite) => Ok(names(
                sqlite.run_pending_migrations(SQLITE).map_err(failed)?,
            )),
            #[cfg(feature = "postgres")]
            DbConnection::Pg(_) => Ok(Vec::new()),
        }),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => {
            use diesel::RunQueryDsl as _;
            use diesel::sql_types::BigInt;
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK)
                .execute(pg)?;
            let applied = pg.run_pending_migrations(POSTGRES).map(names);
            diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK)
                .execute(pg)?;
            applied.map_err(failed)
        }
    }
}

/// The migrations not yet applied.
pub fn pending(conn: &mut DbConnection) -> AppResult<Vec<String>> {
    let pending = match conn {
        DbConnection::Sqlite(sqlite) => sqlite
            .pending_migrations(SQLITE)
            .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => pg
            .pending_migrations(POSTGRES)
            .map(|m| m.iter().map(|m| m.name().to_string()).collect()),
    };
    pending.map_err(|e| AppError::internal(anyhow::anyhow!("cannot read the migrations: {e}")))
}

/// The version of each migration of this binary, in order (`20261124000001`, …), on `backend`.
/// Both folders hold the same versions (a test checks), so a schema version means the same on
/// both.
pub fn versions(backend: super::Backend) -> Vec<String> {
    fn of<DB: diesel::backend::Backend>(
        source: &impl diesel::migration::MigrationSource<DB>,
    ) -> Vec<String> {
        // Embedded migrations are read from the binary: this cannot fail.
        let migrations = source.migrations().unwrap_or_default();
        let mut versions: Vec<String> = migrations
            .iter()
            .map(|m| m.name().version().to_string())
            .collect();
        versions.sort();
        versions
    }
    match backend {
        super::Backend::Sqlite => of::<diesel::sqlite::Sqlite>(&SQLITE),
        #[cfg(feature = "postgres")]
        super::Backend::Postgres => of::<diesel::pg::Pg>(&POSTGRES),
        #[cfg(not(feature = "postgres"))]
        super::Backend::Postgres => Vec::new(),
    }
}

/// The schema version of this binary: its latest migration's version.
pub fn latest_version() -> String {
    versions(super::Backend::Sqlite).pop().unwrap_or_default()
}

diesel::table! {
    /// diesel's record of the migrations applied.
    __diesel_schema_migrations (version) {
        version -> Text,
    }
}

/// The database's schema version: the latest migration applied to it, `None` if none was.
/// Reads diesel's table and creates nothing: it fails on a database that has none.
pub fn applied_version(conn: &mut DbConnection) -> AppResult<Option<String>> {
    use diesel::prelude::*;
    Ok(__diesel_schema_migrations::table
        .select(diesel::dsl::max(__diesel_schema_migrations::version))
        .first(conn)?)
}
