//! Migrations embedded in the binary, one folder per backend, applied at start-up and by
//! `bazaar migrate`.

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConnection;
use crate::error::{AppError, AppResult};

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Applies every pending migration; returns the names of those applied.
pub fn run_pending(conn: &mut DbConnection) -> AppResult<Vec<String>> {
    let applied = match conn {
        DbConnection::Sqlite(sqlite) => sqlite.run_pending_migrations(SQLITE),
        #[cfg(feature = "postgres")]
        DbConnection::Pg(pg) => pg.run_pending_migrations(POSTGRES),
    }
    .map_err(|e| AppError::internal(anyhow::anyhow!("migration failed: {e}")))?;
    Ok(applied
        .into_iter()
        .map(|version| version.to_string())
        .collect())
}
